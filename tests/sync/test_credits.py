"""The CRM's daily API credits: the sync pauses cleanly before running out, says so to the admin, and
carries on by itself from its cursors once credits renew — ending exact."""
from datetime import timedelta

from tests.sync.test_people import seed
from widget.extensions import db
from widget.models import SyncRun, utcnow
from widget.sync import runs
from widget.sync.scheduler import tick


def test_the_sync_pauses_before_the_credits_run_out_and_resumes_after(synced_installation):
    s = synced_installation
    s.app.config["SYNC_QUEUE"] = "thread"
    org = s.crm_org()
    seed(s, accounts=30, contacts=600, leads=0)  # several CRM pages of work for the first sync
    # Leave 503 credits: the CRM reports them (X-API-CREDITS-REMAINING) and the reserve is 500.
    org.spend_credits(org.daily_credits() - org.credits_used() - 503)

    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    db.session.refresh(run)
    settings = s.settings()
    assert run.status == "paused", run.message
    assert "credits are nearly used up" in settings.paused_reason
    assert 0 < org.daily_credits() - org.credits_used() < 503  # stopped early: credits are left for others
    assert settings.crm_credits_remaining is not None and settings.crm_credits_remaining < 500
    users_before = sum(1 for u in s.account().users.values() if (u.get("external_id") or "").startswith("zcrm:"))
    assert users_before < 600

    # The rolling window moves on; the scheduler lifts the pause and the first sync carries on.
    s.crm.state.clock.advance(25 * 3600)
    settings.paused_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    enqueued = tick(s.app)
    assert ("widget.sync.runs.first_sync_job", s.installation_id, run.id) in enqueued
    s.app.extensions["sync_pool"].shutdown(wait=True)
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.status == "done", run.message
    synced = [u for u in s.account().users.values() if (u.get("external_id") or "").startswith("zcrm:Contacts:")]
    assert len(synced) == 600 and len({u["external_id"] for u in synced}) == 600
    assert s.settings().paused_reason is None
