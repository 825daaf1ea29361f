"""Small helpers tests share: signed lifecycle calls and widget contexts, as the CRM side makes them."""
import json
import os
import threading
import time
from contextlib import contextmanager

import requests

from widget.sandbox.serving import BackgroundServer
from widget.sandbox.zendesk.jobs import JOB_TTL
from widget.sandbox.crm.signing import marketplace_headers, mint_context

ADMIN = {"id": "u1", "name": "Aiko Admin", "email": "admin@example.jp", "is_admin": True,
         "profile": "Administrator", "locale": "en_US"}
REP = {"id": "u2", "name": "Ren Rep", "email": "rep@example.jp", "is_admin": False,
       "profile": "Sales Rep", "locale": "en_US"}

# The local services the multi-host tests use (tests/conftest.py skips them, or fails under .ci/run, when down).
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def served(target, wsgi=None, host="127.0.0.1", port=0):
    """Serves `target` over real HTTP on a free loopback port (or `port`) while the block runs, and yields it:
    a sandbox (its `.app`, or `wsgi` when given, e.g. a call-counting wrapper of it) or any WSGI app.
    `target.url` is set to the base URL and `target.server` to the BackgroundServer. Tests take the `serve`
    fixture (tests/conftest.py); fixtures of a wider scope use this directly."""
    server = BackgroundServer(wsgi or getattr(target, "app", target), host=host, port=port)
    target.url, target.server = server.url, server
    with server:
        yield target


def lifecycle(client, action, body, secret=None, timestamp=None):
    raw = json.dumps(body).encode()
    secret = secret or client.application.config["MARKETPLACE_SECRET"]
    return client.post(f"/lifecycle/{action}", data=raw, headers=marketplace_headers(secret, raw, timestamp))


def install_body(org_id="org-1", data_center="jp", installer=ADMIN, scope=None):
    return {"org_id": org_id, "org_name": "Sakura Trading", "data_center": data_center, "installer": installer,
            "scope": scope or {"type": "admins"}}


def install(client, **kwargs):
    response = lifecycle(client, "install", install_body(**kwargs))
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def context_for(installed, user=ADMIN, org_id="org-1", entity="Contacts", entity_id="42", **kwargs):
    return mint_context(installed["context_secret"], org_id, user, entity, entity_id, **kwargs)


def zendesk_admin_session(sandbox, base_path="/api/v2"):
    """A requests session on a served Zendesk sandbox (`sandbox.url`), authenticated as the seeded admin
    with the API token; `.base` is its URL prefix."""
    creds = sandbox.credentials(sandbox.url)["accounts"][0]
    session = requests.Session()
    session.auth = (f"{creds['admin_email']}/token", creds["api_token"])
    session.base = f"{sandbox.url}{base_path}"
    return session


def wired_config(database_path, crm_sandbox, zendesk_sandbox, **extra):
    """Configuration of the extension wired to served sandboxes (`.url` set; the CRM's `.creds` too)."""
    zendesk = zendesk_sandbox.credentials(zendesk_sandbox.url)
    crm = getattr(crm_sandbox, "creds", None) or crm_sandbox.credentials(crm_sandbox.url)
    return {
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        "CRM_SANDBOX_URL": crm_sandbox.url, "CRM_CLIENT_ID": crm["client_id"], "CRM_CLIENT_SECRET": crm["client_secret"],
        "ZENDESK_BASE_URL": zendesk_sandbox.url, "ZENDESK_CLIENT_ID": zendesk["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk["oauth_client_secret"], **extra,
    }


class ExpiringJobs:
    """Lets the first bulk job a client polls lose its status under it, as after a paused worker, with
    the job at `stage`: "queued" (held behind another job), "working" (held inside its first record)
    or "completed". On that job's first poll the Zendesk sandbox's clock moves past JOB_TTL, so the poll
    answers 404; held work goes on once the client polls the next job it submits (its own resubmission).
    `calls` is the CountingApp (tests/sync/conftest.py) serving the sandbox. `close()` lets go of it all."""

    BLOCKER = "Blocking job's organization"

    def __init__(self, sandbox, calls, stage, subdomain="acme"):
        assert stage in ("queued", "working", "completed")
        self.sandbox, self.stage, self.account = sandbox, stage, sandbox.state.accounts[subdomain]
        self.jobs, self.lock = [], threading.Lock()  # job ids, in the order first polled
        self.held, self.gate = threading.Event(), threading.Event()
        self.ours_when_resubmitted = None  # objects with one of our external ids when the 2nd job was polled
        sandbox.state.listeners.append(self._hold)
        calls.before("GET", "/job_statuses/", self._polled)
        if stage == "queued":
            answer = zendesk_admin_session(sandbox).post(f"{sandbox.url}/api/v2/organizations/create_many.json",
                                                        json={"organizations": [{"name": self.BLOCKER}]})
            assert answer.status_code == 200, answer.text
            assert self.held.wait(10)

    def _hold(self, account, event_type, kind, obj, previous, current):
        if not event_type.endswith(".created") or self.held.is_set():
            return
        ours = str(obj.get("external_id") or "").startswith("zcrm:")
        if obj.get("name") == self.BLOCKER or (self.stage == "working" and ours):
            self.held.set()
            self.gate.wait(30)

    def _polled(self, path):
        job_id = path.rsplit("/", 1)[-1].removesuffix(".json")
        with self.lock:
            if job_id in self.jobs:
                return
            self.jobs.append(job_id)
            first = len(self.jobs) == 1
        if not first:
            self.ours_when_resubmitted = self._ours()
            self.gate.set()
            return
        if self.stage == "completed":
            deadline = time.monotonic() + 10
            while self.account.job_statuses[job_id]["status"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.01)
        else:
            assert self.held.wait(10)
        self.sandbox.state.clock.advance(JOB_TTL + 1)

    def _ours(self):
        objects = list(self.account.users.values()) + list(self.account.organizations.values())
        return sum(1 for obj in objects if str(obj.get("external_id") or "").startswith("zcrm:"))

    def close(self):
        self.gate.set()
        self.sandbox.state.listeners.remove(self._hold)
