"""The webhooks blueprint: Zendesk deliveries and CRM notifications arrive over real HTTP from the
sandboxes, are verified, stored (deduplicated) before the 200, and refused when forged, stale or
addressed to no installation — with nothing stored then."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.lifecycle.conftest import crm, crm_api_session, zendesk_server  # noqa: F401 (fixtures)
from tests.webhooks.served import served_installation, wait_for
from widget.clients.zendesk import webhook_signature
from widget.extensions import db
from widget.models import InboxEvent


@pytest.fixture
def served(tmp_path, crm, zendesk_server):  # noqa: F811
    # No first sync yet: deliveries are stored and wait (real time applies only after it).
    with served_installation(tmp_path, crm, zendesk_server, first_sync_done=False) as served:
        with served.app.app_context():
            yield served


def admin_session(sandbox, subdomain="acme"):
    account = next(a for a in sandbox.credentials(sandbox.url)["accounts"] if a["subdomain"] == subdomain)
    session = requests.Session()
    session.auth = (f"{account['admin_email']}/token", account["api_token"])
    return session


def change_a_ticket(zendesk_server):  # noqa: F811
    """Change a ticket's status through the Zendesk API; returns the webhook attempt that delivered it."""
    account = zendesk_server.account("acme")
    ticket_id = min(account.tickets)
    answer = admin_session(zendesk_server).put(f"{zendesk_server.url}/api/v2/tickets/{ticket_id}.json",
                                               json={"ticket": {"status": "hold"}}, timeout=5)
    assert answer.status_code == 200, answer.text
    (hook,) = account.webhooks.values()
    invocation = wait_for(lambda: next((i for i in hook["_invocations"] if i["status"] != "accepted"
                                        and "status_changed" in i["attempts"][-1]["request"]["payload"]), None))
    assert (invocation["status"], invocation["status_code"]) == ("success", 200)
    return ticket_id, invocation["attempts"][-1]


def replay(served, attempt, payload=None, **header_changes):
    headers = {h["key"]: h["value"] for h in attempt["request"]["headers"]}
    headers.update(header_changes)
    body = (payload if payload is not None else attempt["request"]["payload"]).encode()
    return requests.post(f"{served.url}/webhooks/zendesk/{served.installation_key}", data=body, headers=headers,
                         timeout=5)


def count_events():
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count()).select_from(InboxEvent))


def test_a_zendesk_delivery_is_verified_and_stored_before_the_200(served, zendesk_server):  # noqa: F811
    ticket_id, attempt = change_a_ticket(zendesk_server)
    sent = json.loads(attempt["request"]["payload"])
    event = db.session.scalar(db.select(InboxEvent).filter_by(delivery_id=sent["id"]))
    assert event is not None, "acknowledged with 200 but not in the inbox"
    assert (event.source, event.object_kind, event.object_id) == ("zendesk", "ticket", str(ticket_id))
    assert event.payload["type"] == "zen:event-type:ticket.status_changed"
    assert event.payload["event"] == {"current": "HOLD", "previous": sent["event"]["previous"]}
    # Before the first sync nothing is applied: the event waits for it.
    assert event.status == "new"


def test_a_replayed_delivery_is_acknowledged_and_changes_nothing(served, zendesk_server):  # noqa: F811
    _ticket_id, attempt = change_a_ticket(zendesk_server)
    before = count_events()
    answer = replay(served, attempt)
    assert (answer.status_code, answer.json()) == (200, {"status": "duplicate"})
    assert count_events() == before


def test_forged_deliveries_are_refused_and_nothing_is_stored(served, zendesk_server):  # noqa: F811
    _ticket_id, attempt = change_a_ticket(zendesk_server)
    before = count_events()
    payload = json.loads(attempt["request"]["payload"])
    payload["id"] = "forged-" + payload["id"]  # a new event under a copied signature
    forged = replay(served, attempt, payload=json.dumps(payload))
    assert (forged.status_code, forged.json()["error"]) == (401, "invalid_signature")
    wrong_key = replay(served, attempt, payload=json.dumps(payload), **{
        "X-Zendesk-Webhook-Signature": webhook_signature("not-the-secret", attempt_timestamp(attempt),
                                                         json.dumps(payload).encode())})
    assert wrong_key.status_code == 401
    unsigned = requests.post(f"{served.url}/webhooks/zendesk/{served.installation_key}", json=payload, timeout=5)
    assert unsigned.status_code == 401
    assert count_events() == before


def attempt_timestamp(attempt):
    return next(h["value"] for h in attempt["request"]["headers"] if h["key"] == "X-Zendesk-Webhook-Signature-Timestamp")


def test_a_correctly_signed_but_stale_delivery_is_refused(served, zendesk_server):  # noqa: F811
    _ticket_id, attempt = change_a_ticket(zendesk_server)
    before = count_events()
    payload = json.loads(attempt["request"]["payload"])
    payload["id"] = "captured-long-ago"
    body = json.dumps(payload).encode()
    secret = served.installation().zendesk_webhook_secret
    for minutes, status in ((-6, 401), (6, 401), (-4, 200)):
        stamp = (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = replay(served, attempt, payload=body.decode(), **{
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Signature": webhook_signature(secret, stamp, body)})
        assert answer.status_code == status, (minutes, answer.text)
    assert count_events() == before + 1  # only the one within the window


def test_unknown_installation_key_is_404_and_nothing_is_stored(served, zendesk_server):  # noqa: F811
    _ticket_id, attempt = change_a_ticket(zendesk_server)
    before = count_events()
    headers = {h["key"]: h["value"] for h in attempt["request"]["headers"]}
    for path in ("zendesk", "crm"):
        answer = requests.post(f"{served.url}/webhooks/{path}/no-such-key", headers=headers,
                               data=attempt["request"]["payload"].encode(), timeout=5)
        assert (answer.status_code, answer.json()["error"]) == (404, "not_found")
    assert count_events() == before


def test_a_crm_notification_is_verified_by_its_channel_token_and_deduplicated(served, crm):  # noqa: F811
    session = crm_api_session(crm, "jp")
    created = session.post(f"{session.base}/Contacts", json={"data": [{"Last_Name": "Tanaka",
                                                                      "Email": "tanaka@example.jp"}]}, timeout=5)
    assert created.status_code == 201, created.text
    contact_id = created.json()["data"][0]["details"]["id"]
    notifier = crm.app.config["SANDBOX_NOTIFIER"]
    delivery = wait_for(lambda: next((d for d in notifier.log if d["delivered"] and contact_id in d["body"]["ids"]),
                                     None))
    assert delivery["status"] == 200
    (event,) = served.events(source="crm")
    assert (event.object_kind, event.object_id, event.payload["operation"]) == ("Contacts", contact_id, "insert")
    assert "token" not in event.payload  # the channel's secret is not kept
    url = f"{served.url}/webhooks/crm/{served.installation_key}"
    again = requests.post(url, json=delivery["body"], timeout=5)
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    before = count_events()
    for forged in ({**delivery["body"], "token": "guessed", "server_time": 1},
                   {**delivery["body"], "channel_id": "1", "server_time": 2},
                   {key: value for key, value in delivery["body"].items() if key != "token"}):
        answer = requests.post(url, json=forged, timeout=5)
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_token")
    assert count_events() == before


def _signed_again(served, attempt, secret, event_id):
    payload = json.loads(attempt["request"]["payload"])
    payload["id"] = event_id
    body = json.dumps(payload)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return replay(served, attempt, payload=body, **{"X-Zendesk-Webhook-Signature-Timestamp": stamp,
                                                    "X-Zendesk-Webhook-Signature": webhook_signature(secret, stamp,
                                                                                                     body.encode())})


def test_a_new_webhook_secret_verifies_at_its_first_delivery_and_the_old_one_no_more(served, zendesk_server):  # noqa: F811
    """The address's values are remembered between deliveries (widget/webhooks/addresses.py), and read
    again when a delivery does not verify with them."""
    _ticket_id, attempt = change_a_ticket(zendesk_server)
    old_secret = served.installation().zendesk_webhook_secret
    assert _signed_again(served, attempt, old_secret, "before-the-new-secret").json() == {"status": "stored"}
    installation = served.installation()
    installation.zendesk_webhook_secret = "a-webhook-created-again-with-a-new-secret"
    db.session.commit()
    before = count_events()
    fresh = _signed_again(served, attempt, "a-webhook-created-again-with-a-new-secret", "after-the-new-secret")
    assert (fresh.status_code, fresh.json()) == (200, {"status": "stored"})
    stale = _signed_again(served, attempt, old_secret, "signed-with-the-old-secret")
    assert (stale.status_code, stale.json()["error"]) == (401, "invalid_signature")
    assert count_events() == before + 1


def test_an_installation_being_uninstalled_takes_no_delivery_once_its_address_is_read_again(
        served, zendesk_server, monkeypatch):  # noqa: F811
    from widget.webhooks import addresses

    _ticket_id, attempt = change_a_ticket(zendesk_server)
    secret = served.installation().zendesk_webhook_secret
    installation = served.installation()
    installation.status = "uninstalling"
    db.session.commit()
    monkeypatch.setattr(addresses, "REMEMBERED_FOR", 0.0)  # what is remembered has expired
    before = count_events()
    answer = _signed_again(served, attempt, secret, "during-the-uninstall")
    assert (answer.status_code, answer.json()["error"]) == (404, "not_found")
    assert count_events() == before
