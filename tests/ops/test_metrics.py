"""GET /metrics: service-wide gauges in the Prometheus text format, read by Prometheus's own parser;
counted from the database, so every process answers the same; no tenant data in them. Beside them, what
the processes counted (outside calls, retries, 429s, request latency): after a sync, and added up across
processes in multiprocess mode."""
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.clients.test_zendesk import api_token_client, fast_policy
from tests.helpers import ADMIN, install
from widget.clients.http import RateLimited, endpoint_family
from widget.extensions import db
from widget.models import InboxEvent, Installation, SyncError, SyncRun, utcnow
from widget.ops.instruments import REGISTRY
from widget.ops.logs import TextFormatter
from widget.sandbox.crm.signing import mint_context
from widget.sync import runs
from widget.sync.engine import sync_settings

ROOT = Path(__file__).resolve().parents[2]


DATABASE_GAUGES = {"zendesk_crm_installations", "zendesk_crm_installations_paused", "zendesk_crm_inbox_events",
                   "zendesk_crm_inbox_oldest_waiting_seconds", "zendesk_crm_sync_errors", "zendesk_crm_sync_runs",
                   "zendesk_crm_sync_run_last_finished_timestamp_seconds"}


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples, types = {}, {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        assert family.documentation
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert {types[name] for name in DATABASE_GAUGES} == {"gauge"}
    return samples, response.get_data(as_text=True)


def test_an_empty_service(client):
    samples, _text = scrape(client)
    assert samples[("zendesk_crm_installations_paused", ())] == 0
    assert samples[("zendesk_crm_inbox_oldest_waiting_seconds", ())] == 0


def test_counts_backlog_errors_runs_and_pauses(app, client):
    first, second = install(client, org_id="org-secret-1"), install(client, org_id="org-secret-2")
    with app.app_context():
        a, b = (db.session.get(Installation, i["installation_id"]) for i in (first, second))
        b.status = "uninstalling"
        sync_settings(a).paused_reason = "Zoho CRM's daily API credits are nearly used up (42 left)."
        old = utcnow() - timedelta(seconds=90)
        db.session.add_all([
            InboxEvent(installation_id=a.id, source="zendesk", delivery_id="d1", payload={}, received_at=old),
            InboxEvent(installation_id=a.id, source="zendesk", delivery_id="d2", payload={}),
            InboxEvent(installation_id=a.id, source="crm", delivery_id="d3", payload={}, status="failed"),
            SyncError(installation_id=a.id, stream="zendesk_tickets", object_id="7", message="INVALID_DATA"),
            SyncRun(installation_id=a.id, kind="first", status="done", finished_at=utcnow()),
            SyncRun(installation_id=a.id, kind="realtime", status="running"),
        ])
        db.session.commit()
        finished = db.session.scalar(db.select(SyncRun.finished_at).filter_by(kind="first"))

    samples, text = scrape(client)
    assert samples[("zendesk_crm_installations", (("status", "installed"),))] == 1
    assert samples[("zendesk_crm_installations", (("status", "uninstalling"),))] == 1
    assert samples[("zendesk_crm_installations_paused", ())] == 1
    assert samples[("zendesk_crm_inbox_events", (("source", "zendesk"), ("status", "new")))] == 2
    assert samples[("zendesk_crm_inbox_events", (("source", "crm"), ("status", "failed")))] == 1
    assert 89 <= samples[("zendesk_crm_inbox_oldest_waiting_seconds", ())] < 120
    assert samples[("zendesk_crm_sync_errors", (("stream", "zendesk_tickets"),))] == 1
    assert samples[("zendesk_crm_sync_runs", (("kind", "first"), ("status", "done")))] == 1
    assert samples[("zendesk_crm_sync_runs", (("kind", "realtime"), ("status", "running")))] == 1
    last = samples[("zendesk_crm_sync_run_last_finished_timestamp_seconds", (("kind", "first"),))]
    assert last == pytest.approx(finished.replace(tzinfo=finished.tzinfo or utcnow().tzinfo).timestamp())
    assert "org-secret" not in text and "42 left" not in text  # no tenant data


def test_a_metrics_token_is_required_once_configured(app, client):
    app.config["METRICS_TOKEN"] = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, Authorization="Bearer scrape-me")


# ---- what the processes count ------------------------------------------------------------------------

def grown(before, after, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_after_a_sync_the_outside_calls_retries_and_request_latency_are_there(synced_installation):
    s = synced_installation
    s.zendesk.calls.lose_answer("GET", "/incremental/tickets")  # one 500: tried again
    before, _text = scrape(s.app.test_client())
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    assert db.session.get(SyncRun, run.id).status == "done"
    installation = s.installation()
    client = s.app.test_client()
    assert client.get("/settings", headers={"X-Widget-Context": mint_context(
        installation.context_secret, installation.org_id, ADMIN)}).status_code == 200

    after, text = scrape(client)
    calls = "zendesk_crm_outside_api_calls_total"
    assert grown(before, after, calls, service="zendesk", endpoint="incremental", status="500") == 1
    assert grown(before, after, calls, service="zendesk", endpoint="incremental", status="200") >= 2
    assert grown(before, after, "zendesk_crm_outside_api_retries_total", service="zendesk", endpoint="incremental",
                 reason="server_error") == 1
    assert grown(before, after, calls, service="crm", endpoint="records", status="200") >= 1
    assert grown(before, after, "zendesk_crm_outside_api_call_duration_seconds_count", service="crm",
                 endpoint="records") >= 1
    latency = "zendesk_crm_request_duration_seconds"
    assert grown(before, after, f"{latency}_count", route="settings.index") == 1
    assert grown(before, after, f"{latency}_bucket", route="settings.index", le="+Inf") == 1
    assert grown(before, after, f"{latency}_sum", route="settings.index") > 0
    # Few labels: services, families of endpoints and statuses, never an id, an org or a module's name.
    outside = [dict(labels) for (name, labels), value in after.items()
               if name.startswith("zendesk_crm_outside_api_") and value > before.get((name, labels), 0)]
    assert {labels["service"] for labels in outside} <= {"zendesk", "crm"}
    assert all(re.fullmatch(r"[a-z_]+", labels["endpoint"]) for labels in outside)
    assert installation.org_id not in text and "Zendesk_Tickets" not in text


def test_a_rate_limit_given_up_on_is_counted_and_logged_without_the_call(zendesk, caplog):
    answer = requests.post(f"{zendesk.url}/_sandbox/faults", json={"rate_limit_rate": 1}, timeout=5)
    assert answer.status_code == 200
    client = api_token_client(zendesk, policy=fast_policy(attempts=2))
    before = _process_samples()
    with caplog.at_level(logging.INFO, logger="widget"), pytest.raises(RateLimited):
        client.search_users_by_email("aiko@example.jp")
    after = _process_samples()
    assert grown(before, after, "zendesk_crm_outside_api_calls_total", service="zendesk", endpoint="users",
                 status="429") == 2
    assert grown(before, after, "zendesk_crm_outside_api_rate_limited_total", service="zendesk",
                 endpoint="users") == 2
    assert grown(before, after, "zendesk_crm_outside_api_retries_total", service="zendesk", endpoint="users",
                 reason="rate_limited") == 1
    assert grown(before, after, "zendesk_crm_outside_api_given_up_total", service="zendesk", endpoint="users",
                 reason="rate_limited") == 1
    (line,) = [r for r in caplog.records if r.getMessage() == "outside call given up"]
    assert (line.service, line.endpoint, line.method, line.reason, line.status, line.attempts) == (
        "zendesk", "users", "GET", "rate_limited", 429, 2)
    ours = "\n".join(TextFormatter().format(r) for r in caplog.records if r.name.startswith("widget."))
    assert "given up" in ours and "aiko" not in ours and "/api/v2" not in ours  # (the sandbox's own log has both)


def _process_samples():
    samples = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.mark.parametrize("url, family", [
    ("https://acme.zendesk.com/api/v2/tickets/7/comments.json", "tickets"),
    ("http://127.0.0.1:5001/api/v2/incremental/tickets/cursor.json?start_time=0", "incremental"),
    ("https://acme.zendesk.com/api/v2/search.json?query=type:user%20email:a@b.example", "search"),
    ("https://acme.zendesk.com/oauth/tokens", "oauth"),
    ("https://accounts.zoho.jp/oauth/v2/token", "oauth"),
    ("https://www.zohoapis.jp/crm/v8/Contacts/3652000000000002001", "records"),
    ("http://127.0.0.1:5002/api/jp/crm/v8/Zendesk_Tickets/upsert", "records"),
    ("https://www.zohoapis.jp/crm/v8/Contacts/search?email=a@b.example", "search"),
    ("https://www.zohoapis.jp/crm/v8/settings/modules", "settings"),
    ("https://www.zohoapis.jp/crm/v8/users/5725767000000000101", "users"),
    ("https://www.zohoapis.jp/crm/v8/coql", "coql"),
    ("https://www.zohoapis.jp/crm/v8/12345", "other"),
    ("https://example.com/elsewhere", "other"),
])
def test_endpoint_families_name_what_a_call_touches_never_an_id(url, family):
    assert endpoint_family(url) == family


MULTIPROCESS = r'''
import os, sys
os.environ["WIDGET_ENV"] = "development"
from widget import create_app
from widget.extensions import db
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[2]})
with app.app_context():
    db.create_all()
client = app.test_client()
if sys.argv[1] == "serve":
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
else:
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
'''


def test_in_multiprocess_mode_metrics_add_up_every_process(tmp_path):
    """As under gunicorn and RQ: processes write their counts into PROMETHEUS_MULTIPROC_DIR and the one
    that is scraped reports them all, including processes that have exited."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    database = str(tmp_path / "multi.db")
    for _worker in range(2):
        subprocess.run([sys.executable, "-c", MULTIPROCESS, "serve", database], env=env, cwd=ROOT, check=True,
                       timeout=60)
    scraped = subprocess.run([sys.executable, "-c", MULTIPROCESS, "scrape", database], env=env, cwd=ROOT,
                             check=True, timeout=60, capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scraped) for s in family.samples}
    assert samples[("zendesk_crm_request_duration_seconds_count", (("route", "ops.healthz"),))] == 6
    assert samples[("zendesk_crm_installations_paused", ())] == 0  # the database's gauges beside them
