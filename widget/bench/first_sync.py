"""The first-sync benchmark (`flask --app wsgi bench sync`): sandbox to sandbox.

Both sandboxes are served on loopback ports by a process of their own (rate limits off, optional latency), the
Zendesk one seeded with N tickets of C comments each; an installation gets both grants (the CRM
sandbox's self-client refresh token; a Zendesk client-credentials token) and its CRM modules, then
the first sync runs as a worker would run it. Every API call the sandboxes serve is counted.
"""
import logging
import math
import multiprocessing
import resource
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import requests
from flask import current_app

from ..clients import crm as crm_api
from ..connections import allow_http_to_loopback_sandboxes, save_grant
from ..extensions import db
from ..lifecycle.install import on_crm_connected
from ..models import Installation
from ..sync.engine import INCREMENTAL_PACERS
from ..sync.runs import first_sync_job, start_first_sync

DC = "jp"
SUBDOMAIN = "acme"
EXPORT_PAGE = 1000
UPSERT_BATCH = 100


class CallCounter:
    """WSGI middleware: counts the API calls a sandbox serves, by (method, path)."""

    def __init__(self, app, api_marker):
        self.app, self.api_marker = app, api_marker
        self.calls, self.lock = {}, threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.api_marker in path:
            key = (environ["REQUEST_METHOD"], path.removesuffix(".json"))
            with self.lock:
                self.calls[key] = self.calls.get(key, 0) + 1
        return self.app(environ, start_response)

    def total(self):
        with self.lock:
            return sum(self.calls.values())

    def count(self, fragment, method=None):
        with self.lock:
            return sum(n for (m, path), n in self.calls.items() if fragment in path and method in (None, m))

    def reset(self):
        with self.lock:
            self.calls.clear()


@dataclass
class Bench:
    """The served sandboxes, their counters and the installation under test."""

    zendesk: object
    crm: object
    zendesk_calls: CallCounter
    crm_calls: CallCounter
    servers: list = field(default_factory=list)
    installation_id: int = None

    def close(self):
        for server in self.servers:
            server.close()


def zendesk_with_tickets(tickets, comments_per_ticket, seed=1):
    """A Zendesk sandbox whose one account has `tickets` tickets of `comments_per_ticket` comments each
    (the first is the ticket's description; None: 1 to 3 at random)."""
    from ..sandbox import zendesk as zendesk_sandbox  # the sandboxes load with the bench, never at import
    from ..sandbox.zendesk.seed import seed_account
    from ..sandbox.zendesk.state import SandboxState

    state = SandboxState()
    state.add_oauth_client(zendesk_sandbox.CLIENT_ID, "Zendesk for Zoho CRM")
    replies = None if comments_per_ticket is None else max(comments_per_ticket - 1, 0)
    seed_account(state.add_account(SUBDOMAIN, "professional"), tickets=tickets, seed=seed, replies=replies)
    return zendesk_sandbox.Sandbox(state, zendesk_sandbox.create_app(state))


def serve(tickets, comments_per_ticket=2, latency_ms=0):
    """Both sandboxes served with counters, limits off, `latency_ms` added to every API call."""
    from ..sandbox import crm as crm_sandbox
    from ..sandbox.serving import BackgroundServer

    zendesk = zendesk_with_tickets(tickets, comments_per_ticket)
    zendesk.state.rate_limits_enabled = False
    zendesk.state.faults["latency"] = latency_ms / 1000
    crm = crm_sandbox.create_sandbox(data_centres=(DC,))
    crm.state.limits_enabled = False
    crm.state.faults["latency"] = latency_ms / 1000
    bench = Bench(zendesk, crm, CallCounter(zendesk.app, "/api/v2/"), CallCounter(crm.app, "/crm/v8/"))
    for sandbox, counter in ((zendesk, bench.zendesk_calls), (crm, bench.crm_calls)):
        server = BackgroundServer(counter).start()
        sandbox.url = server.url
        bench.servers.append(server)
    return bench


def connect(app, bench):
    """Wire `app` to the served sandboxes and create an installation with both grants and its modules."""
    crm_creds = bench.crm.credentials(bench.crm.url)
    centre = crm_creds["data_centres"][DC]
    zendesk_creds = bench.zendesk.credentials(bench.zendesk.url)
    app.config.update(
        CRM_SANDBOX_URL=bench.crm.url, CRM_CLIENT_ID=crm_creds["client_id"],
        CRM_CLIENT_SECRET=crm_creds["client_secret"], ZENDESK_BASE_URL=bench.zendesk.url,
        ZENDESK_CLIENT_ID=zendesk_creds["oauth_client_id"], ZENDESK_CLIENT_SECRET=zendesk_creds["oauth_client_secret"],
        EXTENSION_URL=app.config.get("EXTENSION_URL") or "http://127.0.0.1:9",
        ZENDESK_INCREMENTAL_CALLS_PER_MINUTE=1_000_000)  # the sandbox's limits are off
    allow_http_to_loopback_sandboxes(app.config)
    INCREMENTAL_PACERS.clear()
    with requests.Session() as session:
        crm_token = crm_api.refresh_token(session, centre["accounts_url"], {"refresh_token": centre["refresh_token"]},
                                          crm_creds["client_id"], crm_creds["client_secret"])
        # A confidential client's client-credentials grant (docs/outside-apis.md#zendesk-oauth): acts as the account's
        # admin.
        answer = session.post(f"{bench.zendesk.url}/oauth/tokens", timeout=30, data={
            "grant_type": "client_credentials", "scope": "read write"},
            auth=(zendesk_creds["oauth_client_id"], zendesk_creds["oauth_client_secret"]))
        answer.raise_for_status()
    installation = Installation(org_id=centre["org_id"], org_name=centre["company_name"], data_center=DC,
                                zendesk_subdomain=SUBDOMAIN)
    db.session.add(installation)
    db.session.commit()
    save_grant(installation, "crm", crm_token, account=centre["accounts_url"], api_base=crm_token["api_domain"])
    save_grant(installation, "zendesk", answer.json(), account=SUBDOMAIN)
    on_crm_connected(installation)
    bench.installation_id = installation.id
    return installation


def minimal_calls(tickets, events, comments):
    """The fewest calls the batch sizes allow: export pages of 1000, upserts of 100."""
    return (math.ceil(tickets / EXPORT_PAGE) + math.ceil(tickets / UPSERT_BATCH)
            + math.ceil(events / EXPORT_PAGE) + math.ceil(comments / UPSERT_BATCH))


def _ticket_calls(bench):
    """Calls of the zendesk_tickets and zendesk_comments streams (exports, show_many lookups, upserts)."""
    zendesk = sum(bench.zendesk_calls.count(path) for path in ("/incremental/tickets", "/incremental/ticket_events",
                                                                "/tickets/show_many", "/comments"))
    return zendesk + bench.crm_calls.count("/Zendesk_Tickets/upsert") + bench.crm_calls.count(
        "/Zendesk_Ticket_Comments/upsert")


def crm_counts(bench, installation):
    org = bench.crm.state.data_centres[DC].org()
    tickets = list(org.modules[installation.crm_modules["tickets"]].records.values())
    comments = list(org.modules[installation.crm_modules["comments"]].records.values())
    return {"crm_tickets": len(tickets), "crm_unique_ticket_ids": len({r["Ticket_ID"] for r in tickets}),
            "crm_comments": len(comments), "crm_unique_comment_ids": len({r["Comment_ID"] for r in comments})}


class Served:
    """A sandbox served by the sandboxes' process, as `connect` sees it: its URL and credentials."""

    def __init__(self, url, credentials):
        self.url, self._credentials = url, credentials

    def credentials(self, url):
        return self._credentials


def serve_in_process(conn, tickets, comments_per_ticket, latency_ms):
    """The sandboxes' own process: seed and serve both, then answer the bench's questions on `conn`."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    bench = serve(tickets, comments_per_ticket, latency_ms)
    account = bench.zendesk.account(SUBDOMAIN)
    conn.send({"zendesk": (bench.zendesk.url, bench.zendesk.credentials(bench.zendesk.url)),
               "crm": (bench.crm.url, bench.crm.credentials(bench.crm.url)),
               "comments": sum(len(c) for c in account.comments.values()), "events": len(account.ticket_events)})
    answers = {
        "reset": lambda arg: (bench.zendesk_calls.reset(), bench.crm_calls.reset()),
        "calls": lambda arg: {"zendesk_calls": bench.zendesk_calls.total(), "crm_calls": bench.crm_calls.total(),
                              "ticket_and_comment_calls": _ticket_calls(bench)},
        "crm_counts": lambda installation: crm_counts(bench, installation),
    }
    try:
        while (message := conn.recv()) != "close":
            question, arg = message
            conn.send(answers[question](arg))
    finally:
        bench.close()


class SandboxProcess:
    """Both sandboxes, seeded and served by a process of their own (as they would be elsewhere), so that
    this process's memory is the sync's alone."""

    def __init__(self, tickets, comments_per_ticket, latency_ms):
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: none of this process's memory
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve_in_process, args=(child, tickets, comments_per_ticket, latency_ms),
                                       daemon=True)
        self.process.start()
        child.close()
        ready = self.conn.recv()
        self.zendesk, self.crm = Served(*ready["zendesk"]), Served(*ready["crm"])
        self.comments, self.events, self.installation_id = ready["comments"], ready["events"], None

    def ask(self, question, arg=None):
        self.conn.send((question, arg))
        return self.conn.recv()

    def close(self):
        try:
            self.conn.send("close")
        except OSError:
            pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


def run(tickets, comments_per_ticket=2, latency_ms=0):
    """Seed, connect, run the first sync; the result as one dict (the JSON line the command prints).
    The sandboxes run in a process of their own; `sync_peak_rss_mb` is this process's peak, the sync's."""
    app = current_app._get_current_object()
    sandboxes = SandboxProcess(tickets, comments_per_ticket, latency_ms)
    try:
        installation = connect(app, sandboxes)
        sandboxes.ask("reset")
        started = time.monotonic()
        run_row = start_first_sync(installation)
        first_sync_job(installation.id, run_row.id)
        seconds = time.monotonic() - started
        db.session.refresh(run_row)
        calls = sandboxes.ask("calls")
        return {
            "tickets": tickets, "comments": sandboxes.comments, "seconds": round(seconds, 1),
            "tickets_per_s": round(tickets / seconds, 1) if seconds else None,
            **calls, "minimal_calls": minimal_calls(tickets, sandboxes.events, sandboxes.comments),
            # The sync's process alone: the sandboxes keep every record in memory, in their own process.
            "sync_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "status": run_row.status,
            **sandboxes.ask("crm_counts", SimpleNamespace(crm_modules=installation.crm_modules)),
        }
    finally:
        sandboxes.close()
