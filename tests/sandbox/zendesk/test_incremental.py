"""Incremental exports of the Zendesk sandbox over real HTTP (docs/outside-apis.md#zendesk-incremental-exports)."""
import base64

import pytest
import requests

from widget.sandbox.zendesk import create_sandbox

TOO_RECENT = {"error": "InvalidValue", "description": "Too recent start_time. Use a start_time older than 1 minute"}
RATE_LIMITED = {"error": "APIRateLimitExceeded",
                "description": "Number of allowed incremental export API requests per minute exceeded"}


def session_for(sandbox):
    creds = sandbox.credentials(sandbox.url)["accounts"][0]
    session = requests.Session()
    session.auth = (f"{creds['admin_email']}/token", creds["api_token"])
    return session


@pytest.fixture
def served(serve):
    """Start a sandbox with the given seed on a free port; closed after the test."""
    def start(**kwargs):
        sandbox = serve(create_sandbox(**kwargs))
        return sandbox, session_for(sandbox)

    return start


def advance(sandbox, seconds):
    assert requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": seconds}).status_code == 200


def decode(cursor):
    return base64.b64decode(cursor).decode()


def export_all(session, url, key):
    """Follow after_url until end_of_stream; returns the pages and the last after_cursor."""
    pages, body = [], session.get(url).json()
    pages.append(body[key])
    while not body["end_of_stream"]:
        body = session.get(body["after_url"]).json()
        pages.append(body[key])
    return pages, body["after_cursor"]


def test_cursor_export_of_2500_tickets_in_three_pages_without_gap_or_duplicate(served):
    sandbox, api = served(seed_tickets=2500)
    first = api.get(f"{sandbox.url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    assert first.status_code == 200
    body = first.json()
    assert list(body) == ["tickets", "after_url", "after_cursor", "before_url", "before_cursor", "end_of_stream"]
    assert body["end_of_stream"] is False
    assert body["after_url"].startswith(f"{sandbox.url}/api/v2/incremental/tickets/cursor.json?cursor=")
    last = body["tickets"][-1]
    # The real cursor format: base64("<generated_timestamp>.0||<id>|").
    assert decode(body["after_cursor"]) == f"{last['generated_timestamp']}.0||{last['id']}|"
    assert decode(body["before_cursor"]) == f"{body['tickets'][0]['generated_timestamp']}.0||{body['tickets'][0]['id']}|"

    pages, _ = export_all(api, f"{sandbox.url}/api/v2/incremental/tickets/cursor.json?start_time=0", "tickets")
    assert [len(page) for page in pages] == [1000, 1000, 500]
    tickets = [t for page in pages for t in page]
    ids = [t["id"] for t in tickets]
    assert len(set(ids)) == 2500 and set(ids) == set(sandbox.account().tickets)
    keys = [(t["generated_timestamp"], t["id"]) for t in tickets]
    assert keys == sorted(keys)
    assert tickets[0]["url"] == f"{sandbox.url}/api/v2/tickets/{tickets[0]['id']}.json"
    assert not [k for k in tickets[0] if k.startswith("_")]


def test_saved_cursor_returns_exactly_what_changed_once_the_minute_has_passed(served):
    sandbox, api = served(seed_tickets=40)
    account = sandbox.account()
    url = f"{sandbox.url}/api/v2/incremental/tickets/cursor.json?start_time=0"
    pages, saved = export_all(api, url, "tickets")
    assert sum(len(p) for p in pages) == 40

    changed = [t for t in account.tickets.values() if t["status"] != "closed"][:3]
    for ticket in changed:
        account.update_ticket(ticket, {"priority": "urgent" if ticket["priority"] != "urgent" else "low"})
    resume = f"{sandbox.url}/api/v2/incremental/tickets/cursor.json?cursor={saved}"
    # Changes of the last minute are not exported yet.
    body = api.get(resume).json()
    assert body["tickets"] == [] and body["end_of_stream"] is True

    advance(sandbox, 61)
    body = api.get(resume).json()
    assert sorted(t["id"] for t in body["tickets"]) == sorted(t["id"] for t in changed)
    assert body["end_of_stream"] is True
    assert all(t["priority"] == account.tickets[t["id"]]["priority"] for t in body["tickets"])
    # And from the new cursor, nothing more.
    assert api.get(body["after_url"]).json()["tickets"] == []


def test_users_cursor_export_uses_updated_at_and_user_ids(served):
    sandbox, api = served(seed_tickets=0)
    account = sandbox.account()
    pages, saved = export_all(api, f"{sandbox.url}/api/v2/incremental/users/cursor.json?start_time=0&per_page=7",
                              "users")
    users = [u for page in pages for u in page]
    assert len(users) == len(account.users) and all(len(page) <= 7 for page in pages)
    user = next(u for u in account.users.values() if u["role"] == "end-user")
    account.update_user(user, {"name": "Renamed Person"})
    advance(sandbox, 61)
    body = api.get(f"{sandbox.url}/api/v2/incremental/users/cursor.json", params={"cursor": saved}).json()
    assert [u["id"] for u in body["users"]] == [user["id"]]
    assert decode(body["after_cursor"]) == f"{user['_ts']}.0||{user['id']}|"


def test_start_time_must_be_given_and_a_minute_old(served):
    sandbox, api = served(seed_tickets=5)
    for path in ("tickets/cursor", "users/cursor", "tickets", "users", "organizations", "ticket_events"):
        advance(sandbox, 61)  # refused calls count against the 10 a minute too
        now = int(sandbox.state.clock.now())
        too_recent = api.get(f"{sandbox.url}/api/v2/incremental/{path}.json", params={"start_time": now - 30})
        assert too_recent.status_code == 422, path
        assert too_recent.json() == TOO_RECENT
        missing = api.get(f"{sandbox.url}/api/v2/incremental/{path}.json")
        assert missing.status_code == 400, path
        assert missing.json()["error"] == "InvalidValue"
    advance(sandbox, 61)  # a fresh incremental minute for the rest
    assert api.get(f"{sandbox.url}/api/v2/incremental/tickets.json", params={"start_time": now - 61}).status_code == 200


def test_records_changed_in_the_last_minute_are_left_out(served):
    sandbox, api = served(seed_tickets=0)
    account = sandbox.account()
    requester = next(u for u in account.users.values() if u["role"] == "end-user")
    ticket, _ = account.create_ticket({"requester_id": requester["id"], "subject": "Fresh"}, {"body": "hi"},
                                      requester["id"])
    start = int(sandbox.state.clock.now()) - 120
    url = f"{sandbox.url}/api/v2/incremental/tickets.json?start_time={start}"
    assert api.get(url).json()["tickets"] == []
    advance(sandbox, 61)
    assert [t["id"] for t in api.get(url).json()["tickets"]] == [ticket["id"]]


def test_time_based_pages_never_split_a_second(served):
    sandbox, api = served(seed_tickets=0)
    account = sandbox.account()
    requester = next(u for u in account.users.values() if u["role"] == "end-user")
    second = int(sandbox.state.clock.now()) - 600
    same_second = [account.create_ticket({"requester_id": requester["id"], "subject": f"Same {n}"},
                                         {"body": "x"}, requester["id"], ts=second)[0] for n in range(7)]
    later = [account.create_ticket({"requester_id": requester["id"], "subject": f"Later {n}"},
                                   {"body": "x"}, requester["id"], ts=second + 5)[0] for n in range(3)]

    body = api.get(f"{sandbox.url}/api/v2/incremental/tickets.json",
                   params={"start_time": second - 10, "per_page": 1}).json()
    assert body["count"] == 7
    assert sorted(t["id"] for t in body["tickets"]) == sorted(t["id"] for t in same_second)
    assert body["end_time"] == second + 1
    assert body["end_of_stream"] is False
    assert body["next_page"] == f"{sandbox.url}/api/v2/incremental/tickets.json?per_page=1&start_time={second + 1}"

    body = api.get(body["next_page"]).json()
    assert sorted(t["id"] for t in body["tickets"]) == sorted(t["id"] for t in later)
    assert body["end_time"] == second + 6

    body = api.get(body["next_page"]).json()
    assert body == {"tickets": [], "next_page": body["next_page"], "count": 0, "end_of_stream": True,
                    "end_time": second + 6}


def test_time_based_organizations_and_users(served):
    sandbox, api = served(seed_tickets=0)
    account = sandbox.account()
    orgs = api.get(f"{sandbox.url}/api/v2/incremental/organizations.json", params={"start_time": 0}).json()
    assert orgs["count"] == len(account.organizations) == len(orgs["organizations"])
    assert orgs["end_of_stream"] is True
    newest = max(o["_ts"] for o in account.organizations.values())
    assert orgs["end_time"] == newest + 1
    users = api.get(f"{sandbox.url}/api/v2/incremental/users.json", params={"start_time": 0}).json()
    assert {u["id"] for u in users["users"]} == set(account.users)


def test_ticket_events_carry_comment_events_only_when_asked(served):
    sandbox, api = served(seed_tickets=0)
    account = sandbox.account()
    requester = next(u for u in account.users.values() if u["role"] == "end-user")
    agent = next(u for u in account.users.values() if u["role"] == "agent")
    second = int(sandbox.state.clock.now()) - 300
    ticket, first = account.create_ticket({"requester_id": requester["id"], "subject": "Broken"},
                                          {"body": "It broke"}, requester["id"], ts=second)
    _, reply = account.update_ticket(ticket, {"status": "pending"}, {"body": "On it", "public": False},
                                     agent["id"], ts=second + 1)
    url = f"{sandbox.url}/api/v2/incremental/ticket_events.json"

    plain = api.get(url, params={"start_time": second}).json()
    assert plain["count"] == 2 and plain["end_time"] == second + 2
    assert [e["ticket_id"] for e in plain["ticket_events"]] == [ticket["id"], ticket["id"]]
    # Without include=comment_events each comment is still listed, as its flags alone: no body, no author.
    flags = [c for e in plain["ticket_events"] for c in e["child_events"] if c["event_type"] == "Comment"]
    assert flags == [{"id": first["id"], "comment_present": True, "comment_public": True, "event_type": "Comment"},
                     {"id": reply["id"], "comment_present": True, "comment_public": False, "event_type": "Comment"}]
    [change] = [c for c in plain["ticket_events"][1]["child_events"] if c["event_type"] == "Change"]
    assert (change["field_name"], change["value"], change["previous_value"]) == ("status", "pending", "new")

    with_comments = api.get(url, params={"start_time": second, "include": "comment_events"}).json()
    comments = [c for e in with_comments["ticket_events"] for c in e["child_events"] if c["type"] == "Comment"]
    assert [c["body"] for c in comments] == ["It broke", "On it"]
    assert comments[1] == {
        "id": reply["id"], "type": "Comment", "author_id": agent["id"], "body": "On it",
        "html_body": reply["html_body"], "public": False, "attachments": [], "audit_id": reply["audit_id"],
        "created_at": reply["created_at"], "event_type": "Comment",
    }
    assert comments[0]["id"] == first["id"]


def test_eleventh_incremental_call_in_a_minute_is_refused_with_retry_after(served):
    sandbox, api = served(seed_tickets=3)
    # Start at a fresh minute so the ten calls cannot straddle a window boundary.
    advance(sandbox, 60 - sandbox.state.clock.now() % 60 + 0.5)
    url = f"{sandbox.url}/api/v2/incremental/tickets/cursor.json?start_time=0"
    for _ in range(10):
        assert api.get(url).status_code == 200
    refused = api.get(url)
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMITED
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Other endpoints still answer; the next minute the export answers again.
    advance(sandbox, int(refused.headers["Retry-After"]))
    assert api.get(url).status_code == 200


def test_exports_need_an_admin(served):
    sandbox, _ = served(seed_tickets=1)
    creds = sandbox.credentials(sandbox.url)["accounts"][0]
    agent = requests.get(f"{sandbox.url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0},
                         auth=("agent1@acme.example/token", creds["api_token"]))
    assert agent.status_code == 403
    assert agent.json()["error"] == "Forbidden"


def test_a_deleted_ticket_is_gone_from_the_api_and_exported_once_more_as_deleted(served):
    sandbox, api = served(seed_tickets=10)
    base = f"{sandbox.url}/api/v2"
    _pages, saved = export_all(api, f"{base}/incremental/tickets/cursor.json?start_time=0", "tickets")
    doomed, kept = sorted(sandbox.account().tickets)[:2]
    assert api.delete(f"{base}/tickets/{doomed}.json").status_code == 204
    assert api.get(f"{base}/tickets/{doomed}.json").status_code == 404
    assert api.put(f"{base}/tickets/{doomed}.json", json={"ticket": {"priority": "low"}}).status_code == 404
    assert api.delete(f"{base}/tickets/{doomed}.json").status_code == 404  # once only
    assert [t["id"] for t in api.get(f"{base}/tickets/show_many.json?ids={doomed},{kept}").json()["tickets"]] == [kept]
    assert doomed not in {t["id"] for t in api.get(f"{base}/tickets.json").json()["tickets"]}

    advance(sandbox, 61)
    body = api.get(f"{base}/incremental/tickets/cursor.json?cursor={saved}").json()
    assert [(t["id"], t["status"]) for t in body["tickets"]] == [(doomed, "deleted")]
    everything, _ = export_all(api, f"{base}/incremental/tickets/cursor.json?start_time=0", "tickets")
    statuses = {t["id"]: t["status"] for page in everything for t in page}
    assert len(statuses) == 10 and statuses[doomed] == "deleted"
    by_time = api.get(f"{base}/incremental/tickets.json?start_time=0").json()["tickets"]
    assert {t["id"]: t["status"] for t in by_time}[doomed] == "deleted"
