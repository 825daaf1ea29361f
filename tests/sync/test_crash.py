"""Crash safety of the first sync: cursors commit only after their page is written, so a process killed
at any moment (SIGKILL: no clean-up at all) and started again ends with exactly the right records in the
CRM, none missing and none twice; and injected 5xx and 429 answers on both sides change nothing either.

The restarted process takes over the dead process's stream lease at once (engine.acquire_lease: a holder
on this host whose process is gone), instead of waiting LEASE_SECONDS for it to expire."""
import os
import signal
import time

import pytest

from tests.sync.sync_process import prepared
from widget.extensions import db
from widget.models import Installation, SyncRun
from widget.bench import first_sync as bench
from widget.sync.runs import first_sync_job, start_first_sync

TICKETS = 20_000


def kill_when(process, condition, timeout=300):
    """SIGKILL `process` as soon as `condition()` holds (it must still be running then)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the sync ended before it could be killed"
        assert time.monotonic() < deadline, "the sync made no progress"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def assert_exact(run, tickets_expected):
    """Every Zendesk ticket and comment in the CRM exactly once, each comment looked up to a ticket record."""
    account, tickets, comments = run.zendesk_account(), run.crm_records("tickets"), run.crm_records("comments")
    assert len(tickets) == len(account.tickets) == tickets_expected
    assert {int(r["Ticket_ID"]) for r in tickets} == set(account.tickets)
    expected_comments = {c["id"] for cs in account.comments.values() for c in cs}
    assert len(comments) == len(expected_comments)
    assert {int(r["Comment_ID"]) for r in comments} == expected_comments
    ticket_records = {r["id"] for r in tickets}
    assert all(r["Zendesk_Ticket"]["id"] in ticket_records for r in comments)


@pytest.mark.slow
def test_sigkill_during_a_first_sync_of_20000_tickets_then_a_restart_ends_exact(tmp_path):
    with prepared(tmp_path, TICKETS) as run:
        # Killed once while tickets are being written, once while comments are.
        first = run.start_sync()
        kill_when(first, lambda: len(run.crm_records("tickets")) > 5_000)
        assert 5_000 < len(run.crm_records("tickets")) < TICKETS

        second = run.start_sync()
        kill_when(second, lambda: len(run.crm_records("comments")) > 10_000)
        written = len(run.crm_records("comments"))
        assert len(run.crm_records("tickets")) == TICKETS
        assert 10_000 < written < 2 * TICKETS

        answer, _ = run.sync()
        assert answer["status"] == "done", answer
        assert_exact(run, TICKETS)
        with run.app.app_context():
            runs = db.session.scalars(db.select(SyncRun)).all()
            assert [r.status for r in runs] == ["done"]  # the one run, resumed twice


def test_injected_5xx_and_429_on_both_sides_still_end_exact(tmp_path):
    with prepared(tmp_path, 2_000) as run:
        run.bench.zendesk.state.faults.update(error_rate=0.05, rate_limit_rate=0.05)
        run.bench.crm.state.faults.update(error_rate=0.05, rate_limit_rate=0.05)
        account = run.zendesk_account()
        minimal = bench.minimal_calls(len(account.tickets), len(account.ticket_events),
                                      sum(len(c) for c in account.comments.values()))
        run.bench.zendesk_calls.reset()
        run.bench.crm_calls.reset()
        with run.app.app_context():
            installation = db.session.get(Installation, run.installation_id)
            sync_run = start_first_sync(installation)
            for _ in range(5):  # a run that still fails after its retries is started again, as a worker would
                first_sync_job(installation.id, sync_run.id)
                db.session.refresh(sync_run)
                if sync_run.status == "done":
                    break
                sync_run.status = "queued"
                db.session.commit()
            assert sync_run.status == "done", sync_run.message
        assert run.bench.zendesk_calls.total() + run.bench.crm_calls.total() > minimal  # faults hit, calls retried
        assert_exact(run, 2_000)
