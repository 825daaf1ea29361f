"""The webhook ingest benchmark (`flask --app wsgi bench webhooks`): signed Zendesk deliveries, as fast
as `concurrency` senders can post them, to the extension served by gunicorn in a process of its own.

A fresh database (a temporary SQLite file, or a PostgreSQL schema created and dropped here) gets one
installation with a webhook secret. Each delivery is an event-subscribed payload
(docs/outside-apis.md#zendesk-webhook-events) signed as Zendesk signs it (the sandbox's own `signature`, never the
product's verifier), with a fresh timestamp and invocation id per attempt; every RESEND_EVERY-th event is posted a
second time with the same event id, as Zendesk's retries and a second webhook are. The figures: acknowledged deliveries
per second, p50/p95/p99 of the acknowledgement, and the rows in the inbox afterwards (must be the event count).

The installation's first sync is not done, so the inbox keeps every event waiting (widget/sync/inbox.py)
and the figures are the ingest alone, not the drain's calls to Zendesk.
"""
import http.client
import json
import os
import secrets
import socket
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager

import sqlalchemy
from sqlalchemy.engine import make_url

from .serving import Gunicorn

RESEND_EVERY = 10
SUBDOMAIN = "acme"


@contextmanager
def bench_database(database_url=None):
    """A database URL of the bench's own: a temporary SQLite file, or a fresh schema of `database_url`
    (PostgreSQL) that every connection uses first, dropped afterwards with all it holds."""
    if not database_url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    url = make_url(database_url)
    schema = f"bench_webhooks_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sqlalchemy.schema.CreateSchema(schema))
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.schema.DropSchema(schema, cascade=True))
        admin.dispose()


def create_installation(database_url):
    """The tables and one installed installation with a webhook secret: (installation key, secret, id)."""
    from .. import create_app
    from ..extensions import db
    from ..models import Installation

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        db.create_all()
        installation = Installation(org_id="bench-webhooks", org_name="Bench", data_center="jp",
                                    zendesk_subdomain=SUBDOMAIN, zendesk_webhook_id="bench")
        installation.zendesk_webhook_secret = secrets.token_urlsafe(32)
        db.session.add(installation)
        db.session.commit()
        found = (installation.installation_key, installation.zendesk_webhook_secret, installation.id)
        db.engine.dispose()
    return found


def stored_events(database_url, installation_id):
    from .. import create_app
    from ..extensions import db
    from ..models import InboxEvent

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count(InboxEvent.id)).filter_by(installation_id=installation_id))
        db.engine.dispose()
    return count


def event_body(number):
    """An event-subscribed Zendesk payload (docs/outside-apis.md#zendesk-webhook-events) about ticket `number`."""
    from ..sandbox.zendesk.state import iso

    return json.dumps({
        "type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": str(uuid.uuid4()),
        "time": iso(time.time()), "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{number}",
        "detail": {"id": str(number), "status": "OPEN", "subject": f"Ticket {number}",
                   "via": {"channel": "web_service"}},
        "event": {"current": "OPEN", "previous": "NEW"},
    }).encode()


def deliveries(events):
    """The bodies to post, in order: each event once, every RESEND_EVERY-th again right after a while."""
    bodies = [event_body(number) for number in range(1, events + 1)]
    sends = []
    for index, body in enumerate(bodies):
        sends.append(body)
        if index % RESEND_EVERY == 0 and index >= RESEND_EVERY:
            sends.append(bodies[index - RESEND_EVERY])  # a redelivery, some events later
    return sends


class Sender:
    """`concurrency` threads posting deliveries over kept-alive connections; latencies in seconds."""

    def __init__(self, port, path, secret, bodies, concurrency):
        self.port, self.path, self.secret = port, path, secret
        self.bodies, self.next, self.lock = bodies, 0, threading.Lock()
        self.latencies, self.answers, self.failures = [], {}, []
        self.threads = [threading.Thread(target=self._send_all, daemon=True) for _ in range(concurrency)]

    def run(self):
        started = time.monotonic()
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.join()
        return time.monotonic() - started

    def _take(self):
        with self.lock:
            if self.next >= len(self.bodies):
                return None
            self.next += 1
            return self.bodies[self.next - 1]

    def _send_all(self):
        from ..sandbox.zendesk.delivery import signature  # signed as Zendesk signs, with the sandbox's code
        from ..sandbox.zendesk.state import iso

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        latencies, answers = [], {}
        while (body := self._take()) is not None:
            timestamp = iso(time.time())
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "X-Zendesk-Webhook-Signature": signature(self.secret, timestamp, body),
                       "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                       "X-Zendesk-Webhook-Invocation-Id": uuid.uuid4().hex, "X-Zendesk-Webhook-Id": "bench"}
            sent = time.monotonic()
            try:
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as failure:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                with self.lock:
                    self.failures.append(repr(failure))
                continue
            latencies.append(time.monotonic() - sent)
            key = json.loads(answer).get("status") if response.status == 200 else str(response.status)
            answers[key] = answers.get(key, 0) + 1
        conn.close()
        with self.lock:
            self.latencies.extend(latencies)
            for key, count in answers.items():
                self.answers[key] = self.answers.get(key, 0) + count


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def run(events, concurrency, database_url=None, workers=2, threads=4):
    """Post the deliveries; the result as one dict (the JSON line the command prints)."""
    socket.setdefaulttimeout(60)
    with ExitStack() as stack:
        url = stack.enter_context(bench_database(database_url))
        key, secret, installation_id = create_installation(url)
        env = {**os.environ, "DATABASE_URL": url, "WIDGET_ENV": "development", "SYNC_QUEUE": "thread",
               "SCHEDULER_ENABLED": "0"}
        log = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), "extension.log")
        server = stack.enter_context(Gunicorn("wsgi:app", env, workers, threads, "/healthz", log))
        bodies = deliveries(events)
        sender = Sender(server.port, f"/webhooks/zendesk/{key}", secret, bodies, concurrency)
        seconds = sender.run()
        stored = stored_events(url, installation_id)
    latencies = sorted(sender.latencies)
    acknowledged = sender.answers.get("stored", 0) + sender.answers.get("duplicate", 0)
    return {
        "events": events, "deliveries": len(bodies), "resent": len(bodies) - events, "concurrency": concurrency,
        "database": make_url(url).get_backend_name(), "gunicorn": f"{workers} workers x {threads} threads",
        "seconds": round(seconds, 2), "events_per_s": round(acknowledged / seconds, 1) if seconds else None,
        "p50_ms": _ms(percentile(latencies, 0.50)), "p95_ms": _ms(percentile(latencies, 0.95)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "answers": sender.answers, "failures": len(sender.failures), "stored": stored,
    }


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)
