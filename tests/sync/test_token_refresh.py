"""Token refresh from any thread and any process (widget.connections.GrantKeeper): one refresh per grant
and expiry, the new token committed before it is used, and a refused refresh pausing the installation
with a plain message. The sandboxes' clocks move past the tokens' expiry (Zoho CRM: one hour, Zendesk:
30 minutes) while the sync runs, as a first sync longer than an hour meets it."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.sync.conftest import DC, ORG_ID
from widget.clients.http import RefreshRefused
from widget.connections import connection, crm_client
from widget.extensions import db
from widget.models import SyncError, SyncRun
from widget.settings.status import crm_status
from widget.sync import runs, tickets

ROOT = Path(__file__).resolve().parents[2]
CRM_TOKEN_SECONDS, ZENDESK_TOKEN_SECONDS = 3600, 1800  # the sandboxes' access token lifetimes


class ClockJumps:
    """WSGI middleware on a served sandbox: at the `at`-th call matching `method` and `fragment`, the
    sandbox's clock moves `seconds` on (`POST /_sandbox/clock`) before that call and every later one is
    served, so it and the calls sent at the same time (a page's parallel upserts) meet an expired token.
    A token expires only once it has served `settle` matching calls: a token just renewed never expires
    at once (they live an hour), so the calls retried with it are not refused again. `refused` counts the
    matching calls answered 401, `jumps` the moves."""

    def __init__(self, sandbox, method, fragment, at, seconds, settle=1):
        self.app, self.url = sandbox.calls.app, sandbox.url
        self.method, self.fragment, self.at, self.seconds, self.settle = method, fragment, sorted(at), seconds, settle
        self.seen = self.refused = self.jumps = 0
        self.served = {}  # Authorization header -> matching calls it made
        self.lock = threading.Lock()
        sandbox.calls.app = self

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != self.method or self.fragment not in environ["PATH_INFO"]:
            return self.app(environ, start_response)
        token = environ.get("HTTP_AUTHORIZATION")
        with self.lock:  # held across the move: no matching call is served with the old clock after it
            self.seen += 1
            if self.at and self.seen >= self.at[0] and self.served.get(token, 0) >= self.settle:
                self.at.pop(0)
                self.jumps += 1
                answer = requests.post(f"{self.url}/_sandbox/clock", json={"advance": self.seconds}, timeout=5)
                assert answer.status_code == 200, answer.text
            self.served[token] = self.served.get(token, 0) + 1

        def counting(status, headers, *args):
            if status.startswith("401"):
                with self.lock:
                    self.refused += 1
            return start_response(status, headers, *args)
        return self.app(environ, counting)


class SlowTokenEndpoint:
    """WSGI middleware: the token endpoint answers after `delay` seconds, so concurrent refreshers overlap."""

    def __init__(self, sandbox, path, delay):
        self.app, self.path, self.delay = sandbox.calls.app, path, delay
        sandbox.calls.app = self

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == self.path:
            time.sleep(self.delay)
        return self.app(environ, start_response)


def add_tickets(s, count):
    """`count` tickets in Zendesk (each with its description), older than the exports' last minute."""
    account = s.account()
    requesters = [u for u in account.users.values() if u["role"] == "end-user"]
    start = int(account.now()) - 2 * count - 3600
    for n in range(count):
        requester = requesters[n % len(requesters)]
        account.create_ticket({"subject": f"Issue {n}", "requester_id": requester["id"]},
                              {"body": f"Ticket {n} from {requester['name']}.", "public": True}, requester["id"],
                              ts=start + 2 * n, notify=False)


def stored_token(s, service):
    db.session.expire_all()
    return connection(s.installation(), service).token


def assert_crm_accepts(s, token):
    assert s.crm.state.access_grant(DC, token["access_token"]) is not None


def assert_zendesk_accepts(s, token):
    account = s.account()
    grant = account.grants.get(token["access_token"])
    assert grant is not None and grant.expires_at > account.now()
    assert account.refresh_tokens.get(token["refresh_token"]) == token["access_token"]


def test_a_first_sync_crossing_both_grants_expiry_several_times_ends_exact_with_one_refresh_each(
        synced_installation):
    s = synced_installation
    add_tickets(s, 2500)
    modules = s.installation().crm_modules
    crm_before, zendesk_before = stored_token(s, "crm"), stored_token(s, "zendesk")
    # CRM: expired twice inside the parallel ticket upserts (10 batches of a 1000-ticket page at once)
    # and once inside the comment upserts; Zendesk: twice between ticket export pages, once between
    # ticket_events pages.
    # NB: a page's 10 upserts retry at most 6 after an expiry at its 5th: a token that served 7 upserts is
    # past the retries of the page it was renewed in.
    crm_tickets = ClockJumps(s.crm, "POST", f"/{modules['tickets']}/upsert", at=(5, 15), seconds=CRM_TOKEN_SECONDS + 1,
                             settle=7)
    crm_comments = ClockJumps(s.crm, "POST", f"/{modules['comments']}/upsert", at=(12,),
                              seconds=CRM_TOKEN_SECONDS + 1, settle=7)
    zendesk_tickets = ClockJumps(s.zendesk, "GET", "/incremental/tickets/cursor", at=(2, 3),
                                 seconds=ZENDESK_TOKEN_SECONDS + 1)
    zendesk_events = ClockJumps(s.zendesk, "GET", "/incremental/ticket_events", at=(2,),
                                seconds=ZENDESK_TOKEN_SECONDS + 1)

    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)

    db.session.refresh(run)
    assert run.status == "done", run.message
    assert run.message is None
    account = s.account()
    ticket_records = list(s.crm_org().module(modules["tickets"]).records.values())
    assert len(ticket_records) == len(account.tickets) == 2500
    assert {int(r["Ticket_ID"]) for r in ticket_records} == set(account.tickets)
    comment_records = list(s.crm_org().module(modules["comments"]).records.values())
    assert sorted(int(r["Comment_ID"]) for r in comment_records) == sorted(
        c["id"] for cs in account.comments.values() for c in cs)
    # Every expiry was met, and renewed by exactly one refresh, however many writes met it at once.
    assert (crm_tickets.jumps, crm_comments.jumps, zendesk_tickets.jumps, zendesk_events.jumps) == (2, 1, 2, 1)
    assert crm_tickets.refused >= 2 * crm_tickets.jumps, "several parallel upserts met an expired token at once"
    assert crm_comments.refused >= 1 and zendesk_tickets.refused == 2 and zendesk_events.refused == 1
    assert s.crm_calls.count("POST", "/oauth/v2/token") == 3
    assert s.zendesk_calls.count("POST", "/oauth/tokens") == 3
    # The stored tokens are the renewed ones, the ones each service accepts now.
    crm_after, zendesk_after = stored_token(s, "crm"), stored_token(s, "zendesk")
    assert crm_after["access_token"] != crm_before["access_token"]
    assert crm_after["refresh_token"] == crm_before["refresh_token"]  # Zoho keeps the refresh token
    assert zendesk_after["refresh_token"] != zendesk_before["refresh_token"]  # Zendesk rotates it
    assert_crm_accepts(s, crm_after)
    assert_zendesk_accepts(s, zendesk_after)
    messages = [e.message for e in db.session.scalars(db.select(SyncError))]
    assert not [m for m in messages if "token" in m.lower() or "auth" in m.lower()], messages
    assert s.settings().paused_reason is None


def test_a_refresh_on_worker_threads_without_an_app_context_is_saved(synced_installation):
    s = synced_installation
    add_tickets(s, 250)
    grant = connection(s.installation(), "crm")
    grant.token = {**grant.token, "expires_at": time.time() + 30}  # inside the early-refresh margin
    db.session.commit()
    before = stored_token(s, "crm")
    ctx = s.context()
    assert ctx.crm.max_concurrency > 1

    # One page: 3 upserts of 100 at once, each on a worker thread of the CRM client, none with an app context.
    result = tickets.write_tickets(ctx, ctx.zendesk.show_tickets(sorted(s.account().tickets)))

    assert result.written == 250 and result.failed == 0
    assert len(s.crm_org().module(s.installation().crm_modules["tickets"]).records) == 250
    assert s.crm_calls.count("POST", "/oauth/v2/token") == 1
    saved = stored_token(s, "crm")
    assert saved["access_token"] != before["access_token"] and saved["expires_at"] > time.time() + 3000
    assert ctx.crm.token["access_token"] == saved["access_token"]
    assert_crm_accepts(s, saved)


def test_two_processes_renewing_one_zendesk_grant_at_once_refresh_it_once(synced_installation, tmp_path):
    s = synced_installation
    # The first refresh is still running when the second starts.
    SlowTokenEndpoint(s.zendesk, "/oauth/tokens", delay=0.5)
    config = {key: value for key, value in s.app.config.items()
              if key in ("SQLALCHEMY_DATABASE_URI", "CRM_SANDBOX_URL", "CRM_CLIENT_ID", "CRM_CLIENT_SECRET",
                         "ZENDESK_BASE_URL", "ZENDESK_CLIENT_ID", "ZENDESK_CLIENT_SECRET", "EXTENSION_URL")}
    go = tmp_path / "go"
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    command = [sys.executable, "-m", "tests.sync.refresh_process", json.dumps(config), str(s.installation_id), str(go)]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        before = stored_token(s, "zendesk")
        s.zendesk.state.clock.advance(ZENDESK_TOKEN_SECONDS + 1)  # both processes hold the expired token
        go.touch()
        answers = []
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            answers.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert s.zendesk_calls.count("POST", "/oauth/tokens") == 1
    after = stored_token(s, "zendesk")
    assert after["access_token"] != before["access_token"]
    assert [a["access_token"] for a in answers] == [after["access_token"]] * 2
    assert connection(s.installation(), "zendesk").status == "active"
    assert_zendesk_accepts(s, after)


def test_a_refused_refresh_pauses_the_installation_and_the_command_says_so_plainly(synced_installation):
    s = synced_installation
    refresh = stored_token(s, "crm")["refresh_token"]
    revoked = requests.post(f"{s.crm.url}/accounts/{DC}/oauth/v2/token/revoke", params={"token": refresh}, timeout=5)
    assert revoked.json() == {"status": "success"}  # revoked in Zoho: its access tokens went with it
    config = s.app.config
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1", "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           **{key: str(config[key]) for key in ("CRM_SANDBOX_URL", "CRM_CLIENT_ID", "CRM_CLIENT_SECRET",
                                                "ZENDESK_BASE_URL", "ZENDESK_CLIENT_ID", "ZENDESK_CLIENT_SECRET",
                                                "EXTENSION_URL", "ZENDESK_INCREMENTAL_CALLS_PER_MINUTE")}}

    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sync", "first", ORG_ID], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)

    plain = ("Zoho CRM refused to renew the extension's access (accounts server: invalid_code). An administrator "
             "must re-authorize Zoho CRM in the extension's settings.")
    assert done.returncode == 1
    *logged, said = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and said == f"Error: {plain}"
    # Before it, only the run's own log lines (widget/ops/logs.py): its start, and its end, paused.
    assert len(logged) == 2 and all(" INFO widget.sync.runs: sync run " in line for line in logged), logged
    assert "status=paused" in logged[-1]
    assert json.loads(done.stdout.strip().splitlines()[-1])["status"] == "paused"
    db.session.expire_all()
    run = db.session.scalar(db.select(SyncRun))
    assert (run.status, run.message) == ("paused", plain)  # carries on once re-authorized
    settings = s.settings()
    assert (settings.paused_reason, settings.paused_until) == (plain, None)  # only re-authorizing lifts it
    assert connection(s.installation(), "crm").status == "revoked"
    assert connection(s.installation(), "zendesk").status == "active"
    assert crm_status(s.installation()).state == "revoked"  # the settings page offers to re-authorize it
    assert s.crm_calls.count("POST", "/oauth/v2/token") - s.crm_calls.count("POST", "/revoke") == 1


def test_a_client_built_for_a_grant_refused_meanwhile_asks_no_service(synced_installation):
    """Another process's refresh was refused (the grant is marked revoked): a client built earlier on the
    same grant fails at once with the plain message, and never spends a call on the dead refresh token."""
    s = synced_installation
    client = crm_client(s.installation())
    grant = connection(s.installation(), "crm")
    grant.status = "revoked"
    db.session.commit()
    s.crm.state.clock.advance(CRM_TOKEN_SECONDS + 1)
    with pytest.raises(RefreshRefused) as refused:
        client.org()
    assert "re-authorize Zoho CRM" in refused.value.message
    assert s.crm_calls.count("POST", "/oauth/v2/token") == 0
