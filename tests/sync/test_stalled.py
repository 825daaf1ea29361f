"""A run whose worker died is never a dead end: the job claims its run, a heartbeat shows it alive, and
a run silent for STALL_SECONDS (or whose holder died on this host) is queued again by the scheduler and
carried on from its cursors; the settings page says it is stalled and offers Resume; real-time events a
dead drain left are drained again; `flask --app wsgi sync first` on a finished run exits 0.

The death of real processes (SIGKILL of RQ workers, of the served threaded app) is in
test_worker_death.py; here the dead worker is a run row as such a death leaves it."""
import socket
import subprocess
import sys
import time
from datetime import timedelta

from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.extensions import db
from widget.models import Cursor, InboxEvent, StreamLease, SyncRun, utcnow
from widget.sandbox.crm.signing import mint_context
from widget.sync import engine, queue, runs
from widget.sync.scheduler import tick

GONE = "a-host-that-died:4242:1"  # a holder on another host: only its silence tells it is gone


def _zendesk_tickets(s, count):
    zendesk = s.account()
    requester = next(u for u in zendesk.users.values() if u["role"] == "end-user")
    for n in range(count):
        zendesk.create_ticket({"subject": f"Order {n} arrived damaged", "requester_id": requester["id"]},
                              {"body": "The box was crushed."}, requester["id"])
    s.zendesk.state.clock.advance(61)  # the export leaves out the last minute


def _abandoned_run(s, silent_for, holder=GONE):
    """A first sync as a worker leaves it when it dies mid-run: `running`, its holder, its last heartbeat."""
    run = runs.start_first_sync(s.installation())
    run.status, run.holder = "running", holder
    run.heartbeat_at = utcnow() - timedelta(seconds=silent_for)
    db.session.commit()
    return run


def _progress_in_japanese(s):
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id,
                                                dict(ADMIN, locale="ja_JP"))}
    answer = s.app.test_client().get("/settings/sync/progress", headers=headers)
    return BeautifulSoup(answer.get_data(as_text=True), "html.parser")


def _wait_for_jobs(app):
    pool = app.extensions.get("sync_pool")
    deadline = time.monotonic() + 60
    while pool is not None and any(pool.waiting.values()) and time.monotonic() < deadline:
        time.sleep(0.05)


def _crm_tickets(s):
    module = s.installation().crm_modules["tickets"]
    return list(s.crm_org().modules[module].records.values())


def test_a_run_is_claimed_by_one_job_and_taken_over_only_once_its_worker_is_silent(synced_installation):
    s = synced_installation
    run = _abandoned_run(s, silent_for=engine.STALL_SECONDS - 10)
    assert not runs.claim_run(run.id, "me:1:1")  # its worker beat 20 s ago: alive
    assert runs.stalled_runs() == []

    run.heartbeat_at = utcnow() - timedelta(seconds=engine.STALL_SECONDS + 1)
    db.session.commit()
    assert [r.id for r in runs.stalled_runs()] == [run.id]
    assert runs.claim_run(run.id, "me:1:1")
    assert not runs.claim_run(run.id, "another:1:1")  # claimed: the second job leaves it
    db.session.refresh(run)
    assert (run.status, run.holder) == ("running", "me:1:1")


def test_a_holder_that_died_on_this_host_is_taken_over_at_once(synced_installation):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{socket.gethostname()}:{finished.stdout.strip()}:1"  # a process of this host, gone (and reaped) now
    run = _abandoned_run(synced_installation, silent_for=1, holder=dead)
    assert [r.id for r in runs.stalled_runs()] == [run.id]
    assert runs.claim_run(run.id, "me:1:1")


def test_the_scheduler_resumes_a_first_sync_whose_worker_died_and_it_ends_exact(synced_installation):
    s = synced_installation
    _zendesk_tickets(s, 12)
    run = _abandoned_run(s, silent_for=engine.STALL_SECONDS + 5)
    # The dead worker held the tickets stream; its lease lapses with it.
    db.session.add(StreamLease(installation_id=s.installation_id, stream="zendesk_tickets", holder=GONE,
                               expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert run.status == "done", run.message
    assert run.holder is None and run.counts["zendesk_tickets"]["written"] == 12
    assert sorted(int(r["Ticket_ID"]) for r in _crm_tickets(s)) == sorted(s.account().tickets)
    assert s.settings().first_sync_done_at is not None


def test_the_scheduler_leaves_a_run_whose_worker_is_alive(synced_installation):
    s = synced_installation
    _zendesk_tickets(s, 2)
    run = _abandoned_run(s, silent_for=2)
    s.zendesk_calls.reset()
    tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert (run.status, run.holder) == ("running", GONE)
    assert s.zendesk_calls.count(fragment="/incremental/") == 0


def test_a_queued_job_already_waiting_is_not_queued_twice(synced_installation):
    s = synced_installation
    run = runs.start_first_sync(s.installation())
    pool = queue._threads(s.app)
    timer = pool.submit_later(60, runs.JOBS["first"], (s.installation_id, run.id))  # waiting its turn
    try:
        assert pool.has(runs.JOBS["first"], (s.installation_id, run.id))
        assert queue.resume(runs.JOBS["first"], s.installation_id, run.id) is None
    finally:
        timer.cancel()


def test_the_settings_page_says_a_sync_stalled_and_resume_carries_it_on(synced_installation):
    s = synced_installation
    _zendesk_tickets(s, 3)
    run = _abandoned_run(s, silent_for=engine.STALL_SECONDS + 5)
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, ADMIN),
               "HX-Request": "true"}
    client = s.app.test_client()

    page = BeautifulSoup(client.get("/settings/sync/progress", headers=headers).get_data(as_text=True), "html.parser")
    assert "Resuming from where it was" in page.select_one("#sync-stalled").get_text()
    assert page.select_one("#sync-settings")["hx-trigger"] == "every 1s"  # keeps polling: it will move on
    token = page.select_one("#sync-resume").find_parent("form").select_one("input[name=csrf_token]")["value"]

    client.post("/settings/sync/resume", data={"csrf_token": token}, headers=headers)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert run.status == "done", run.message
    page = BeautifulSoup(client.get("/settings/sync/progress", headers=headers).get_data(as_text=True), "html.parser")
    assert page.select_one("#sync-stalled") is None and "Sync finished." in page.get_text()


def test_the_stalled_message_is_in_japanese(synced_installation):
    s = synced_installation
    _abandoned_run(s, silent_for=engine.STALL_SECONDS + 5)
    page = _progress_in_japanese(s)
    assert "中断したところから再開しています" in page.select_one("#sync-stalled").get_text()
    assert page.select_one("#sync-resume").get_text() == "再開"


def test_events_a_dead_drain_left_are_drained_again(synced_installation):
    s = synced_installation
    settings = s.settings()
    settings.first_sync_done_at = utcnow()
    dead_run = SyncRun(installation_id=s.installation_id, kind="realtime", status="running",
                       heartbeat_at=utcnow() - timedelta(seconds=engine.STALL_SECONDS + 5))
    db.session.add(dead_run)
    event = InboxEvent(installation_id=s.installation_id, source="zendesk", delivery_id="d-1", object_kind="ticket",
                       object_id="1", payload={"type": "zen:event-type:ticket.priority_changed", "detail": {"id": "1"}},
                       received_at=utcnow() - timedelta(seconds=engine.STALL_SECONDS + 5))
    db.session.add(event)
    db.session.commit()

    assert ("widget.sync.inbox.drain", s.installation_id, None) in tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(dead_run)
    db.session.refresh(event)
    assert dead_run.status == "failed" and "applied again" in dead_run.message
    assert event.status != "new"


def test_sync_first_on_a_finished_run_says_so_and_exits_0(synced_installation):
    s = synced_installation
    _zendesk_tickets(s, 1)
    runner = s.app.test_cli_runner()
    first = runner.invoke(args=["sync", "first", s.installation().org_id])
    assert first.exit_code == 0, first.output
    assert '"status": "done"' in first.output

    again = runner.invoke(args=["sync", "first", s.installation().org_id])  # a supervisor starting it again
    assert again.exit_code == 0, again.output
    assert "already done" in again.output
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun).filter_by(kind="first")) == 1


def test_an_unexpected_error_ends_the_run_failed_and_logged_never_running(synced_installation, caplog):
    """The job stores its message in English (it runs outside any request); the panel shows it in the
    admin's language."""
    s = synced_installation
    db.session.add(Cursor(installation_id=s.installation_id, stream="zendesk_comments", value="not a time"))
    db.session.commit()
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    db.session.refresh(run)
    assert (run.status, run.holder) == ("failed", None)
    assert run.message.startswith("Stopped on an unexpected error")
    assert any("stopped on an unexpected error" in r.getMessage() and r.exc_info for r in caplog.records)
    with s.app.app_context():
        page = _progress_in_japanese(s)
    assert page.select_one("#sync-stopped").get_text().startswith("予期しないエラーで停止しました")


def test_a_catch_up_whose_worker_died_is_resumed_too(synced_installation):
    s = synced_installation
    settings = s.settings()
    settings.first_sync_done_at, settings.auto_sync = utcnow(), False  # only the resumed run catches up
    _zendesk_tickets(s, 4)
    run = SyncRun(installation_id=s.installation_id, kind="catchup", status="running", holder=GONE,
                  heartbeat_at=utcnow() - timedelta(seconds=engine.STALL_SECONDS + 5))
    db.session.add(run)
    db.session.commit()
    tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert run.status == "done", run.message
    assert run.counts["zendesk_tickets"]["written"] == 4, run.counts


def test_a_queued_run_whose_job_was_lost_with_its_process_starts_after_all(synced_installation):
    """SYNC_QUEUE=thread keeps waiting jobs in the process's memory: a process that died took them along."""
    s = synced_installation
    _zendesk_tickets(s, 2)
    run = runs.start_first_sync(s.installation())  # queued; its job is gone
    tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert run.status == "queued"  # waited less than STALL_SECONDS: maybe just behind other jobs

    run.heartbeat_at = utcnow() - timedelta(seconds=engine.STALL_SECONDS + 1)
    db.session.commit()
    tick(s.app)
    _wait_for_jobs(s.app)
    db.session.refresh(run)
    assert run.status == "done", run.message


def test_sync_first_leaves_a_run_a_live_worker_holds_and_says_where(synced_installation):
    s = synced_installation
    run = _abandoned_run(s, silent_for=1)  # its worker beat a second ago
    answer = s.app.test_cli_runner().invoke(args=["sync", "first", s.installation().org_id])
    assert answer.exit_code == 0, answer.output
    assert f"running in another process ({GONE})" in answer.output
    db.session.refresh(run)
    assert (run.status, run.holder) == ("running", GONE)
