"""GET /metrics: service-wide gauges in the Prometheus text format, read by Prometheus's own parser;
counted from the database, so every process answers the same; no tenant data in them."""
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import install
from widget.extensions import db
from widget.models import InboxEvent, Installation, SyncError, SyncRun, utcnow
from widget.sync.engine import sync_settings


def scrape(client, **headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        assert family.type == "gauge" and family.documentation
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
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
