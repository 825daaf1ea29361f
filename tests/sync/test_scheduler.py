"""Auto sync on a timer (F9): catch-ups once an interval per installation whichever process ticks,
channel renewal before expiry, unfinished uninstalls retried; nothing when auto sync is off."""
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest

from tests.helpers import REDIS_URL
from widget import create_app
from widget.extensions import db
from widget.models import Installation, SyncRun, utcnow
from widget.sync import engine
from widget.sync.rq_backend import sync_queue
from widget.sync.scheduler import Scheduler, tick

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def rq_app(tmp_path):
    """An app whose jobs go to a Redis queue of its own, so a tick's jobs can be read, not run."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'tick.db'}",
                      "SYNC_QUEUE": "rq", "REDIS_URL": REDIS_URL, "SYNC_RQ_QUEUE": f"test-tick-{uuid.uuid4().hex[:8]}",
                      "AUTO_SYNC_INTERVAL": 300})
    with app.app_context():
        db.create_all()
        yield app
        queue = sync_queue(app)
        queue.empty()
        redis = app.extensions["sync_redis"]
        for key in redis.keys(f"rq:*{queue.name}*"):
            redis.delete(key)
        redis.close()
        db.engine.dispose()


def _installation(org_id, auto_sync=True, first_done=True, status="installed", channel_expires=None):
    row = Installation(org_id=org_id, data_center="jp", status=status, crm_channel_expires_at=channel_expires)
    db.session.add(row)
    db.session.commit()
    settings = engine.sync_settings(row)
    settings.auto_sync, settings.first_sync_done_at = auto_sync, utcnow() if first_done else None
    db.session.commit()
    return row


def _queued(app):
    return sorted((job.args[0], job.args[1:]) for job in sync_queue(app).jobs)


@pytest.mark.redis
def test_a_tick_enqueues_each_due_job_once_an_interval(rq_app):
    on = _installation("on")
    _installation("off", auto_sync=False)
    _installation("not-yet", first_done=False)
    expiring = _installation("expiring", auto_sync=False, channel_expires=utcnow() + timedelta(hours=12))
    _installation("fresh-channel", auto_sync=False, channel_expires=utcnow() + timedelta(days=5))
    _installation("leaving", status="uninstalling")

    tick(rq_app, "host-a:1")
    assert _queued(rq_app) == sorted([
        ("widget.lifecycle.uninstall.retry_uninstalls", ()),
        ("widget.sync.runs.catchup_job", (on.id,)),
        ("widget.sync.scheduler.renew_channel", (expiring.id,)),
    ])
    tick(rq_app, "host-a:1")  # the same process again
    tick(rq_app, "host-b:2")  # and another one
    queued = [name for name, _ in _queued(rq_app)]
    assert queued.count("widget.sync.runs.catchup_job") == 1
    assert queued.count("widget.sync.scheduler.renew_channel") == 1


@pytest.mark.redis
def test_after_the_interval_the_next_catch_up_is_due(rq_app):
    on = _installation("on")
    tick(rq_app)
    lease = db.session.scalar(db.select(engine.StreamLease).filter_by(installation_id=on.id, stream="autosync"))
    lease.expires_at = utcnow() - timedelta(seconds=1)  # AUTO_SYNC_INTERVAL has passed
    db.session.commit()
    tick(rq_app)
    assert [name for name, _ in _queued(rq_app)].count("widget.sync.runs.catchup_job") == 2


@pytest.mark.redis
def test_a_paused_installation_is_not_synced(rq_app):
    paused = _installation("paused")
    engine.sync_settings(paused).paused_reason = "Access was refused. An administrator must re-authorize."
    db.session.commit()
    tick(rq_app)
    assert _queued(rq_app) == []


def test_the_scheduler_thread_runs_catch_ups_against_the_sandboxes(synced_installation):
    s = synced_installation
    app = s.app
    app.config["AUTO_SYNC_INTERVAL"] = 1
    settings = s.settings()
    settings.first_sync_done_at = utcnow()
    db.session.commit()
    scheduler = Scheduler(app, period=0.3).start()
    try:
        deadline = time.time() + 30
        done = []
        while time.time() < deadline and len(done) < 2:
            time.sleep(0.3)
            db.session.expire_all()
            done = db.session.scalars(db.select(SyncRun).filter_by(kind="catchup", status="done")).all()
    finally:
        scheduler.stop()
    assert len(done) >= 2, [(r.status, r.message) for r in db.session.scalars(db.select(SyncRun))]


@pytest.mark.redis
def test_uninstall_cancels_the_installations_queued_jobs(rq_app):
    from widget.sync import queue
    from widget.sync.jobs import stop_installation_jobs

    leaving, staying = _installation("leaving"), _installation("staying")
    for installation in (leaving, staying, leaving):
        queue.enqueue("widget.sync.runs.catchup_job", installation.id)
    assert stop_installation_jobs(leaving) == 2
    assert _queued(rq_app) == [("widget.sync.runs.catchup_job", (staying.id,))]


@pytest.mark.redis
def test_uninstall_retries_and_credit_resumes_happen_once_whoever_ticks(rq_app):
    leaving = _installation("leaving", status="uninstalling")
    paused = _installation("paused", auto_sync=False, first_done=False)
    settings = engine.sync_settings(paused)
    settings.paused_reason, settings.paused_until = "credits", utcnow() - timedelta(seconds=1)
    run = SyncRun(installation_id=paused.id, kind="first", mode="bulk", status="paused")
    db.session.add(run)
    db.session.commit()

    first = tick(rq_app, "host-a:1")
    tick(rq_app, "host-b:2")  # another process, at the same time
    assert set(first) == {("widget.lifecycle.uninstall.retry_uninstalls", None, None),
                          ("widget.sync.runs.first_sync_job", paused.id, run.id),
                          ("widget.sync.inbox.drain", paused.id, None)}  # real-time events waited too
    assert _queued(rq_app) == sorted([("widget.lifecycle.uninstall.retry_uninstalls", ()),
                                      ("widget.sync.runs.first_sync_job", (paused.id, run.id)),
                                      ("widget.sync.inbox.drain", (paused.id,))])
    db.session.expire_all()
    assert db.session.get(SyncRun, run.id).status == "queued"
    assert engine.sync_settings(paused).paused_reason is None
    assert leaving.status == "uninstalling"


@pytest.mark.redis
def test_a_refused_grant_pause_waits_for_the_admin(rq_app):
    paused = _installation("refused")
    settings = engine.sync_settings(paused)
    settings.paused_reason = "Access was refused (invalid_token). An administrator must re-authorize."
    db.session.commit()
    tick(rq_app)
    assert _queued(rq_app) == []
    assert engine.sync_settings(paused).paused_reason is not None


def _threads_after_import(tmp_path, *command, **env):
    script = "import threading, wsgi; print(sorted(t.name for t in threading.enumerate()))"
    environ = {name: value for name, value in os.environ.items() if name not in ("SYNC_QUEUE", "SCHEDULER_ENABLED")}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'wsgi.db'}", **env)
    out = subprocess.run([sys.executable, *command, script], cwd=ROOT, env=environ, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_served_app_runs_the_scheduler_in_thread_mode_only(tmp_path):
    assert "sync-scheduler" in _threads_after_import(tmp_path, "-c")  # as gunicorn imports wsgi.py
    assert "sync-scheduler" not in _threads_after_import(tmp_path, "-c", SYNC_QUEUE="rq")
    assert "sync-scheduler" not in _threads_after_import(tmp_path, "-c", SCHEDULER_ENABLED="0")


def test_a_channel_near_its_expiry_is_renewed_in_the_crm(synced_installation):
    s = synced_installation
    s.app.config["SYNC_QUEUE"] = "thread"
    installation = s.installation()
    channel_id = installation.crm_channel_id
    org = s.crm_org()
    org.channels[channel_id]["channel_expiry"] = org.now() + 3600  # an hour left, in the CRM too
    installation.crm_channel_expires_at = utcnow() + timedelta(hours=1)
    db.session.commit()

    assert ("widget.sync.scheduler.renew_channel", installation.id, None) in tick(s.app)
    s.app.extensions["sync_pool"].shutdown(wait=True)
    db.session.expire_all()
    renewed = s.installation().crm_channel_expires_at
    assert renewed.replace(tzinfo=None) > (utcnow() + timedelta(days=6)).replace(tzinfo=None)
    assert org.channels[channel_id]["channel_expiry"] > org.now() + 6 * 86400  # the CRM's own expiry moved
    assert ("widget.sync.scheduler.renew_channel", installation.id, None) not in tick(s.app)  # not due now
