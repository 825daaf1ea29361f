"""The record widget's speed (`flask --app wsgi bench widget`): the extension served by gunicorn in a
process of its own, as in production, driven by concurrent clients next to a bare Flask endpoint served
the same way.

The bench plays the CRM: it fills a database of its own with an installation (whose context secret signs
the widget contexts it sends, as the CRM does), one Contact's tickets with their comments in the local
copy, and other records' tickets around them (the queries have to find the Contact's among those).
Then, one endpoint after another, `clients` threads each keep a connection open and send requests back
to back for `seconds`: the bare endpoint, the related list (as htmx asks for it: pages and status
filters) and the ticket detail (from the local copy). Every answer's status is counted: a route that
is missing shows as 404s, never as a skipped endpoint.
"""
import http.client
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from cryptography.fernet import Fernet
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .. import create_app
from ..connections import save_grant
from ..extensions import db
from ..models import Comment, Installation, Ticket
from ..record.listing import STATUSES
from ..sandbox.serving import free_port
from ..sandbox.zendesk.conversations import SUPPORT
from ..security import mint_context

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORG_ID = "bench-org"
CONTACT_ID = "3652000000000002001"
# A sales rep of the JP org, as the CRM signs them into the widget context.
USER = {"id": "5725767000000000101", "name": "Sara Lee", "email": "rep@jp.zylker.example", "is_admin": False,
        "profile": "Sales Rep", "locale": "ja_JP", "time_zone": "Asia/Tokyo"}
OTHER_TICKETS_PER_RECORD = 10
AGENTS = ["山田 花子", "鈴木 健太", "伊藤 美咲", "渡辺 翔"]
BATCH = 5000  # rows per insert
TARGET_P95_MS, TARGET_RATIO = 50, 0.5  # the related list's goal (README "Benchmarks")


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
            secret, ticket_ids = seed(tickets, other_tickets, comments_per_ticket)
            env = {**os.environ, "WIDGET_ENV": "production", "DATABASE_URL": database_url,
                   "SECRET_KEY": settings["SECRET_KEY"], "MARKETPLACE_SECRET": settings["MARKETPLACE_SECRET"],
                   "TOKEN_ENCRYPTION_KEY": settings["TOKEN_ENCRYPTION_KEY"], "WIDGET_INSTANCE_PATH": folder,
                   "SYNC_QUEUE": "thread", "SCHEDULER_ENABLED": "0"}  # the widget alone: no sync in these processes
            with Gunicorn("wsgi:app", env, workers, threads, "/healthz") as extension, \
                    Gunicorn("widget.bench.bare:app", env, workers, threads, "/ping") as bare:
                results = measure(extension, bare, secret, ticket_ids, clients, seconds)
        finally:
            db.session.remove()
            if database_url.startswith("sqlite:///"):
                db.engine.dispose()
            else:
                db.drop_all()  # the empty database it was given, empty again
                db.engine.dispose()
    related = results["related_list"]
    return {"clients": clients, "seconds": seconds, "workers": workers, "threads": threads,
            "database": make_url(database_url).get_backend_name(),
            "tickets": tickets, "other_tickets": other_tickets, **results,
            "target_met": related["p95_ms"] <= TARGET_P95_MS and related["ratio_to_bare"] >= TARGET_RATIO}


class BenchRefused(Exception):
    """The bench can't run as asked; `str()` says why."""


def seed(tickets, other_tickets, comments_per_ticket):
    """The installation (with a Zendesk grant, so the widget shows itself authorized), the Contact's
    tickets and comments, and other records' tickets. Returns (context secret, the Contact's ticket ids)."""
    installation = Installation(org_id=ORG_ID, org_name="Zylker Japan K.K.", data_center="jp", scope_type="all",
                                zendesk_subdomain="acme")
    db.session.add(installation)
    db.session.commit()
    save_grant(installation, "zendesk", {"access_token": "not used: the widget reads the local copy",
                                         "token_type": "Bearer", "scope": "read write"}, account="acme")
    now = datetime.now(timezone.utc)
    rows = [_ticket(installation.id, n, CONTACT_ID if n < tickets else _other_contact(n - tickets), now)
            for n in range(tickets + other_tickets)]
    _insert(Ticket, rows)
    comments = [{"installation_id": installation.id, "zendesk_id": 10_000_000 + n * comments_per_ticket + k,
                 "ticket_zendesk_id": row["zendesk_id"], "author_id": 1000 + k % 3,
                 "author_name": row["requester_name"] if k % 2 == 0 else AGENTS[n % len(AGENTS)],
                 "body": script.steps[k % len(script.steps)][1].format(
                     customer="佐藤", company="さくら商事株式会社", agent="山田", colleague="鈴木", invoice="INV-00417",
                     order="ZJ-104729", tracking="1234-5678-9012", deal=""),
                 "public": k % 3 != 2, "created_at": row["created_at"] + timedelta(hours=k), "crm_record_id": None}
                for n, row in enumerate(rows[:tickets]) for k in range(comments_per_ticket)
                for script in (SUPPORT[n % len(SUPPORT)],)]
    _insert(Comment, comments)
    return installation.context_secret, [row["zendesk_id"] for row in rows[:tickets]]


def _other_contact(n):
    return f"{int(CONTACT_ID) + 1 + n // OTHER_TICKETS_PER_RECORD}"


def _ticket(installation_id, n, contact_id, now):
    script = SUPPORT[n % len(SUPPORT)]
    created = now - timedelta(hours=3 * n + 5)
    return {"installation_id": installation_id, "zendesk_id": n + 1, "subject": script.subject,
            "status": STATUSES[n % len(STATUSES)], "priority": ("low", "normal", "high", "urgent")[n % 4],
            "type": script.type, "tags": list(script.tags), "requester_id": 500 + n % 7, "requester_name": "佐藤 陽翔",
            "requester_email": "haruto.sato@sakura-trading.example.jp", "assignee_id": 900 + n % 4,
            "assignee_name": AGENTS[n % len(AGENTS)], "organization_id": 700, "organization_name": "さくら商事株式会社",
            "created_at": created, "updated_at": created + timedelta(hours=n % 50), "crm_record_id": str(8_000_000 + n),
            "crm_contact_id": contact_id, "crm_lead_id": None, "crm_account_id": "3652000000000001001",
            "crm_deal_id": None}


def _insert(model, rows):
    for start in range(0, len(rows), BATCH):
        db.session.execute(db.insert(model), rows[start:start + BATCH])
    db.session.commit()


class Gunicorn:
    """`gunicorn <app>` on a free loopback port, in a process group of its own (stopped with it)."""

    def __init__(self, app_path, env, workers, threads, ready_path):
        self.port = free_port()
        self.ready_path = ready_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", app_path],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True)

    def __enter__(self):
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise BenchRefused(f"gunicorn exited with {self.process.returncode} (see its messages above).")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", self.ready_path)
                if connection.getresponse().status == 200:
                    connection.close()
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise BenchRefused("gunicorn did not answer within a minute.")
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the master and its workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def measure(extension, bare, secret, ticket_ids, clients, seconds):
    """Each endpoint in turn: a short warm-up, then `clients` clients for `seconds`."""
    base = f"/record/Contacts/{CONTACT_ID}/tickets"
    targets = {
        "bare": (bare.port, lambda token: [("/ping", {})]),
        # What htmx asks for when a rep opens the list, pages it and filters it.
        "related_list": (extension.port, lambda token: [
            (f"{base}{query}", {"HX-Request": "true", "X-Widget-Context": token})
            for query in ("", "?page=2", "?status=open", "", "?status=solved&page=2", "?page=3")]),
        "ticket_detail": (extension.port, lambda token: [
            (f"{base}/{ticket_id}", {"HX-Request": "true", "X-Widget-Context": token}) for ticket_id in ticket_ids]),
    }
    results = {}
    for name, (port, requests_for) in targets.items():
        # A context signed now, as the CRM signs one when its page opens (renewals would add their own cost).
        token = mint_context(secret, ORG_ID, USER, "Contacts", CONTACT_ID)
        drive(port, requests_for(token), clients, min(seconds, 2.0))  # warm-up: templates, connections
        results[name] = drive(port, requests_for(token), clients, seconds)
    for name in ("related_list", "ticket_detail"):
        results[name]["ratio_to_bare"] = round(results[name]["requests_per_s"] / results["bare"]["requests_per_s"], 2)
    return results


def drive(port, requests, clients, seconds):
    """`clients` threads, each on a keep-alive connection, sending `requests` ((path, headers)) in turn,
    back to back, for `seconds`. Returns the latency percentiles (ms), requests/s and status counts."""
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
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": _percentile(latencies, 50), "p95_ms": _percentile(latencies, 95),
            "p99_ms": _percentile(latencies, 99), "statuses": dict(sorted(statuses.items()))}


def _percentile(ordered, percent):
    """Nearest rank, in milliseconds."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)] * 1000, 2)
