"""Where sync jobs run: the thread queue (jobs in the app context, delayed jobs, uninstall dropping the
installation's waiting jobs), the same drop on RQ (queued and delayed jobs), and a running first sync
stopping at its next page once the installation is uninstalling."""
import threading
import time
import uuid

import pytest
from flask import current_app

from tests.helpers import REDIS_URL
from widget import create_app
from widget.extensions import db
from widget.models import Installation, SyncRun
from widget.sync import engine, queue, runs
from widget.sync.jobs import stop_installation_jobs
from widget.sync.rq_backend import sync_queue

RAN = []  # (installation id, app name) per job run, in order
GATE = threading.Event()


def record(installation_id):
    RAN.append((installation_id, current_app.config["PROBE_NAME"]))


def wait_at_gate(installation_id):
    GATE.wait(10)
    record(installation_id)


def _app(tmp_path, **config):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'queue.db'}",
                      "PROBE_NAME": "probe", **config})
    with app.app_context():
        db.create_all()
    return app


def _installations(*org_ids):
    rows = [Installation(org_id=org_id, data_center="jp") for org_id in org_ids]
    db.session.add_all(rows)
    db.session.commit()
    return rows


@pytest.fixture
def thread_app(tmp_path):
    RAN.clear()
    GATE.clear()
    app = _app(tmp_path)
    with app.app_context():
        yield app
        GATE.set()
        pool = app.extensions.get("sync_pool")
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        db.engine.dispose()


def test_thread_jobs_run_in_the_app_context_now_or_later(thread_app):
    queue.enqueue("tests.sync.test_queue.record", 1).result(timeout=10)
    assert RAN == [(1, "probe")]
    started = time.monotonic()
    queue.enqueue_later(0.3, "tests.sync.test_queue.record", 2)
    deadline = time.monotonic() + 10
    while len(RAN) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert RAN == [(1, "probe"), (2, "probe")]
    assert time.monotonic() - started >= 0.3


def test_uninstall_drops_the_installations_waiting_thread_jobs(thread_app):
    leaving, staying = _installations("leaving", "staying")
    busy = [queue.enqueue("tests.sync.test_queue.wait_at_gate", 0) for _ in range(queue.THREAD_WORKERS)]
    for installation in (leaving, staying, leaving):
        queue.enqueue("tests.sync.test_queue.record", installation.id)
    delayed = queue.enqueue_later(0.2, "tests.sync.test_queue.record", leaving.id)  # a delayed retry, too

    assert stop_installation_jobs(leaving) == 3
    GATE.set()
    for future in busy:
        future.result(timeout=10)
    delayed.join(10)  # the delayed job's timer is over: fired, or cancelled without firing
    thread_app.extensions["sync_pool"].shutdown(wait=True)
    assert sorted(installation_id for installation_id, _ in RAN) == [0] * queue.THREAD_WORKERS + [staying.id]
    assert stop_installation_jobs(leaving) == 0  # nothing left to drop


@pytest.fixture
def rq_app(tmp_path):
    app = _app(tmp_path, SYNC_QUEUE="rq", REDIS_URL=REDIS_URL, SYNC_RQ_QUEUE=f"test-queue-{uuid.uuid4().hex[:8]}")
    with app.app_context():
        yield app
        redis = app.extensions["sync_redis"]
        rq_queue = sync_queue(app)
        for key in redis.keys(f"rq:*{rq_queue.name}*"):
            redis.delete(key)
        rq_queue.empty()
        redis.close()
        db.engine.dispose()


@pytest.mark.redis
def test_uninstall_drops_the_installations_queued_and_delayed_rq_jobs(rq_app):
    leaving, staying = _installations("leaving", "staying")
    for installation in (leaving, staying, leaving):
        queue.enqueue("tests.sync.test_queue.record", installation.id)
    queue.enqueue_later(60, "tests.sync.test_queue.record", leaving.id)
    queue.enqueue_later(60, "tests.sync.test_queue.record", staying.id)

    assert stop_installation_jobs(leaving) == 3
    rq_queue = sync_queue(rq_app)
    assert [job.args for job in rq_queue.jobs] == [("tests.sync.test_queue.record", staying.id)]
    delayed = rq_queue.scheduled_job_registry.get_job_ids()
    assert [rq_queue.fetch_job(job_id).args for job_id in delayed] == [("tests.sync.test_queue.record", staying.id)]


def test_a_running_first_sync_stops_at_its_next_page_when_uninstalling(synced_installation):
    """The stop takes effect between pages, whichever worker runs the job: check_running reads the status."""
    s = synced_installation
    s.crm_insert("Accounts", [{"Account_Name": f"Slow {n}"} for n in range(450)])  # several CRM pages
    s.crm.state.faults["latency"] = 0.2  # the CRM answers slowly, so pages are still to come when we stop
    run = runs.start_first_sync(s.installation())
    job = queue.enqueue("widget.sync.runs.first_sync_job", s.installation_id, run.id)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(SyncRun, run.id).counts:  # the first page is in
            break
        time.sleep(0.05)
    installation = s.installation()
    installation.status = "uninstalling"
    db.session.commit()
    job.result(timeout=30)
    s.crm.state.faults["latency"] = 0
    s.app.extensions["sync_pool"].shutdown(wait=True)
    db.session.expire_all()
    stopped = db.session.get(SyncRun, run.id)
    assert stopped.status == "failed" and "uninstalled" in stopped.message
    assert stopped.counts["crm_accounts"]["read"] < 450 + 3  # it did not read on to the end


def test_a_first_sync_whose_stream_runs_elsewhere_waits_and_then_runs(synced_installation, monkeypatch):
    """Decided: a job that finds its stream's lease held is queued again shortly (never dropped)."""
    s = synced_installation
    monkeypatch.setattr(runs, "LEASE_RETRY_SECONDS", 0.3)
    other = "other-host:4242:1"  # a worker on another host holds the first stream
    assert engine.acquire_lease(s.installation_id, "crm_accounts", other, seconds=60)
    run = runs.start_first_sync(s.installation())
    queue.enqueue("widget.sync.runs.first_sync_job", s.installation_id, run.id).result(timeout=30)
    db.session.expire_all()
    waiting = db.session.get(SyncRun, run.id)
    assert waiting.status == "queued" and "another worker" in waiting.message

    engine.release_lease(s.installation_id, "crm_accounts", other)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(SyncRun, run.id).status not in runs.ACTIVE:
            break
        time.sleep(0.1)
    done = db.session.get(SyncRun, run.id)
    assert done.status == "done", done.message
    assert s.settings().bulk_done_at is not None
    s.app.extensions["sync_pool"].shutdown(wait=True)  # the real-time drain the end of a first sync starts


def test_a_job_already_queued_and_not_started_is_not_queued_again(thread_app):
    """A burst of webhook deliveries queues one drain while one waits, not one per delivery; once it has
    started, the next call queues another (the running one may have read the inbox already)."""
    busy = [queue.enqueue("tests.sync.test_queue.wait_at_gate", 0) for _ in range(queue.THREAD_WORKERS)]
    first = queue.enqueue_unless_waiting("tests.sync.test_queue.record", 7)
    assert first is not None
    assert [queue.enqueue_unless_waiting("tests.sync.test_queue.record", 7) for _ in range(5)] == [None] * 5
    other = queue.enqueue_unless_waiting("tests.sync.test_queue.record", 8)  # another installation's
    GATE.set()
    for future in busy + [first, other]:
        future.result(timeout=10)
    again = queue.enqueue_unless_waiting("tests.sync.test_queue.record", 7)
    assert again is not None
    again.result(timeout=10)
    assert sorted(installation_id for installation_id, _ in RAN) == [0] * queue.THREAD_WORKERS + [7, 7, 8]
