"""Notifications (`/actions/watch` and callback delivery to a real receiver) and edition limits
(concurrency, sub-concurrency, daily credits) of the CRM sandbox, over real HTTP."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, request

from tests.helpers import served
from tests.sandbox.crm.crm_helpers import assert_error


@pytest.fixture
def receiver():
    """A small app on its own port that records callback bodies; the first `fail_first` calls get a 500;
    while `gate` is cleared, callbacks wait."""
    app = Flask(__name__)
    app.received, app.fail_first, app.calls = [], 0, 0
    arrived, app.gate = threading.Event(), threading.Event()
    app.gate.set()

    @app.post("/hook")
    def hook():
        app.gate.wait(30)
        app.calls += 1
        if app.calls <= app.fail_first:
            return "busy", 500
        app.received.append(request.get_json())
        arrived.set()
        return "", 204

    app.arrived = arrived
    with served(app):
        yield app


def wait_for(predicate, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def in_days(days):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds")


def test_edit_is_delivered_to_the_notify_url_with_the_channel_token(crm, receiver):
    api = crm.api()
    receiver.fail_first = 1  # the first attempt fails; the sandbox retries
    enabled = api.post(f"{api.base}/actions/watch", json={"watch": [{
        "channel_id": "1000000068001", "events": ["Contacts.edit", "Deals.all"], "token": "verify-me",
        "notify_url": f"{receiver.url}/hook?key1=val1", "channel_expiry": in_days(2),
        "return_affected_field_values": True}]}, timeout=10)
    assert enabled.status_code == 201
    item = enabled.json()["watch"][0]
    assert item["message"] == "Successfully subscribed for actions-watch of the given module"
    assert [e["resource_name"] for e in item["details"]["events"]] == ["Contacts", "Deals"]

    contact = api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "per_page": 1}, timeout=10).json()["data"][0]
    receiver.gate.clear()  # the callback waits until the write is answered: delivery is off the request thread
    answer = api.put(f"{api.base}/Contacts/{contact['id']}", json={"data": [{"Title": "Head of Support"}]}, timeout=10)
    assert answer.status_code == 200 and receiver.received == []
    receiver.gate.set()
    assert wait_for(lambda: receiver.received)
    body = receiver.received[0]
    assert body["module"] == "Contacts" and body["ids"] == [contact["id"]] and body["operation"] == "update"
    assert body["token"] == "verify-me" and body["channel_id"] == "1000000068001"
    assert body["query_params"] == {"key1": "val1"}
    assert body["resource_uri"] == f"{api.base}/Contacts"
    assert body["affected_fields"] == [{contact["id"]: ["Title"]}]
    assert receiver.calls == 2  # one failure, one retry
    # The sandbox logs the outcome after the receiver has answered: wait for it rather than race it.
    def last_delivery():
        return crm.sandbox.app.test_client().get("/_sandbox/deliveries").get_json()["deliveries"][-1]
    assert wait_for(lambda: last_delivery()["delivered"])
    assert last_delivery()["attempts"] == 2

    # Creates of unwatched modules send nothing; a Deals create sends "insert".
    api.post(f"{api.base}/Contacts", json={"data": [{"Last_Name": "Quiet"}]}, timeout=10)
    deal = api.post(f"{api.base}/Deals", json={"data": [{"Deal_Name": "Loud", "Stage": "Qualification"}]},
                    timeout=10).json()["data"][0]["details"]["id"]
    assert wait_for(lambda: len(receiver.received) == 2)
    assert receiver.received[1]["operation"] == "insert" and receiver.received[1]["ids"] == [deal]
    api.delete(f"{api.base}/Deals/{deal}", timeout=10)
    assert wait_for(lambda: len(receiver.received) == 3)
    assert receiver.received[2]["operation"] == "delete"
    assert all(b["module"] != "Contacts" or b["operation"] == "update" for b in receiver.received)


def test_watch_list_update_disable_and_expiry(crm, receiver):
    api = crm.api()
    url = f"{receiver.url}/hook"
    api.post(f"{api.base}/actions/watch", json={"watch": [
        {"channel_id": "1", "events": ["Leads.create"], "notify_url": url, "channel_expiry": in_days(30)},
        {"channel_id": "2", "events": ["Accounts.edit"], "notify_url": url}]}, timeout=10)
    listed = api.get(f"{api.base}/actions/watch", timeout=10).json()["watch"]
    assert {c["channel_id"] for c in listed} == {"1", "2"}
    # More than a week (or none) falls back to one hour (enable docs, docs/outside-apis.md#crm-notifications).
    one_hour = [datetime.fromisoformat(c["channel_expiry"]) - datetime.now(timezone.utc) for c in listed]
    assert all(timedelta(minutes=58) < left <= timedelta(hours=1) for left in one_hour)

    patched = api.patch(f"{api.base}/actions/watch", json={"watch": [
        {"channel_id": "1", "channel_expiry": in_days(6)}]}, timeout=10)
    assert patched.json()["watch"][0]["message"] == "Successfully updated the subscribe details"
    channel = api.get(f"{api.base}/actions/watch", params={"channel_id": "1"}, timeout=10).json()["watch"][0]
    assert datetime.fromisoformat(channel["channel_expiry"]) - datetime.now(timezone.utc) > timedelta(days=5)
    unsub = api.patch(f"{api.base}/actions/watch", json={"watch": [
        {"channel_id": "2", "events": ["Accounts.edit"], "_delete_events": True}]}, timeout=10)
    assert unsub.json()["watch"][0]["message"] == "Successfully un-subscribed from actions-watch"
    removed = api.delete(f"{api.base}/actions/watch", params={"channel_ids": "1,77"}, timeout=10)
    assert removed.status_code == 207
    assert removed.json()["watch"][0]["message"] == "Successfully removed the subscribe details"
    assert removed.json()["watch"][1]["code"] == "NOT_SUBSCRIBED"
    assert api.get(f"{api.base}/actions/watch", timeout=10).status_code == 204

    api.post(f"{api.base}/actions/watch", json={"watch": [
        {"channel_id": "3", "events": ["Leads.create"], "notify_url": url}]}, timeout=10)
    crm.control("clock", {"advance": 3601})
    fresh = crm.api()
    assert fresh.get(f"{fresh.base}/actions/watch", timeout=10).status_code == 204
    fresh.post(f"{fresh.base}/Leads", json={"data": [{"Last_Name": "After expiry"}]}, timeout=10)
    # A channel made afterwards is told of the next Lead; the sandbox sends callbacks one at a time, in
    # order, so one for the expired channel would have come first.
    fresh.post(f"{fresh.base}/actions/watch", json={"watch": [
        {"channel_id": "4", "events": ["Leads.create"], "notify_url": url}]}, timeout=10)
    fresh.post(f"{fresh.base}/Leads", json={"data": [{"Last_Name": "Witness"}]}, timeout=10)
    assert wait_for(lambda: receiver.received)
    assert receiver.calls == 1 and [body["channel_id"] for body in receiver.received] == ["4"]


def test_watch_errors(crm):
    api = crm.api()
    bad = api.post(f"{api.base}/actions/watch", json={"watch": [
        {"events": ["Leads.create"], "notify_url": "http://127.0.0.1:9/x"},
        {"channel_id": "5", "events": ["Nope.create"], "notify_url": "http://127.0.0.1:9/x"},
        {"channel_id": "6", "events": ["Leads.create"], "notify_url": "http://127.0.0.1:9/x", "token": "t" * 51},
        {"channel_id": "7", "events": ["Leads.create"]},
    ]}, timeout=10)
    assert bad.status_code == 400
    codes = [(w["code"], w["details"]["api_name"]) for w in bad.json()["watch"]]
    assert codes == [("MANDATORY_NOT_FOUND", "channel_id"), ("INVALID_DATA", "events[0]"), ("INVALID_DATA", "token"),
                     ("MANDATORY_NOT_FOUND", "notify_url")]


def test_concurrency_limit_answers_too_many_requests(crm):
    crm.control("orgs/us/edition", {"edition": "free"})  # 5 concurrent calls (docs/outside-apis.md#crm-api-limits)
    api = crm.api()
    crm.control("faults", {"latency": 0.6})

    def call(_):
        return api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "per_page": 1}, timeout=10)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(call, range(12)))
    crm.control("faults", {"latency": 0})
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) <= 5 and statuses.count(429) >= 7, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert_error(refused, 429, "TOO_MANY_REQUESTS", limit_type="concurrency", limit=5)
    assert api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "per_page": 1}, timeout=10).status_code == 200


def test_sub_concurrency_for_bulk_writes(crm):
    crm.control("orgs/us/edition", {"edition": "ultimate"})  # 25 concurrent, but 10 heavy at once
    api = crm.api()
    crm.control("faults", {"latency": 0.6})

    def bulk_insert(n):
        batch = [{"Last_Name": f"Bulk {n}-{i}"} for i in range(11)]
        return api.post(f"{api.base}/Leads", json={"data": batch}, timeout=10)

    with ThreadPoolExecutor(max_workers=14) as pool:
        answers = list(pool.map(bulk_insert, range(14)))
    crm.control("faults", {"latency": 0})
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 4
    assert_error(refused[0], 429, "TOO_MANY_REQUESTS", limit_type="sub_concurrency", limit=10)


def test_daily_credits_run_out(crm):
    api = crm.api()
    org = api.get(f"{api.base}/org", timeout=10).json()["org"][0]
    assert org["edition"] == "enterprise"
    daily = crm.control("orgs/us/credits", {"used": 0})["daily_credits"]
    assert daily == 50_000 + 1_000 * 4  # Enterprise: 50,000 + 1,000 per user licence
    crm.control("orgs/us/credits", {"used": daily - crm.control("orgs/us/credits", {"used": 0})["used"] - 1})
    last = api.get(f"{api.base}/Leads", params={"fields": "Last_Name", "per_page": 1}, timeout=10)
    assert last.status_code == 200 and last.headers["X-API-CREDITS-REMAINING"] == "0"
    assert_error(api.get(f"{api.base}/Leads", params={"fields": "Last_Name"}, timeout=10), 429, "TOO_MANY_REQUESTS",
                 limit_type="credits")
    crm.control("clock", {"advance": 25 * 3600})  # rolling 24 h window
    fresh = crm.api()
    assert fresh.get(f"{fresh.base}/Leads", params={"fields": "Last_Name", "per_page": 1}, timeout=10).status_code == 200
