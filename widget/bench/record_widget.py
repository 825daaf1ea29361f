"""The record widget's speed (`flask --app wsgi bench widget`): the extension served by gunicorn in
processes of its own, as in production, driven by concurrent clients next to a bare Flask endpoint
served the same way.

The bench plays the CRM: it fills a database of its own with an installation (whose context secret signs
the widget contexts it sends, as the CRM does), one Contact's tickets with their comments in the local
copy, other Contacts' tickets around them (the queries have to find the Contact's among those) and each
Contact's Link to its Zendesk user. Zendesk is the Zendesk sandbox, in a process of its own with its
rate limits off, holding tickets of the same ids; the installation's grant is a token it issued.
Then, one endpoint after another, `clients` threads each keep a connection open and send requests back
to back for `seconds`: the bare endpoint; the related list (as htmx asks for it: pages and filters);
the ticket detail (read live from Zendesk, as a rep opens it); the ticket detail from the local copy
(the grant marked revoked, as when Zendesk cannot be used). Every answer's status is counted: a route
that is missing shows as 404s, never as a skipped endpoint.
"""
import http.client
import json
import math
import os
import secrets
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import requests
from cryptography.fernet import Fernet
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .. import create_app
from ..connections import connection, mark_revoked, save_grant
from ..extensions import db
from ..models import Comment, Installation, Link, Ticket
from ..record.listing import STATUSES
from .serving import BenchRefused, Gunicorn, Server

ORG_ID = "bench-org"
CONTACT_ID = "3652000000000002001"
# A sales rep of the JP org, as the CRM signs them into the widget context.
USER = {"id": "5725767000000000101", "name": "Sara Lee", "email": "rep@jp.zylker.example", "is_admin": False,
        "profile": "Sales Rep", "locale": "ja_JP", "time_zone": "Asia/Tokyo"}
OTHER_TICKETS_PER_RECORD = 10
REQUESTER_IDS = 361_000_000_000  # the Zendesk user of the n-th Contact: REQUESTER_IDS + n
SUBDOMAIN = "acme"
PLACEHOLDERS = {"customer": "佐藤", "company": "さくら商事株式会社", "agent": "山田", "colleague": "鈴木",
                "invoice": "INV-00417", "order": "ZJ-104729", "tracking": "1234-5678-9012", "deal": ""}
AGENTS = ["山田 花子", "鈴木 健太", "伊藤 美咲", "渡辺 翔"]
BATCH = 5000  # rows per insert
TARGET_P95_MS, TARGET_RATIO = 50, 0.5  # the related list's goal (README "Benchmarks")
ROUNDS = 5  # turns of the bare endpoint and the related list


def run(folder, tickets=500, other_tickets=20_000, comments_per_ticket=4, clients=16, seconds=10.0, workers=2,
        threads=8, database_url=None):
    """Seed, serve, drive; the result as one dict (the JSON line the command prints)."""
    database_url = database_url or f"sqlite:///{folder}/bench.db"
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "SECRET_KEY": secrets.token_hex(32), "MARKETPLACE_SECRET": secrets.token_hex(32)}
    app = create_app(settings)
    with app.app_context():
        if inspect(db.engine).get_table_names():
            raise BenchRefused("The database is not empty: give the bench an empty one (it creates its tables).")
        db.create_all()
        try:
            with ZendeskSandbox(folder, tickets) as zendesk:
                secret = seed(tickets, other_tickets, comments_per_ticket, zendesk.token())
                env = {**os.environ, "WIDGET_ENV": "production", "DATABASE_URL": database_url,
                       "SECRET_KEY": settings["SECRET_KEY"], "MARKETPLACE_SECRET": settings["MARKETPLACE_SECRET"],
                       "METRICS_TOKEN": secrets.token_urlsafe(32),
                       "EXTENSION_URL": "https://widget-bench.example.com",  # callbacks and webhooks: none here
                       "TOKEN_ENCRYPTION_KEY": settings["TOKEN_ENCRYPTION_KEY"], "WIDGET_INSTANCE_PATH": folder,
                       "ZENDESK_BASE_URL": zendesk.url, "ZENDESK_CLIENT_ID": zendesk.credentials["oauth_client_id"],
                       "ZENDESK_CLIENT_SECRET": zendesk.credentials["oauth_client_secret"],
                       "SYNC_QUEUE": "thread", "SCHEDULER_ENABLED": "0",  # the widget alone: no sync here
                       # NB: production refuses plain http for OAuth; this Zendesk is a sandbox on loopback.
                       "OAUTHLIB_INSECURE_TRANSPORT": "1"}
                with Gunicorn("wsgi:app", env, workers, threads, "/healthz", os.path.join(folder, "extension.log")) \
                        as extension, Gunicorn("widget.bench.bare:app", env, workers, threads, "/ping",
                                               os.path.join(folder, "bare.log")) as bare:
                    results = measure(extension, bare, zendesk, secret, tickets, clients, seconds)
        finally:
            db.session.remove()
            if not database_url.startswith("sqlite:///"):
                db.drop_all()  # the empty database it was given, empty again
            db.engine.dispose()
    related = results["related_list"]
    return {"clients": clients, "seconds": seconds, "workers": workers, "threads": threads,
            "database": make_url(database_url).get_backend_name(),
            "tickets": tickets, "other_tickets": other_tickets, **results,
            "target_met": related["p95_ms"] <= TARGET_P95_MS and related["ratio_to_bare"] >= TARGET_RATIO}


def seed(tickets, other_tickets, comments_per_ticket, zendesk_token):
    """The installation (its Zendesk grant holding `zendesk_token`), the Contact's
    tickets (Zendesk ids 1..`tickets`) and comments, other Contacts' tickets, and each Contact's Link to
    its Zendesk user, as the sync keeps them. Returns the context secret."""
    from ..sandbox.zendesk.conversations import SUPPORT  # the sandboxes load with the bench, never at import

    installation = Installation(org_id=ORG_ID, org_name="Zylker Japan K.K.", data_center="jp", scope_type="all",
                                zendesk_subdomain=SUBDOMAIN)
    db.session.add(installation)
    db.session.commit()
    save_grant(installation, "zendesk", zendesk_token, account=SUBDOMAIN)
    now = datetime.now(timezone.utc)
    rows = [_ticket(installation.id, n, 0 if n < tickets else 1 + (n - tickets) // OTHER_TICKETS_PER_RECORD, now)
            for n in range(tickets + other_tickets)]
    _insert(Ticket, rows)
    contacts = {row["crm_contact_id"]: row["requester_id"] for row in rows}
    _insert(Link, [{"installation_id": installation.id, "kind": "user", "zendesk_id": requester,
                    "crm_module": "Contacts", "crm_id": contact, "last_hash": None, "email": None}
                   for contact, requester in contacts.items()])
    comments = [{"installation_id": installation.id, "zendesk_id": 10_000_000 + n * comments_per_ticket + k,
                 "ticket_zendesk_id": row["zendesk_id"], "author_id": row["requester_id"] if k % 2 == 0 else 900,
                 "author_name": row["requester_name"] if k % 2 == 0 else AGENTS[n % len(AGENTS)],
                 "body": SUPPORT[n % len(SUPPORT)].steps[k % 6][1].format(**PLACEHOLDERS),
                 "public": k % 3 != 2, "created_at": row["created_at"] + timedelta(hours=k), "crm_record_id": None}
                for n, row in enumerate(rows[:tickets]) for k in range(comments_per_ticket)]
    _insert(Comment, comments)
    return installation.context_secret


def _ticket(installation_id, n, contact, now):
    """Ticket `n + 1` of the `contact`-th Contact (0: the one the bench opens), requested by its Zendesk user."""
    from ..sandbox.zendesk.conversations import SUPPORT

    script = SUPPORT[n % len(SUPPORT)]
    created = now - timedelta(hours=3 * n + 5)
    return {"installation_id": installation_id, "zendesk_id": n + 1, "subject": script.subject,
            "status": STATUSES[n % len(STATUSES)], "priority": ("low", "normal", "high", "urgent")[n % 4],
            "type": script.type, "tags": list(script.tags), "requester_id": REQUESTER_IDS + contact,
            "requester_name": "佐藤 陽翔", "requester_email": "haruto.sato@sakura-trading.example.jp",
            "assignee_id": 900 + n % 4, "assignee_name": AGENTS[n % len(AGENTS)], "organization_id": 700,
            "organization_name": "さくら商事株式会社", "created_at": created,
            "updated_at": created + timedelta(hours=n % 50),
            "crm_record_id": str(8_000_000 + n), "crm_contact_id": str(int(CONTACT_ID) + contact), "crm_lead_id": None,
            "crm_account_id": "3652000000000001001", "crm_deal_id": None}


def _insert(model, rows):
    for start in range(0, len(rows), BATCH):
        db.session.execute(db.insert(model), rows[start:start + BATCH])
    db.session.commit()


class ZendeskSandbox(Server):
    """`flask sandbox zendesk` seeded with `tickets` tickets (ids 1..tickets), its rate limits off."""

    def __init__(self, folder, tickets):
        self.credentials_path = os.path.join(folder, "zendesk.json")
        super().__init__(lambda port: ["flask", "--app", "wsgi", "sandbox", "zendesk", "--port", str(port),
                                       "--seed-tickets", str(tickets), "--credentials-out", self.credentials_path],
                         {**os.environ, "WIDGET_INSTANCE_PATH": folder}, log=os.path.join(folder, "zendesk.log"))
        self.credentials = None

    def __enter__(self):
        self.wait_until(lambda: os.path.exists(self.credentials_path), "the Zendesk sandbox")
        with open(self.credentials_path, encoding="utf-8") as saved:
            self.credentials = json.load(saved)
        requests.post(f"{self.url}/_sandbox/rate_limits", json={"enabled": False}, timeout=10).raise_for_status()
        return self

    def api_calls(self):
        """API calls it has answered so far (its log has a line per request)."""
        with open(self.log, encoding="utf-8", errors="replace") as log:
            return sum(1 for line in log if " /api/v2/" in line)

    def token(self):
        """A token of the account's admin: a confidential client's client-credentials grant
        (docs/outside-apis.md#zendesk-oauth)."""
        answer = requests.post(f"{self.url}/oauth/tokens", data={"grant_type": "client_credentials",
                                                                  "scope": "read write"}, timeout=10,
                               auth=(self.credentials["oauth_client_id"], self.credentials["oauth_client_secret"]))
        answer.raise_for_status()
        return answer.json()


def measure(extension, bare, zendesk, secret, tickets, clients, seconds):
    """A short warm-up of each endpoint, then the bare endpoint and the related list in turn, ROUNDS
    times each for `seconds / ROUNDS` (so both see the same load of the rest of the machine, which
    drifts over a run), then each detail for `seconds`. The detail also counts the Zendesk API calls
    made while it was driven (none once the grant is revoked)."""
    base = f"/record/Contacts/{CONTACT_ID}/tickets"
    htmx = {"HX-Request": "true"}
    targets = {
        "bare": (bare.port, [("/ping", {})]),
        # What htmx asks for when a rep opens the list, pages it and filters it.
        "related_list": (extension.port, [(f"{base}{query}", htmx) for query in (
            "", "?page=2", "?status=all", "", "?status=open&page=2", "?status=all&page=3")]),
        "ticket_detail": (extension.port, [(f"{base}/{n}", htmx) for n in range(1, tickets + 1)]),
        "ticket_detail_local_copy": (extension.port, [(f"{base}/{n}", htmx) for n in range(1, tickets + 1)]),
    }

    def sent(name):
        from ..sandbox.crm.signing import mint_context  # the CRM's signer, as the CRM signs

        port, requests_for = targets[name]
        # A context signed now, as the CRM signs one when its page opens (renewals would add their own cost).
        token = mint_context(secret, ORG_ID, USER, "Contacts", CONTACT_ID)
        return port, [(path, {**headers, "X-Widget-Context": token} if port == extension.port else headers)
                      for path, headers in requests_for]

    for name in ("bare", "related_list"):
        drive(*sent(name), clients, min(seconds, 2.0))  # warm-up: templates, connections
    runs = {"bare": [], "related_list": []}
    for _ in range(ROUNDS):
        for name in runs:
            runs[name].append(drive(*sent(name), clients, seconds / ROUNDS))
    results = {name: summary(driven) for name, driven in runs.items()}
    for name in ("ticket_detail", "ticket_detail_local_copy"):
        if name == "ticket_detail_local_copy":
            mark_revoked(connection(db.session.scalar(db.select(Installation)), "zendesk"))
        drive(*sent(name), clients, min(seconds, 2.0))
        calls = zendesk.api_calls()
        results[name] = summary([drive(*sent(name), clients, seconds)])
        results[name]["zendesk_calls"] = zendesk.api_calls() - calls
    for name in results:
        if name != "bare":
            results[name]["ratio_to_bare"] = round(results[name]["requests_per_s"] / results["bare"]["requests_per_s"],
                                                   2)
    return results


def drive(port, requests, clients, seconds):
    """`clients` threads, each on a keep-alive connection, sending `requests` ((path, headers)) in turn,
    back to back, for `seconds`. Returns (latencies in seconds, status counts, seconds it took)."""
    latencies, statuses, lock = [], Counter(), threading.Lock()
    ready = threading.Barrier(clients + 1)
    window = {}

    def client(number):
        mine, codes = [], Counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        turn = number
        ready.wait()
        while time.perf_counter() < window["end"]:
            path, headers = requests[turn % len(requests)]
            turn += clients
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                answer = connection.getresponse()
                answer.read()
                codes[str(answer.status)] += 1
            except (OSError, http.client.HTTPException):
                codes["error"] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    window["end"] = started + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def summary(driven):
    """The figures of one endpoint's drives ((latencies, statuses, seconds) each) taken together."""
    latencies = sorted(latency for run, _, _ in driven for latency in run)
    statuses = sum((codes for _, codes, _ in driven), Counter())
    elapsed = sum(seconds for _, _, seconds in driven)
    return {"requests": len(latencies), "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": _percentile(latencies, 50), "p95_ms": _percentile(latencies, 95),
            "p99_ms": _percentile(latencies, 99), "statuses": dict(sorted(statuses.items()))}


def _percentile(ordered, percent):
    """Nearest rank, in milliseconds."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)] * 1000, 2)
