"""A first sync survives the death of the process running it, in both deployments, with nothing but the
product's own processes to recover it:

- SYNC_QUEUE=rq on real PostgreSQL and Redis, two `flask --app wsgi worker` and one
  `flask --app wsgi scheduler`: the worker running the sync is SIGKILLed at random moments, several
  times, and a replacement started each time (as a supervisor would);
- SYNC_QUEUE=thread, the extension served by gunicorn with its own scheduler: the whole server is
  SIGKILLed mid-sync and started again, twice.

Each time the run ends `done` by itself within two minutes of the last kill, and exact: every ticket and
comment in the CRM once (cursors commit after their page; runs.py takes the run over from them)."""
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from bs4 import BeautifulSoup
from redis import Redis
from rq.registry import FailedJobRegistry

from tests.helpers import ADMIN, REDIS_URL
from tests.sync.sync_process import ORG_ID, ROOT, prepared
from tests.sync.test_crash import assert_exact
from tests.webhooks.served import GunicornServer
from widget.extensions import db
from widget.models import Installation, SyncRun
from widget.sandbox.serving import free_port
from widget.sandbox.crm.signing import mint_context
from widget.sync import queue, runs
from widget.sync.rq_backend import redis_connection

TICKETS = 3_000
RECOVERY = 120  # seconds from the last kill to `done`


def _flask(env, *command, log=subprocess.DEVNULL):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=ROOT, env=env,
                            stdout=log, stderr=log, start_new_session=True)


def _run(app, installation_id):
    with app.app_context():
        run = db.session.scalar(db.select(SyncRun).filter_by(installation_id=installation_id, kind="first"))
        db.session.expunge(run)
        db.session.remove()
        return run


def _written(run):
    return len(run.crm_records("tickets")) + len(run.crm_records("comments"))


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def _working_pid(prepared_run, after_written):
    """The pid of the process working on the run, once it has written more than `after_written` records
    (each kill comes at a random moment of real work, never before the run has been taken over)."""
    def working():
        run = _run(prepared_run.app, prepared_run.installation_id)
        if run.status == "done" or _written(prepared_run) <= after_written or run.holder is None:
            return None
        return int(run.holder.split(":")[1])
    return _wait(working, RECOVERY, "the run to be worked on again")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_rq_workers_sigkilled_mid_sync_the_run_ends_done_and_exact(tmp_path, postgres_url):
    queue_name = f"test-death-{uuid.uuid4().hex[:8]}"
    settings = {"SYNC_QUEUE": "rq", "REDIS_URL": REDIS_URL, "SYNC_RQ_QUEUE": queue_name}
    processes = []
    with prepared(tmp_path, TICKETS, database=postgres_url, **settings) as prepared_run, ExitStack() as stack:
        try:
            log = stack.enter_context(open(tmp_path / "processes.log", "w"))  # read it when this fails
            processes += [_flask(prepared_run.env, "worker", log=log) for _ in range(2)]
            processes.append(_flask(prepared_run.env, "scheduler", log=log))
            with prepared_run.app.app_context():  # what Sync Now does
                run = runs.start_first_sync(db.session.get(Installation, prepared_run.installation_id))
                queue.enqueue(runs.JOBS["first"], prepared_run.installation_id, run.id)
                db.session.remove()

            written, killed = 0, []
            for kill in range(3):
                pid = _working_pid(prepared_run, written + random.randint(200, 1500))
                os.kill(pid, signal.SIGKILL)  # an OOM kill: no clean-up at all
                killed.append(pid)
                if kill < 2:
                    # Reaped, as a supervisor does: a holder gone from this host is taken over at once.
                    next(p for p in processes if p.pid == pid).wait()
                # The last one is left a zombie, which still looks alive on this host: only its silence
                # (the heartbeat lapsing) tells, as for a worker on a host that was lost.
                written = _written(prepared_run)
                processes.append(_flask(prepared_run.env, "worker", log=log))  # the supervisor's replacement
            last_kill = time.monotonic()

            _wait(lambda: _run(prepared_run.app, prepared_run.installation_id).status == "done", RECOVERY,
                  "the run to end done after the last kill")
            recovered_in = time.monotonic() - last_kill
            assert recovered_in > runs.STALL_SECONDS  # the zombie's run waited for its heartbeat to lapse
            assert_exact(prepared_run, TICKETS)
            run = _run(prepared_run.app, prepared_run.installation_id)
            assert run.holder is None and run.message is None
            assert run.counts["zendesk_tickets"]["errors"] == 0
            assert len(set(killed)) == 3, killed  # each kill took down the worker that held the run then
            redis = Redis.from_url(REDIS_URL)
            try:  # abandoned jobs were queued again, never failed
                assert FailedJobRegistry(queue_name, connection=redis).count == 0
            finally:
                redis.close()
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait(timeout=30)
            connection = redis_connection(prepared_run.app)
            for key in connection.keys(f"rq:*{queue_name}*"):
                connection.delete(key)
            connection.close()


class ServedExtension(GunicornServer):
    """`gunicorn wsgi:app` configured by the child processes' environment, with SYNC_QUEUE=thread and its
    own scheduler, as the embedded deployment runs."""

    def __init__(self, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "SYNC_QUEUE": "thread", "SCHEDULER_ENABLED": "1", "EXTENSION_URL": self.url}
        self.process = None


@pytest.mark.slow
def test_the_threaded_app_killed_mid_sync_resumes_the_run_when_started_again(tmp_path):
    with prepared(tmp_path, TICKETS) as prepared_run:
        served = ServedExtension(prepared_run.env).start()
        try:
            with prepared_run.app.app_context():
                installation = db.session.get(Installation, prepared_run.installation_id)
                headers = {"X-Widget-Context": mint_context(installation.context_secret, ORG_ID, ADMIN),
                           "HX-Request": "true"}
                db.session.remove()
            panel = BeautifulSoup(requests.get(f"{served.url}/settings", headers=headers, timeout=30).text,
                                  "html.parser")
            token = panel.select_one("#sync-settings form input[name=csrf_token]")["value"]
            started = requests.post(f"{served.url}/settings/sync", data={"csrf_token": token}, headers=headers,
                                    timeout=30)
            assert started.status_code == 200 and "sync-refused" not in started.text

            written = 0
            for _ in range(2):
                _working_pid(prepared_run, written + random.randint(200, 1500))
                served.kill()
                written = _written(prepared_run)
                assert _run(prepared_run.app, prepared_run.installation_id).status == "running"  # as the kill left it
                served = ServedExtension(prepared_run.env).start()
            _wait(lambda: _run(prepared_run.app, prepared_run.installation_id).status == "done", RECOVERY,
                  "the run to end done after the restart")
            assert_exact(prepared_run, TICKETS)
            progress = requests.get(f"{served.url}/settings/sync/progress", headers=headers, timeout=30)
            assert "Sync finished." in progress.text
        finally:
            served.close()
