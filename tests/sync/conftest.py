"""Sync fixtures: both sandboxes served over real HTTP with their API calls counted, and
`synced_installation`: an installation installed, with both grants obtained through the real OAuth pages
(tests/lifecycle/conftest.py), the CRM modules provisioned and the standard field mapping in place.

    def test_x(synced_installation):
        s = synced_installation
        s.crm_insert("Accounts", [{"Account_Name": "Acme"}])  # independent CRM session (not the installation's)
        s.zendesk_calls.reset()
        ctx = s.run("crm_accounts")                          # streams under their leases; returns the context
        assert s.zendesk_calls.count("POST", "/organizations/create_many") == 1
"""
import threading
from dataclasses import dataclass

import pytest

from tests.helpers import wired_config
from tests.lifecycle.conftest import connect_tenant, crm_api_session
from widget import create_app
from widget.extensions import db
from widget.lifecycle.install import on_crm_connected
from widget.models import Installation, Link, SyncError
from widget.sandbox import crm as crm_sandbox_package
from widget.sandbox import zendesk as zendesk_sandbox_package
from widget.sync import engine
from widget.sync.mapping_rows import ensure_default_mappings

SUBDOMAIN, DC, ORG_ID = "acme", "jp", "org-sync"


class CountingApp:
    """A sandbox's WSGI app, keeping every request it serves as (method, path), running test actions before
    chosen calls (`before`), and able to lose answers:
    `lose_answer("POST", "/users/create_or_update_many", nth=3)` lets the 3rd such call do its work, then
    answers 500 (the work done, the answer lost: what a crash between a write and its cursor looks like)."""

    def __init__(self, app):
        self.app, self.calls, self.lock = app, [], threading.Lock()
        self.faults = []  # [method, fragment, calls left before the one that fails]
        self.actions = []  # (method, fragment, action)

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self.lock:
            self.calls.append((method, path))
            actions = [action for m, fragment, action in self.actions if m == method and fragment in path]
        for action in actions:
            action(path)
        with self.lock:
            fault = next((f for f in self.faults if f[0] == method and f[1] in path), None)
            if fault is not None:
                fault[2] -= 1
                if fault[2] == 0:
                    self.faults.remove(fault)
                else:
                    fault = None
        if fault is None:
            return self.app(environ, start_response)
        body = self.app(environ, lambda *args, **kwargs: None)  # the work is done ...
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()
        start_response("500 Internal Server Error", [("Content-Type", "application/json")])  # ... the answer lost
        return [b'{"error":"InternalError","description":"lost answer (test fault)"}']

    def lose_answer(self, method, fragment, nth=1):
        with self.lock:
            self.faults.append([method, fragment, nth])

    def before(self, method, fragment, action):
        """Run `action(path)` before serving each `method` call whose path contains `fragment` (e.g. to
        move the sandbox's clock while a client is waiting on it)."""
        with self.lock:
            self.actions.append((method, fragment, action))

    def reset(self):
        with self.lock:
            self.calls.clear()

    def count(self, method=None, fragment=""):
        """Calls whose method is `method` (any when None) and whose path contains `fragment`."""
        with self.lock:
            return sum(1 for m, path in self.calls if (method is None or m == method) and fragment in path)

    def api_calls(self):
        """Calls to the service's API (not the sandbox's control endpoints nor OAuth pages)."""
        with self.lock:
            return [(m, p) for m, p in self.calls if "/api/v2/" in p or "/crm/v8/" in p]


@pytest.fixture
def crm_sandbox(serve):
    """The CRM sandbox, one org in JP (seeded with its few standard accounts), calls counted (`.calls`)."""
    sandbox = crm_sandbox_package.create_sandbox(data_centres=(DC,))
    sandbox.calls = CountingApp(sandbox.app)
    # Its notifications go to the channel's URL, where no app listens here: one quick try each, so the
    # notifier has nothing left to retry when the sandbox closes.
    notifier = sandbox.app.config["SANDBOX_NOTIFIER"]
    notifier.attempts, notifier.backoff = 1, 0
    serve(sandbox, sandbox.calls)
    sandbox.creds = sandbox.credentials(sandbox.url)
    return sandbox


@pytest.fixture
def zendesk_sandbox(serve):
    """The Zendesk sandbox, account `acme` (its seeded agents, organizations and end-users, no tickets),
    calls counted (`.calls`)."""
    sandbox = zendesk_sandbox_package.create_sandbox(accounts=(SUBDOMAIN,))
    sandbox.state.rate_limits_enabled = False  # many export calls a minute in tests (limits are tested elsewhere)
    sandbox.calls = CountingApp(sandbox.app)
    return serve(sandbox, sandbox.calls)


@dataclass
class SyncedInstallation:
    app: object
    installation_id: int
    crm: object  # the CRM sandbox (`.state`, `.calls`)
    zendesk: object  # the Zendesk sandbox (`.state`, `.calls`)
    crm_api: object  # an independent requests session on the CRM org (`.base` = {api_domain}/crm/v8)

    @property
    def crm_calls(self):
        return self.crm.calls

    @property
    def zendesk_calls(self):
        return self.zendesk.calls

    def installation(self):
        return db.session.get(Installation, self.installation_id)

    def settings(self):
        return engine.sync_settings(self.installation())

    def context(self, **kwargs):
        return engine.SyncContext(self.installation(), **kwargs)

    def run(self, *names, ctx=None):
        """Run streams (in the order given) for the installation; returns the SyncContext."""
        return engine.run_streams(self.installation(), list(names), ctx=ctx or self.context())

    def account(self):
        """The Zendesk sandbox's account object (users, organizations ... in memory)."""
        return self.zendesk.state.accounts[SUBDOMAIN]

    def crm_org(self):
        return self.crm.state.data_centres[DC].org()

    def crm_insert(self, module, records):
        """Insert CRM records (100 a call) through the independent session; returns their ids in order."""
        ids = []
        for start in range(0, len(records), 100):
            answer = self.crm_api.post(f"{self.crm_api.base}/{module}", json={"data": records[start:start + 100]},
                                       timeout=30)
            assert answer.status_code in (200, 201), answer.text
            ids += [item["details"]["id"] for item in answer.json()["data"]]
        return ids

    def crm_update(self, module, records):
        answer = self.crm_api.put(f"{self.crm_api.base}/{module}", json={"data": records}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def crm_get(self, module, record_id):
        answer = self.crm_api.get(f"{self.crm_api.base}/{module}/{record_id}", timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"][0]

    def links(self, kind):
        return db.session.scalars(db.select(Link).filter_by(installation_id=self.installation_id, kind=kind)).all()

    def errors(self, stream=None):
        query = db.select(SyncError).filter_by(installation_id=self.installation_id)
        if stream:
            query = query.filter_by(stream=stream)
        return db.session.scalars(query).all()


@pytest.fixture
def synced_installation(tmp_path, monkeypatch, crm_sandbox, zendesk_sandbox):
    """An installation ready to sync: installed, both grants, CRM modules and channel provisioned, the
    standard field mapping, inside an app context. Counters are reset after the setup's own calls."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http sandboxes (connections.py)
    # Sandboxes without their export limit in tests: no pacing of incremental calls.
    app = create_app(wired_config(tmp_path / "sync.db", crm_sandbox, zendesk_sandbox,
                                  EXTENSION_URL="http://127.0.0.1:9", ZENDESK_INCREMENTAL_CALLS_PER_MINUTE=10_000))
    with app.app_context():
        db.create_all()
    connect_tenant(app, crm_sandbox, zendesk_sandbox, ORG_ID, DC, SUBDOMAIN, webhook=False)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=ORG_ID))
        on_crm_connected(installation)
        ensure_default_mappings(installation)
        engine.sync_settings(installation)
        synced = SyncedInstallation(app, installation.id, crm_sandbox, zendesk_sandbox,
                                    crm_api_session(crm_sandbox, DC))
        crm_sandbox.calls.reset()
        zendesk_sandbox.calls.reset()
        yield synced
        db.session.remove()
    engine.INCREMENTAL_PACERS.pop(synced.installation_id, None)
    with app.app_context():
        db.engine.dispose()
