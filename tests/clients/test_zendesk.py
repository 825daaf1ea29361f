"""The Zendesk client. Pure parts (classify on canned responses, the webhook signature, boundary
de-duplication) first; then the client driven against the Zendesk sandbox over real HTTP."""
import json
import threading
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from flask import Flask, request
from requests_oauthlib import OAuth2Session

from tests.helpers import served
from widget.clients import zendesk as zd
from widget.clients.http import (AuthenticationError, CallPacer, InvalidRequest, NotFound, PermissionDenied,
                                 RateLimited, RepeatedCursor, RetryPolicy, ServerError)
from widget.clients.zendesk import ZendeskClient, drop_repeats, verify_webhook_signature
from widget.sandbox.zendesk import CLIENT_ID, create_sandbox

REDIRECT = "http://127.0.0.1:5999/settings/zendesk/callback"
ADMIN, ADMIN_PASSWORD = "admin@acme.example", "acme-admin-pass"
FAST_PACER_LIMIT = 10_000  # for tests not about the incremental limit (rate limits off or few calls)


def canned(status, body=None, headers=None, text=None):
    """A `requests.Response` as Zendesk sends it (only for the pure classify tests)."""
    built = requests.Response()
    built.status_code = status
    built._content = (json.dumps(body) if body is not None else (text or "")).encode()
    built.headers.update(headers or {})
    return built


class Sleeps(list):
    """A sleep that records the waits asked for and does not wait (fast retry policies)."""

    def __call__(self, seconds):
        self.append(seconds)


def fast_policy(attempts=6):
    return RetryPolicy(attempts=attempts, base_delay=0.01, sleep=Sleeps())


def post(sandbox, path, body):
    answer = requests.post(f"{sandbox.url}/_sandbox/{path}", json=body)
    assert answer.status_code == 200, answer.text


def api_token_client(sandbox, email=ADMIN, policy=None, pacer=None, **kwargs):
    """A client authenticated with an API token (Basic `{email}/token:{token}`), for the resource tests."""
    session = requests.Session()
    session.auth = (f"{email}/token", next(iter(sandbox.account().api_tokens)))
    return ZendeskClient(session, sandbox.url, policy=policy or fast_policy(),
                         incremental_pacer=pacer or CallPacer(FAST_PACER_LIMIT, 60), **kwargs)


# ---- pure: classify -------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, error_type, code, words", [
    (404, {"error": "RecordNotFound", "description": "Not found"}, NotFound, "RecordNotFound", "Not found"),
    (404, {"error": "InvalidEndpoint", "description": "Not found"}, NotFound, "InvalidEndpoint", "Not found"),
    (400, {"error": "TooManyValues", "description": "Parameter  cannot specify more than 100 values",
           "max_count": 100}, InvalidRequest, "TooManyValues", "more than 100 values"),
    (422, {"error": "invalid", "description": "Invalid search: Requested response size was greater than Search "
                                              "Response Limits"}, InvalidRequest, "invalid", "Search Response Limits"),
    (401, {"error": "Couldn't authenticate you"}, AuthenticationError, "Couldn't authenticate you",
     "Couldn't authenticate you"),
    (401, {"error": "invalid_token", "error_description": "The access token provided is expired"},
     AuthenticationError, "invalid_token", "access token provided is expired"),
    (403, {"error": "Forbidden", "description": "You do not have access to this page."}, PermissionDenied,
     "Forbidden", "You do not have access"),
    (404, {"errors": [{"code": "NotFound", "title": "Not Found", "detail": "Webhook not found"}]}, NotFound,
     "NotFound", "Webhook not found"),
    (400, {"errors": [{"code": "InvalidPaginationDepth", "title": "Pagination requests using Offset Pagination "
                       "are limited"}]}, InvalidRequest, "InvalidPaginationDepth", "Offset Pagination"),
    (500, {"error": "InternalError", "description": "Internal Server Error"}, ServerError, "InternalError",
     "Internal Server Error"),
])
def test_classify_maps_each_error_body(status, body, error_type, code, words):
    error = zd.classify(canned(status, body))
    assert type(error) is error_type
    assert error.code == code and error.status == status and error.body == body
    assert words in str(error)


def test_classify_record_invalid_keeps_the_details_and_says_them():
    body = {"error": "RecordInvalid", "description": "Record validation errors", "details": {
        "email": [{"description": "Email: x@y is already being used by another user", "error": "DuplicateValue"}]}}
    error = zd.classify(canned(422, body))
    assert isinstance(error, InvalidRequest) and error.code == "RecordInvalid"
    assert error.details == body["details"]
    assert str(error) == ("RecordInvalid: Record validation errors "
                          "(email: Email: x@y is already being used by another user)")


def test_classify_rate_limit_reads_retry_after_and_plain_text_bodies_fall_back_to_the_status():
    error = zd.classify(canned(429, {"error": "APIRateLimitExceeded", "description": "Number of allowed "
                                          "incremental export API requests per minute exceeded"},
                                    {"Retry-After": "37"}))
    assert isinstance(error, RateLimited) and error.retry_after == 37.0 and error.code == "APIRateLimitExceeded"
    error = zd.classify(canned(503, text="<html>Service Unavailable</html>"))
    assert isinstance(error, ServerError) and str(error) == "HTTP 503" and error.code is None
    assert zd.classify(canned(200, {"tickets": []})) is None
    assert zd.classify(canned(204)) is None


# ---- pure: webhook signature, boundary de-duplication, base URL ----------------------------------

def test_webhook_signature_is_timestamp_then_body():
    """The reference's vector (docs/outside-apis.md#zendesk-webhook-signatures): the old doc signature verifies only as
    BODY+TIMESTAMP, timestamp+body gives `Rry/4TtI…`; we follow the current docs."""
    secret, body, ts = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    assert zd.webhook_signature(secret, ts, body).startswith("Rry/4TtI")
    assert not verify_webhook_signature(secret, ts, body, "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=")
    good = zd.webhook_signature(secret, ts, body)
    assert verify_webhook_signature(secret, ts, body, good)
    assert not verify_webhook_signature(secret, ts, body + b" ", good)
    assert not verify_webhook_signature(secret, "2021-07-25T10:00:01Z", body, good)
    assert not verify_webhook_signature("other-secret", ts, body, good)
    assert not verify_webhook_signature(secret, ts, body, "")
    assert not verify_webhook_signature("", ts, body, good)
    with pytest.raises(TypeError):
        verify_webhook_signature(secret, ts, body.decode(), good)


def test_drop_repeats_removes_records_seen_on_the_previous_page_at_the_same_stamp():
    previous = {(1, "2026-01-01T00:00:05Z"), (2, "2026-01-01T00:00:05Z")}
    page = [{"id": 2, "updated_at": "2026-01-01T00:00:05Z"}, {"id": 1, "updated_at": "2026-01-01T00:00:09Z"},
            {"id": 3, "updated_at": "2026-01-01T00:00:05Z"}]
    # id 2 repeats the boundary second; id 1 changed again since, so it is new data
    assert [r["id"] for r in drop_repeats(page, previous)] == [1, 3]


def test_base_url_from_the_configured_template():
    assert zd.account_base_url("https://{subdomain}.zendesk.com", "acme") == "https://acme.zendesk.com"
    assert zd.account_base_url("http://127.0.0.1:5001/", "acme") == "http://127.0.0.1:5001"


def test_an_oauth_token_needs_an_oauth_session():
    with pytest.raises(TypeError):
        ZendeskClient(requests.Session(), "http://127.0.0.1:1", token={"access_token": "x"})


# ---- OAuth over real HTTP: the pages, the code exchange, refresh rotation --------------------------

@pytest.fixture
def insecure_loopback(monkeypatch):
    """requests-oauthlib refuses http:// URLs unless this is set; the sandbox is plain http on loopback."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def sign_in_and_allow(authorize_url, email=ADMIN, password=ADMIN_PASSWORD, decision="allow"):
    """What the admin's browser does: open the authorization URL, fill in the sign-in form, press Allow
    (or Deny) on the consent page. Returns the redirect's query parameters."""
    browser = requests.Session()
    page = browser.get(authorize_url)
    assert page.status_code == 200 and "Sign in" in page.text
    form = BeautifulSoup(page.text, "html.parser").find("form")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}
    fields.update(email=email, password=password)
    consent = browser.post(urljoin(page.url, form["action"]), data=fields)
    assert consent.status_code == 200 and "Allow" in consent.text, consent.text
    form = BeautifulSoup(consent.text, "html.parser").find("form")
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}
    button = form.find("button", {"value": decision})
    fields[button["name"]] = button["value"]
    answer = browser.post(urljoin(consent.url, form["action"]), data=fields, allow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def authorize(sandbox, scope=zd.SCOPES):
    """The whole round trip with the client's helpers; returns (session holding the token, token)."""
    session = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT, scope=list(scope))
    url, state = zd.authorization_url(session, sandbox.url)
    assert url.startswith(f"{sandbox.url}/oauth/authorizations/new?")
    params = sign_in_and_allow(url)
    assert params["state"] == state
    token = zd.exchange_code(session, sandbox.url, params["code"], secret(sandbox))
    return session, token


def secret(sandbox):
    return sandbox.state.oauth_clients[CLIENT_ID].secret


def oauth_client(sandbox, token, saved, **kwargs):
    session = OAuth2Session(CLIENT_ID, scope=list(zd.SCOPES))
    return ZendeskClient(session, sandbox.url, token=token, on_token=saved.append, client_id=CLIENT_ID,
                         client_secret=secret(sandbox), policy=fast_policy(), **kwargs)


def test_oauth_round_trip_through_the_sign_in_and_allow_pages(zendesk, insecure_loopback):
    session, token = authorize(zendesk)
    assert token["token_type"] == "bearer" and token["refresh_token"] and token["expires_at"] > time.time() + 1700
    client = ZendeskClient(session, zendesk.url, token=token, client_id=CLIENT_ID, client_secret=secret(zendesk))
    admin = zendesk.account().find_user(email=ADMIN)
    assert client.current_token()["user_id"] == admin["id"]
    assert len(list(client.list_tickets())) == 30
    assert client.account_plan() == "Professional"


def test_deny_and_a_used_code_are_refused(zendesk, insecure_loopback):
    session = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT, scope=list(zd.SCOPES))
    url, _ = zd.authorization_url(session, zendesk.url)
    assert sign_in_and_allow(url, decision="deny")["error"] == "access_denied"

    params = sign_in_and_allow(zd.authorization_url(session, zendesk.url)[0])
    zd.exchange_code(session, zendesk.url, params["code"], secret(zendesk))
    with pytest.raises(AuthenticationError) as raised:
        zd.exchange_code(session, zendesk.url, params["code"], secret(zendesk))
    assert raised.value.code == "invalid_grant"


def test_refresh_rotation_when_zendesk_says_the_token_expired(zendesk, insecure_loopback):
    _, token = authorize(zendesk)
    saved = []
    client = oauth_client(zendesk, token, saved)
    post(zendesk, "clock", {"advance": 1801})  # the sandbox's clock passes the 30-minute expiry
    assert len(list(client.list_tickets())) == 30  # 401 invalid_token -> refresh -> the call again
    assert len(saved) == 1
    rotated = saved[0]
    assert rotated["access_token"] != token["access_token"] and rotated["refresh_token"] != token["refresh_token"]
    # The old pair is gone ("delete the previous access and refresh tokens"); the new one persists and works.
    old = requests.post(f"{zendesk.url}/oauth/tokens", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": CLIENT_ID,
        "client_secret": secret(zendesk)})
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    restarted = oauth_client(zendesk, rotated, saved)
    assert restarted.current_token()["token"] == rotated["access_token"][:10]
    assert len(saved) == 1


def test_refresh_before_expiry_happens_once_for_concurrent_calls(zendesk, insecure_loopback):
    _, token = authorize(zendesk)
    token["expires_at"] = time.time() + 10  # inside the refresh margin
    saved = []
    client = oauth_client(zendesk, token, saved)
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.current_token())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(saved) == 1  # one rotation, every call on the new token
    assert {result["token"] for result in results} == {saved[0]["access_token"][:10]}


def test_revoked_token_is_an_authentication_error(zendesk, insecure_loopback):
    _, token = authorize(zendesk)
    client = oauth_client(zendesk, token, [])
    client.revoke_current_token()
    with pytest.raises(AuthenticationError) as raised:
        client.current_token()  # invalid_token, and the refresh token went with it: re-authorize
    assert raised.value.code == "invalid_grant"


# ---- 2,500 tickets: one sandbox for the module ---------------------------------------------------

@pytest.fixture(scope="module")
def big():
    """2,500 tickets; per-plan rate limits off (these tests count pages, not budgets)."""
    with served(create_sandbox(seed_tickets=2500)) as sandbox:
        post(sandbox, "rate_limits", {"enabled": False})
        yield sandbox


@pytest.fixture
def storm(big):
    """Half of all requests answered 429 with Retry-After: 1 (injected), for the length of a test."""
    post(big, "faults", {"rate_limit_rate": 0.5})
    yield
    post(big, "faults", {"rate_limit_rate": 0.0})


def all_ticket_ids(sandbox):
    return set(sandbox.account().tickets)


def exported_ids(pages):
    return [ticket["id"] for page in pages for ticket in page.records]


PAGERS = {
    "cursor": lambda client: [t["id"] for t in client.list_tickets()],
    "offset": lambda client: [t["id"] for t in client.list_tickets_offset()],
    "incremental": lambda client: exported_ids(client.export_tickets(start_time=0, per_page=100)),
}


@pytest.mark.parametrize("way", PAGERS)
def test_2500_tickets_paged_each_way_arrive_exactly_once(big, way):
    ids = PAGERS[way](api_token_client(big))
    assert len(ids) == 2500 and set(ids) == all_ticket_ids(big)


@pytest.mark.parametrize("way", PAGERS)
def test_a_429_storm_is_survived_with_every_page_exactly_once(big, storm, way):
    client = api_token_client(big, policy=RetryPolicy(attempts=30, sleep=Sleeps()))
    ids = PAGERS[way](client)
    assert len(ids) == 2500 and set(ids) == all_ticket_ids(big)
    waits = client.policy.sleep
    assert len(waits) >= 5  # the storm really happened (25 pages at a 50% refusal rate)
    assert set(waits) == {1.0}  # each wait is the Retry-After the sandbox sent


def test_incremental_export_resumes_from_a_saved_cursor_with_no_gap_and_no_duplicate(big):
    client = api_token_client(big)
    pages = client.export_tickets(start_time=0, per_page=1000)
    first = next(pages)
    pages.close()  # the process stops after writing one page and committing its cursor
    assert len(first.records) == 1000 and not first.end_of_stream

    rest = list(client.export_tickets(cursor=first.cursor))
    before, after = exported_ids([first]), exported_ids(rest)
    assert rest[-1].end_of_stream and len(before) + len(after) == 2500
    assert set(before).isdisjoint(after) and set(before) | set(after) == all_ticket_ids(big)

    # Changes after the stream's end come from its final cursor, and nothing else does.
    changed = next(t for t in first.records if t["status"] != "closed")
    client.update_ticket(changed["id"], {"tags": ["resumed"]})
    created = client.create_ticket({"subject": "After the cursor", "comment": {"body": "Hello"}})
    # exports leave out the last minute (docs/outside-apis.md#zendesk-incremental-exports)
    post(big, "clock", {"advance": 61})
    later = list(client.export_tickets(cursor=rest[-1].cursor))
    assert sorted(exported_ids(later)) == sorted([changed["id"], created["id"]])
    assert later[-1].end_of_stream


def test_export_users_and_organizations_cover_everything_once(big):
    client = api_token_client(big)
    users = exported_ids(client.export_users(start_time=0, per_page=300))
    assert len(users) == len(set(users)) and set(users) == set(big.account().users)
    org_pages = list(client.export_organizations(start_time=0, per_page=10))
    orgs = exported_ids(org_pages)
    assert len(org_pages) >= 3  # time-based paging followed end_time
    assert len(orgs) == len(set(orgs)) and set(orgs) == set(big.account().organizations)
    assert [page.cursor for page in org_pages] == sorted(page.cursor for page in org_pages)


def test_export_ticket_events_with_and_without_comments(big):
    client = api_token_client(big)
    with_comments = list(client.export_ticket_events(start_time=0))
    events = [event for page in with_comments for event in page.records]
    assert len({event["id"] for event in events}) == len(events)
    comment_ids = {child["id"] for event in events for child in event["child_events"] if child["type"] == "Comment"}
    stored = {comment["id"] for comments in big.account().comments.values() for comment in comments}
    assert comment_ids == stored
    # Without include=comment_events, Zendesk lists each comment as its flags alone.
    without = list(client.export_ticket_events(start_time=0, include_comments=False))
    flagged = [child for page in without for event in page.records for child in event["child_events"]
               if child["event_type"] == "Comment"]
    assert {child["id"] for child in flagged} == stored
    assert all(child["comment_present"] and "body" not in child for child in flagged)


def test_show_tickets_in_batches_of_100(big):
    tickets = api_token_client(big).show_tickets(range(1, 251))
    assert sorted(t["id"] for t in tickets) == list(range(1, 251))


# ---- limits and retries on a small sandbox --------------------------------------------------------

def test_retry_after_is_honoured_in_real_time(zendesk):
    """Every request refused once; the policy's own backoff would wait 5–10 s, Retry-After says 1 s."""
    post(zendesk, "faults", {"rate_limit_rate": 1.0})
    asked = []

    def sleep(seconds):
        asked.append(seconds)
        post(zendesk, "faults", {"rate_limit_rate": 0.0})

    client = api_token_client(zendesk, policy=RetryPolicy(base_delay=10.0, sleep=sleep))
    assert client.show_ticket(1)["id"] == 1
    assert asked == [1.0]  # the one wait, Retry-After's, not the policy's backoff


def test_the_incremental_limit_is_kept_client_side(zendesk):
    """Without pacing the 11th export call in a minute is a 429; with the pacer (its clock and the
    sandbox's moved together) 30 one-ticket pages arrive with no 429 at all."""
    eager = api_token_client(zendesk, policy=fast_policy(attempts=1))
    with pytest.raises(RateLimited) as raised:
        exported_ids(eager.export_tickets(start_time=0, per_page=1))
    assert raised.value.code == "APIRateLimitExceeded" and raised.value.retry_after >= 1
    assert "incremental export API requests per minute exceeded" in str(raised.value)

    post(zendesk, "clock", {"advance": 60})  # a fresh minute
    now, waits = [0.0], []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds
        post(zendesk, "clock", {"advance": seconds})

    pacer = CallPacer(10, 60, clock=lambda: now[0], sleep=sleep)
    paced = api_token_client(zendesk, policy=fast_policy(attempts=1), pacer=pacer)
    ids = exported_ids(paced.export_tickets(start_time=0, per_page=1))
    assert sorted(ids) == sorted(all_ticket_ids(zendesk))
    assert len(waits) == 2 and all(wait == pytest.approx(60) for wait in waits)  # 30 calls: 10 a minute


def test_5xx_is_retried_then_raised_as_a_server_error(zendesk):
    post(zendesk, "faults", {"error_rate": 1.0})
    client = api_token_client(zendesk, policy=fast_policy(attempts=3))
    with pytest.raises(ServerError) as raised:
        client.show_ticket(1)
    assert raised.value.code == "InternalError" and len(client.policy.sleep) == 2


def test_repeated_cursor_is_detected(serve):
    """A list that keeps handing back the same cursor (a broken service) must not page forever."""
    app = Flask(__name__)

    @app.get("/api/v2/tickets.json")
    def looping():
        return {"tickets": [{"id": 1}], "meta": {"has_more": True, "after_cursor": "same"},
                "links": {"next": f"{request.host_url}api/v2/tickets.json?page%5Bafter%5D=same"}}

    client = ZendeskClient(requests.Session(), serve(app).url, policy=fast_policy())
    with pytest.raises(RepeatedCursor):
        list(client.list_tickets())


# ---- each error body over real HTTP ---------------------------------------------------------------

def test_each_error_body_becomes_its_typed_error(zendesk):
    client = api_token_client(zendesk)

    def raised(error_type, call):
        with pytest.raises(error_type) as info:
            call()
        return info.value

    assert raised(NotFound, lambda: client.show_ticket(999999)).code == "RecordNotFound"
    assert raised(NotFound, lambda: client._request("GET", "no_such_thing.json")).code == "InvalidEndpoint"
    assert raised(NotFound, lambda: client.webhook_signing_secret("01HNOSUCHHOOK")).code == "NotFound"

    invalid = raised(InvalidRequest, lambda: client.create_or_update_organization({"name": "Sakura Trading"}))
    assert invalid.code == "RecordInvalid" and "name" in invalid.details and "already been taken" in str(invalid)

    too_many = raised(InvalidRequest, lambda: client._request(
        "POST", "users/create_many.json", json={"users": [{"name": f"u{n}"} for n in range(101)]}))
    assert too_many.code == "TooManyValues" and "Maximum 100 users" in str(too_many)
    assert raised(InvalidRequest, lambda: client._request(
        "GET", "tickets/show_many.json", params={"ids": ",".join(map(str, range(1, 102)))})).code == "TooManyValues"

    window = raised(InvalidRequest, lambda: client._request(
        "GET", "search.json", params={"query": "type:ticket", "page": 11}))
    assert window.code == "invalid" and window.status == 422

    wrong = requests.Session()
    wrong.auth = (f"{ADMIN}/token", "not-the-token")
    denied = raised(AuthenticationError, lambda: ZendeskClient(wrong, zendesk.url).show_ticket(1))
    assert denied.code == "Couldn't authenticate you" and denied.status == 401

    bogus = requests.Session()
    bogus.headers["Authorization"] = "Bearer not-a-token"
    assert raised(AuthenticationError, lambda: ZendeskClient(bogus, zendesk.url).show_ticket(1)).code == "invalid_token"

    agent = api_token_client(zendesk, email="agent1@acme.example")  # exports are for admins only
    forbidden = raised(PermissionDenied, lambda: list(agent.export_tickets(start_time=0)))
    assert forbidden.code == "Forbidden" and "You do not have access" in str(forbidden)


# ---- resources, jobs, webhooks --------------------------------------------------------------------

def test_tickets_and_comments(zendesk):
    client = api_token_client(zendesk)
    ticket = client.create_ticket({"subject": "Printer on fire", "comment": {"body": "Smoke everywhere"},
                                   "requester": {"name": "Ren Rep", "email": "ren@example.jp"}, "priority": "high"})
    assert ticket["subject"] == "Printer on fire" and ticket["priority"] == "high"
    updated = client.update_ticket(ticket["id"], {"status": "pending", "comment": {"body": "On it",
                                                                                  "public": False}})
    assert updated["status"] == "pending"
    comments = list(client.list_comments(ticket["id"]))
    assert [c["body"] for c in comments] == ["Smoke everywhere", "On it"] and comments[1]["public"] is False
    assert client.search_users_by_email("REN@example.jp")[0]["id"] == ticket["requester_id"]
    assert client.search_users_by_email("nobody@example.jp") == []


def test_a_comment_with_its_author_and_a_status_in_one_update_never_sent_twice(zendesk):
    client = api_token_client(zendesk)
    ticket = next(t for t in zendesk.account().tickets.values() if t["status"] not in ("closed", "solved"))
    agent = client.search_users_by_email("agent2@acme.example")[0]
    updated, comment = client.comment_on_ticket(ticket["id"], {"body": "Checked the logs.", "public": False,
                                                               "author_id": agent["id"]}, status="hold")
    assert updated["status"] == "hold"
    assert (comment["body"], comment["public"], comment["author_id"]) == ("Checked the logs.", False, agent["id"])
    assert comment["id"] == list(client.list_comments(ticket["id"]))[-1]["id"] and comment["created_at"]
    assert client.comment_on_ticket(ticket["id"], status="open") == (client.show_ticket(ticket["id"]), None)

    sleeps = Sleeps()
    failing = api_token_client(zendesk, policy=RetryPolicy(attempts=6, base_delay=0.01, sleep=sleeps))
    post(zendesk, "faults", {"error_rate": 1.0})
    with pytest.raises(ServerError):
        failing.comment_on_ticket(ticket["id"], {"body": "Twice?"})
    assert sleeps == []  # a 5xx may hide a comment added: never tried again
    post(zendesk, "faults", {"error_rate": 0})


def test_agents_fields_and_plan(zendesk):
    client = api_token_client(zendesk)
    staff = {u["id"] for u in zendesk.account().users.values() if u["role"] in ("agent", "admin")}
    assert {u["id"] for u in client.list_agents()} == staff
    fields = client.ticket_fields()
    assert fields and [f["position"] for f in fields] == sorted(f["position"] for f in fields)
    assert {"subject", "status"} <= {f["type"] for f in fields}
    assert client.account_plan() == "Professional"


def test_create_or_update_users_as_polled_jobs_with_per_item_results(zendesk):
    client = api_token_client(zendesk, job_poll_interval=0.02)
    existing = next(u for u in zendesk.account().users.values() if u["role"] == "end-user")
    users = [{"name": f"New Person {n}", "email": f"new{n}@example.jp"} for n in range(148)]
    users.insert(120, {"name": "Renamed Customer", "email": existing["email"]})
    users.append({"name": "Broken", "email": "not-an-email"})
    results = client.create_or_update_users(users)
    assert [r["index"] for r in results] == list(range(150))  # two jobs, one result per input, in order
    assert results[120] == {"id": existing["id"], "status": "Updated", "index": 120, "success": True}
    assert results[149]["success"] is False and "not properly formatted" in results[149]["details"]
    created = [r for r in results if r.get("status") == "Created"]
    assert len(created) == 148
    assert zendesk.account().users[existing["id"]]["name"] == "Renamed Customer"
    assert zendesk.account().find_user(email="new147@example.jp")["id"] == results[148]["id"]


def test_organizations_upsert_and_bulk_create(zendesk):
    client = api_token_client(zendesk, job_poll_interval=0.02)
    org = client.create_or_update_organization({"name": "Kumo Robotics", "external_id": "crm-acc-1"})
    again = client.create_or_update_organization({"name": "Kumo Robotics KK", "external_id": "CRM-ACC-1"})
    assert again["id"] == org["id"] and again["name"] == "Kumo Robotics KK"
    results = client.create_many_organizations([{"name": f"Bulk Org {n}"} for n in range(205)])
    assert len(results) == 205 and all(r["status"] == "Created" for r in results)
    assert [r["index"] for r in results] == list(range(205))
    names = {o["name"] for o in zendesk.account().organizations.values()}
    assert {f"Bulk Org {n}" for n in range(205)} <= names
    assert client.organization_named("KUMO robotics kk")["id"] == org["id"]
    assert client.organization_named("Kumo") is None


def test_wait_for_job_polls_until_the_job_is_done(zendesk):
    client = api_token_client(zendesk, job_poll_interval=0.01)
    job = client._request("POST", "organizations/create_many.json",
                          json={"organizations": [{"name": f"Polled {n}"} for n in range(100)]})["job_status"]
    assert job["status"] == "queued"  # answered before the work is done
    done = client.wait_for_job(job["id"])
    assert done["status"] == "completed" and done["total"] == 100 and len(done["results"]) == 100
    assert set(client.policy.sleep) <= {0.01}  # polling waits use the client's interval


@pytest.fixture
def receiver(serve):
    """A webhook endpoint that keeps every delivery's headers and raw body."""
    app, deliveries = Flask(__name__), []

    @app.post("/hooks/zendesk")
    def receive():
        deliveries.append((dict(request.headers), request.get_data()))
        return "", 200

    app.deliveries = deliveries
    return serve(app)


def test_webhook_delivery_is_verified_and_a_forged_one_rejected(zendesk, receiver):
    client = api_token_client(zendesk)
    hook = client.create_webhook("Zendesk for Zoho CRM", f"{receiver.url}/hooks/zendesk",
                                 ["zen:event-type:ticket.created"])
    assert hook["status"] == "active" and hook["id"]
    ticket = client.create_ticket({"subject": "Signed", "comment": {"body": "Deliver me"}})
    deadline = time.monotonic() + 5
    while not receiver.deliveries and time.monotonic() < deadline:
        time.sleep(0.02)
    headers, body = receiver.deliveries[0]
    assert json.loads(body)["detail"]["id"] == str(ticket["id"])

    secret = client.webhook_signing_secret(hook["id"])
    timestamp, signature = headers["X-Zendesk-Webhook-Signature-Timestamp"], headers["X-Zendesk-Webhook-Signature"]
    assert verify_webhook_signature(secret, timestamp, body, signature)
    forged = body.replace(b"Signed", b"Forged")
    assert not verify_webhook_signature(secret, timestamp, forged, signature)
    assert not verify_webhook_signature(secret, timestamp, forged, zd.webhook_signature("guess", timestamp, forged))

    assert client.delete_webhook(hook["id"]) is True
    assert client.delete_webhook(hook["id"]) is False


def test_create_or_update_user_meets_the_user_of_the_same_email(zendesk):
    client = api_token_client(zendesk)
    created = client.create_or_update_user({"name": "Mio Mori", "email": "mio@example.org"})
    org = next(iter(zendesk.account().organizations))
    updated = client.create_or_update_user({"email": "MIO@example.org", "organization_id": org})
    assert updated["id"] == created["id"] and updated["organization_id"] == org and updated["name"] == "Mio Mori"


def test_a_ticket_created_under_an_idempotency_key_survives_a_lost_answer(zendesk):
    """The key makes the create safe to repeat, so the client retries it like an idempotent call."""
    client = api_token_client(zendesk)
    post(zendesk, "faults", {"error_rate": 1.0})
    try:
        with pytest.raises(ServerError):
            client.create_ticket({"subject": "Not twice", "comment": {"body": "Hi"}})
    finally:
        post(zendesk, "faults", {"error_rate": 0.0})
    assert len(client.policy.sleep) == 0  # without a key a 5xx is not retried: it could create a second ticket
    calls = []
    original = zendesk.app.wsgi_app

    def losing(environ, start_response):  # the first create is done, its answer lost on the way back
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].startswith("/api/v2/tickets"):
            calls.append(environ.get("HTTP_IDEMPOTENCY_KEY"))
            if len(calls) == 1:
                list(original(environ, lambda *args: None))
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"lost"]
        return original(environ, start_response)

    zendesk.app.wsgi_app = losing
    try:
        ticket = client.create_ticket({"subject": "Once", "comment": {"body": "Hi"}}, idempotency_key="form-7")
    finally:
        zendesk.app.wsgi_app = original
    assert calls == ["form-7", "form-7"]
    assert [t["id"] for t in zendesk.account().tickets.values() if t["subject"] == "Once"] == [ticket["id"]]
