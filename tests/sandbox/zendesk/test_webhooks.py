"""The Webhooks API of the Zendesk sandbox over real HTTP (docs/outside-apis.md#zendesk-webhooks)."""
import re

import pytest
import requests
from flask import Flask, request

from tests.helpers import served, zendesk_admin_session
from widget.sandbox.zendesk.state import Grant

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
EVENT_HOOK = {"name": "CRM sync", "status": "active", "endpoint": "https://example.com/hooks/zendesk",
              "http_method": "POST", "request_format": "json",
              "subscriptions": ["zen:event-type:ticket.created", "zen:event-type:user.name_changed"]}


@pytest.fixture
def api(zendesk):
    return zendesk_admin_session(zendesk, "/api/v2/webhooks")


def create(api, **fields):
    response = api.post(api.base, json={"webhook": {**EVENT_HOOK, **fields}})
    assert response.status_code == 201, response.text
    return response.json()["webhook"]


def test_create_answers_201_with_ulid_nanosecond_created_at_and_no_secrets(api, zendesk):
    admin = next(u for u in zendesk.account().users.values() if u["role"] == "admin")
    response = api.post(api.base, json={"webhook": {
        **EVENT_HOOK, "description": "Deliveries to the CRM",
        "authentication": {"type": "basic_auth", "add_position": "header",
                           "data": {"username": "john_smith", "password": "hello_123"}}}})
    assert response.status_code == 201
    hook = response.json()["webhook"]
    assert ULID.match(hook["id"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z$", hook["created_at"])
    assert hook["created_by"] == str(admin["id"])
    assert hook["authentication"] == {"type": "basic_auth", "data": {"username": "john_smith"},
                                      "add_position": "header"}
    assert "hello_123" not in response.text and "signing_secret" not in hook
    assert response.headers["Location"] == f"{api.base}/{hook['id']}"

    shown = api.get(f"{api.base}/{hook['id']}").json()["webhook"]
    # Whole seconds everywhere but in the create response ([ZENPY-CASS]).
    assert shown["created_at"] == hook["created_at"][:19] + "Z"
    assert {k: v for k, v in shown.items() if k != "created_at"} == {k: v for k, v in hook.items() if k != "created_at"}


def test_update_put_and_patch_answer_204_without_body(api):
    hook = create(api, authentication={"type": "bearer_token", "data": {"token": "t0k"}, "add_position": "header"})
    patched = api.patch(f"{api.base}/{hook['id']}", json={"webhook": {"name": "A new name", "status": "inactive"}})
    assert patched.status_code == 204 and patched.content == b""
    shown = api.get(f"{api.base}/{hook['id']}").json()["webhook"]
    assert (shown["name"], shown["status"], shown["subscriptions"]) == ("A new name", "inactive", EVENT_HOOK["subscriptions"])
    assert shown["authentication"]["type"] == "bearer_token"
    assert "updated_at" in shown and shown["updated_by"] == shown["created_by"]

    put = api.put(f"{api.base}/{hook['id']}", json={"webhook": {
        "name": "Replaced", "status": "active", "endpoint": "https://example.com/status/200",
        "http_method": "POST", "request_format": "json"}})
    assert put.status_code == 204 and put.content == b""
    shown = api.get(f"{api.base}/{hook['id']}").json()["webhook"]
    assert (shown["name"], shown["endpoint"]) == ("Replaced", "https://example.com/status/200")
    assert "authentication" not in shown  # PUT replaces the whole webhook
    assert shown["subscriptions"] == EVENT_HOOK["subscriptions"]


def test_delete_answers_204_then_not_found_in_the_webhooks_error_shape(api):
    hook = create(api)
    deleted = api.delete(f"{api.base}/{hook['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    for response in (api.get(f"{api.base}/{hook['id']}"), api.delete(f"{api.base}/{hook['id']}"),
                     api.get(f"{api.base}/{hook['id']}/signing_secret")):
        assert response.status_code == 404
        assert response.json() == {"errors": [{"code": "NotFound", "title": "Not Found", "detail": "Webhook not found"}]}


@pytest.mark.parametrize("fields, detail", [
    ({"http_method": "GET"}, "webhooks subscribed to Zendesk events must use POST and json"),
    ({"request_format": "xml"}, "webhooks subscribed to Zendesk events must use POST and json"),
    ({"subscriptions": ["conditional_ticket_events", "zen:event-type:ticket.created"]},
     "conditional_ticket_events cannot be combined with event type subscriptions"),
    ({"name": ""}, "name is required"),
    ({"status": "paused"}, "status must be active or inactive"),
    ({"authentication": {"type": "oauth", "data": {}}},
     "authentication.type must be one of basic_auth, bearer_token, api_key with a data object"),
])
def test_invalid_webhooks_are_refused_with_400(api, zendesk, fields, detail):
    response = api.post(api.base, json={"webhook": {**EVENT_HOOK, **fields}})
    assert response.status_code == 400
    assert response.json() == {"errors": [{"code": "InvalidInput", "title": "Invalid input", "detail": detail}]}
    assert zendesk.account().webhooks == {}


def test_trigger_connected_webhooks_may_use_any_method_but_cannot_switch_method(api):
    hook = create(api, http_method="GET", request_format="form_encoded", subscriptions=["conditional_ticket_events"])
    switch = api.patch(f"{api.base}/{hook['id']}", json={"webhook": {
        "http_method": "POST", "request_format": "json", "subscriptions": ["zen:event-type:ticket.created"]}})
    assert switch.status_code == 400
    assert switch.json()["errors"][0]["detail"] == "a webhook's connection method cannot be changed"


def test_list_filters_and_cursor_pages(api):
    for name in ("Alpha hook", "Beta hook", "Gamma"):
        create(api, name=name)
    create(api, name="Delta hook", status="inactive")
    body = api.get(api.base).json()
    assert body == {"webhooks": body["webhooks"], "meta": {"has_more": False}}
    assert len(body["webhooks"]) == 4
    named = api.get(api.base, params={"filter[name_contains]": "HOOK"}).json()["webhooks"]
    assert sorted(h["name"] for h in named) == ["Alpha hook", "Beta hook", "Delta hook"]
    inactive = api.get(api.base, params={"filter[status]": "inactive"}).json()["webhooks"]
    assert [h["name"] for h in inactive] == ["Delta hook"]

    seen, page = [], api.get(api.base, params={"page[size]": 3, "sort": "name"})
    while True:
        body = page.json()
        seen += [h["name"] for h in body["webhooks"]]
        if not body["meta"]["has_more"]:
            assert "next" not in body.get("links", {})
            break
        assert body["links"]["next"].startswith(api.base + "?")
        assert page.headers["Link"] == f'<{body["links"]["next"]}>; rel="next"'
        page = api.get(body["links"]["next"])
    assert seen == ["Alpha hook", "Beta hook", "Delta hook", "Gamma"]
    assert body["links"]["prev"] and body["meta"]["before_cursor"]
    back = api.get(body["links"]["prev"]).json()
    assert [h["name"] for h in back["webhooks"]] == ["Alpha hook", "Beta hook", "Delta hook"]


def test_clone_copies_the_webhook_under_a_new_id(api):
    hook = create(api)
    clone = api.post(api.base, params={"clone_webhook_id": hook["id"]})
    assert clone.status_code == 201
    copy = clone.json()["webhook"]
    assert copy["id"] != hook["id"] and copy["name"] == "CRM sync (copy)"
    assert copy["subscriptions"] == hook["subscriptions"] and copy["endpoint"] == hook["endpoint"]


def test_signing_secret_show_and_reset(api):
    hook = create(api)
    shown = api.get(f"{api.base}/{hook['id']}/signing_secret")
    assert shown.status_code == 200
    secret = shown.json()["signing_secret"]
    assert secret["algorithm"] == "SHA256" and len(secret["secret"]) == 44
    reset = api.post(f"{api.base}/{hook['id']}/signing_secret")
    assert reset.status_code == 201
    new = reset.json()["signing_secret"]
    assert new["algorithm"] == "SHA256" and new["secret"] != secret["secret"]
    assert api.get(f"{api.base}/{hook['id']}/signing_secret").json()["signing_secret"] == new


def test_webhooks_need_an_admin_and_the_webhooks_scope(api, zendesk):
    creds = zendesk.credentials(zendesk.url)["accounts"][0]
    agent = requests.get(api.base, auth=("agent1@acme.example/token", creds["api_token"]))
    assert agent.status_code == 403

    account = zendesk.account()
    admin = next(u for u in account.users.values() if u["role"] == "admin")
    now = zendesk.state.clock.now()
    for token, scope in (("tickets-only", "tickets:read"), ("hooks-read", "webhooks:read"), ("broad", "read write")):
        account.grants[token] = Grant(token, f"r-{token}", "zendesk_for_zoho_crm", admin["id"], scope,
                                      now + 1800, now + 86400, now)

    def call(method, token):
        return requests.request(method, api.base, headers={"Authorization": f"Bearer {token}"},
                                json={"webhook": EVENT_HOOK}).status_code

    assert call("GET", "tickets-only") == 403
    assert call("GET", "hooks-read") == 200
    assert call("POST", "hooks-read") == 403
    assert call("POST", "broad") == 201


def test_test_endpoint_reports_what_the_endpoint_answered(api):
    receiver = Flask("receiver")
    seen = []

    @receiver.post("/probe")
    def probe():
        seen.append((request.headers.get("X-Custom"), request.get_data(as_text=True)))
        return "teapot", 418, {"X-Answer": "42"}

    with served(receiver):
        response = api.post(f"{api.base}/test", json={"request": {
            "endpoint": f"{receiver.url}/probe", "http_method": "POST", "request_format": "json",
            "headers": [{"key": "X-Custom", "value": "yes"}], "payload": '{"say":"hello"}'}})
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["status_code"] == 418 and answer["payload"] == "teapot"
    assert {"key": "X-Answer", "value": "42"} in answer["headers"]
    assert seen == [("yes", '{"say":"hello"}')]


def test_zenpy_manages_webhooks_against_the_sandbox(zendesk, monkeypatch):
    """An independent real client (zenpy) creates, shows, lists, patches and deletes a webhook."""
    from zenpy import Zenpy
    from zenpy.lib.api_objects import Webhook

    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zendesk.url.split("//")[1])
    creds = zendesk.credentials(zendesk.url)["accounts"][0]
    client = Zenpy(subdomain="acme", email=creds["admin_email"], token=creds["api_token"])
    created = client.webhooks.create(Webhook(**EVENT_HOOK))
    assert ULID.match(created.id)
    assert client.webhooks(id=created.id).name == "CRM sync"
    assert created.id in [hook.id for hook in client.webhooks.list()]
    assert client.webhooks.show_secret(created).algorithm == "SHA256"
    created.name = "Renamed by zenpy"
    assert client.webhooks.patch(created).status_code == 204
    assert client.webhooks(id=created.id).name == "Renamed by zenpy"
    client.webhooks.delete(created)
    assert created.id not in zendesk.account().webhooks
