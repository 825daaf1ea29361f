"""Signed webhook delivery from the Zendesk sandbox to a real receiver over HTTP
(docs/outside-apis.md#zendesk-webhook-events, docs/outside-apis.md#zendesk-webhook-signatures)."""
import base64
import hashlib
import hmac
import json
import threading
import time

import pytest
from flask import Flask, request

from tests.helpers import zendesk_admin_session
from widget.sandbox.zendesk.delivery import WebhookDelivery



class Receiver:
    """A tiny WSGI app on its own port that records every request and answers from a script; while `gate`
    is cleared, it holds its answers."""

    def __init__(self):
        self.requests, self.answers = [], []
        self.lock, self.gate = threading.Lock(), threading.Event()
        self.gate.set()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            with self.lock:
                self.requests.append({"headers": dict(request.headers), "body": request.get_data()})
                status = self.answers.pop(0) if self.answers else 200
            self.gate.wait(30)
            return "ok" if status < 300 else "nope", status

        self.app = app

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.requests)}")


def finished_invocations(api, hook_id, timeout=5.0):
    """The webhook's invocations (the sandbox's log of them) once none is waiting for another attempt."""
    deadline = time.monotonic() + timeout
    while True:
        invocations = api.get(f"{api.base}/webhooks/{hook_id}/invocations").json()["invocations"]
        if invocations and all(invocation["status"] != "accepted" for invocation in invocations):
            return invocations
        assert time.monotonic() < deadline, f"still waiting for an attempt: {invocations}"
        time.sleep(0.02)


@pytest.fixture
def receiver(serve):
    recv = Receiver()
    serve(recv.app)
    recv.url, recv.server = f"{recv.app.url}/hook", recv.app.server
    return recv


@pytest.fixture
def api(zendesk):
    session = zendesk_admin_session(zendesk)
    [delivery] = [listener for listener in zendesk.state.listeners if isinstance(listener, WebhookDelivery)]
    delivery.retry_delays = (0.1, 0.1)  # three attempts, quickly
    return session


def register(api, receiver, subscriptions, status="active", **extra):
    response = api.post(f"{api.base}/webhooks", json={"webhook": {
        "name": "receiver", "status": status, "endpoint": receiver.url, "http_method": "POST",
        "request_format": "json", "subscriptions": subscriptions, **extra}})
    assert response.status_code == 201, response.text
    hook = response.json()["webhook"]
    hook["secret"] = api.get(f"{api.base}/webhooks/{hook['id']}/signing_secret").json()["signing_secret"]["secret"]
    return hook


def verify(secret, headers, body):
    """The receiver side of the documented algorithm: base64(HMAC-SHA256(secret, timestamp + body))."""
    message = headers["X-Zendesk-Webhook-Signature-Timestamp"].encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["X-Zendesk-Webhook-Signature"])


def open_ticket(account):
    return next(t for t in account.tickets.values() if t["status"] in ("new", "open"))


def test_a_status_change_and_a_comment_arrive_signed_with_the_real_headers_and_envelope(api, zendesk, receiver):
    account = zendesk.account()
    hook = register(api, receiver, ["zen:event-type:ticket.status_changed", "zen:event-type:ticket.comment_added"])
    ticket = open_ticket(account)
    agent = next(u for u in account.users.values() if u["role"] == "agent")
    old_status = ticket["status"]
    account.update_ticket(ticket, {"status": "pending"}, {"body": "Waiting on you", "public": True}, agent["id"])

    deliveries = receiver.wait_for(2)
    by_type = {json.loads(d["body"])["type"]: d for d in deliveries}
    assert set(by_type) == {"zen:event-type:ticket.status_changed", "zen:event-type:ticket.comment_added"}
    for delivery in deliveries:
        headers, body = delivery["headers"], delivery["body"]
        assert verify(hook["secret"], headers, body)
        assert not verify(hook["secret"], headers, body.replace(b"Waiting", b"Wanting").replace(b"PENDING", b"SOLVED"))
        assert not verify("another-secret", headers, body)
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert headers["User-Agent"] == "Zendesk Webhook"
        assert headers["X-Zendesk-Account-Id"] == str(account.id)
        assert headers["X-Zendesk-Webhook-Id"] == hook["id"]
        assert len(headers["X-Zendesk-Webhook-Invocation-Id"]) == 26
        assert len(headers["X-Zendesk-Webhook-Signature-Timestamp"]) == 20  # 2023-09-18T23:38:13Z
        assert headers["X-Zendesk-Webhook-Signature-Timestamp"].endswith("Z")

    status = json.loads(by_type["zen:event-type:ticket.status_changed"]["body"])
    assert list(status) == ["type", "account_id", "id", "time", "zendesk_event_version", "subject", "detail", "event"]
    assert status["account_id"] == account.id and status["zendesk_event_version"] == "2022-11-06"
    assert status["subject"] == f"zen:ticket:{ticket['id']}"
    assert status["detail"]["id"] == str(ticket["id"])
    assert status["detail"]["requester_id"] == str(ticket["requester_id"])
    assert status["detail"]["actor_id"] == str(agent["id"])
    assert status["event"] == {"current": "PENDING", "previous": old_status.upper()}
    comment = json.loads(by_type["zen:event-type:ticket.comment_added"]["body"])["event"]["comment"]
    assert comment["body"] == "Waiting on you" and comment["is_public"] is True
    assert comment["author"] == {"id": str(agent["id"]), "name": agent["name"], "is_staff": True}


def test_failed_delivery_is_retried_and_every_attempt_is_listed(api, zendesk, receiver):
    account = zendesk.account()
    hook = register(api, receiver, ["zen:event-type:user.name_changed"],
                    authentication={"type": "bearer_token", "data": {"token": "s3cr3t"}, "add_position": "header"},
                    custom_headers={"X-Env": "sandbox"})
    receiver.answers = [500, 200]
    user = next(u for u in account.users.values() if u["role"] == "end-user" and u["organization_id"] is None)
    old_name = user["name"]
    account.update_user(user, {"name": "Hana Tanaka", "phone": "+81 3 0000 0000"})

    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]
    assert first["headers"]["X-Zendesk-Webhook-Invocation-Id"] == second["headers"]["X-Zendesk-Webhook-Invocation-Id"]
    assert first["headers"]["Authorization"] == "Bearer s3cr3t" and first["headers"]["X-Env"] == "sandbox"
    assert verify(hook["secret"], second["headers"], second["body"])
    payload = json.loads(second["body"])
    # Only the name has an event type; the phone change emits nothing (user-events docs).
    assert payload["type"] == "zen:event-type:user.name_changed"
    assert payload["event"] == {"current": "Hana Tanaka", "previous": old_name}
    assert payload["detail"]["organization_id"] == "0" and payload["detail"]["id"] == str(user["id"])

    [invocation] = finished_invocations(api, hook["id"])
    assert invocation["id"] == first["headers"]["X-Zendesk-Webhook-Invocation-Id"]
    assert (invocation["status"], invocation["status_code"]) == ("success", 200)
    attempts = api.get(f"{api.base}/webhooks/{hook['id']}/invocations/{invocation['id']}/attempts").json()["attempts"]
    assert [(a["status_code"], a["status"]) for a in attempts] == [(500, "server error"), (200, "success")]
    request_headers = {h["key"]: h["value"] for h in attempts[0]["request"]["headers"]}
    assert request_headers["Authorization"] == "[SCRUBBED]"
    assert request_headers["X-Zendesk-Webhook-Id"] == hook["id"]
    assert attempts[0]["request"]["payload"] == first["body"].decode()
    assert attempts[0]["response"]["payload"] == "nope"
    assert all(a["invocation_id"] == invocation["id"] for a in attempts)


def test_a_delivery_that_keeps_failing_stops_after_the_last_retry(api, zendesk, receiver):
    account = zendesk.account()
    hook = register(api, receiver, ["zen:event-type:organization.name_changed"])
    receiver.answers = [503, 503, 503, 503]
    org = next(iter(account.organizations.values()))
    account.update_organization(org, {"name": "Renamed Org"})
    # The sandbox gives an invocation its final status with the attempt after which it schedules no other.
    [invocation] = finished_invocations(api, hook["id"])
    assert (invocation["status"], invocation["status_code"]) == ("server error", 503)
    attempts = api.get(f"{api.base}/webhooks/{hook['id']}/invocations/{invocation['id']}/attempts").json()["attempts"]
    assert len(attempts) == len(receiver.requests) == 3


def test_inactive_or_unsubscribed_webhooks_get_nothing(api, zendesk, receiver):
    account = zendesk.account()
    inactive = register(api, receiver, ["zen:event-type:ticket.created"], status="inactive")
    active = register(api, receiver, ["zen:event-type:user.created"])
    requester = next(u for u in account.users.values() if u["role"] == "end-user")
    account.create_ticket({"requester_id": requester["id"], "subject": "Quiet"}, {"body": "x"}, requester["id"])
    account.create_user({"name": "New Person", "email": "new.person@example.org"})
    # The sandbox logs an invocation when it queues one, before the change's API answer: nothing for the
    # inactive webhook, the user's for the other; once it is done, the receiver has had all there is.
    assert api.get(f"{api.base}/webhooks/{inactive['id']}/invocations").json()["invocations"] == []
    [invocation] = finished_invocations(api, active["id"])
    assert invocation["status"] == "success"
    assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["zen:event-type:user.created"]
    created = json.loads(receiver.requests[0]["body"])
    assert created["event"] == {} and created["detail"]["email"] == "new.person@example.org"


def test_the_api_call_does_not_wait_for_a_slow_receiver(api, zendesk, receiver):
    register(api, receiver, ["zen:event-type:ticket.priority_changed"])
    receiver.gate.clear()  # the receiver holds the delivery (up to 30 s) until the API call has answered
    ticket = open_ticket(zendesk.account())
    response = api.put(f"{api.base}/tickets/{ticket['id']}.json", timeout=10,
                       json={"ticket": {"priority": "urgent" if ticket["priority"] != "urgent" else "low"}})
    assert response.status_code == 200
    receiver.gate.set()
    [delivery] = receiver.wait_for(1)
    assert json.loads(delivery["body"])["type"] == "zen:event-type:ticket.priority_changed"


def test_unreachable_endpoint_is_recorded_as_a_failed_attempt(api, zendesk, receiver):
    hook = register(api, receiver, ["zen:event-type:user.created"])
    receiver.server.close()  # nobody listens any more
    zendesk.account().create_user({"name": "Lost Person"})
    [invocation] = finished_invocations(api, hook["id"])
    assert (invocation["status"], invocation["status_code"]) == ("failed", 502)
    attempts = api.get(f"{api.base}/webhooks/{hook['id']}/invocations/{invocation['id']}/attempts").json()["attempts"]
    assert len(attempts) == 3 and attempts[-1]["response"]["payload"].startswith("Error: ")
