"""Pagination, search and fields metadata of the Zendesk sandbox on a 2,500-ticket account, over real
HTTP (docs/outside-apis.md#zendesk-job-statuses, docs/outside-apis.md#zendesk-pagination,
docs/outside-apis.md#zendesk-writes-and-search, docs/outside-apis.md#zendesk-errors)."""
import base64
import json

import pytest
import requests

from tests.helpers import served
from widget.sandbox.zendesk import create_sandbox

TICKETS = 2500
PAGINATION_DEPTH = "InvalidPaginationDepth"


@pytest.fixture(scope="module")
def big():
    with served(create_sandbox(seed_tickets=TICKETS)) as sandbox:
        yield sandbox


@pytest.fixture
def api(big):
    creds = big.credentials(big.url)["accounts"][0]
    session = requests.Session()
    session.auth = (f"{creds['admin_email']}/token", creds["api_token"])
    session.base = f"{big.url}/api/v2"
    return session


def test_cursor_pagination_lists_every_ticket_once_forwards_and_backwards(api, big):
    first = api.get(api.base + "/tickets.json", params={"page[size]": 100}).json()
    assert set(first) == {"tickets", "meta", "links"}
    assert json.loads(base64.b64decode(first["meta"]["before_cursor"])) == {"o": "nice_id", "v": "aQEAAAAAAAAA"}
    assert first["links"]["next"].startswith(f"{big.url}/api/v2/tickets.json?")
    seen, page, pages = [], first, 1
    while True:
        seen += [t["id"] for t in page["tickets"]]
        if not page["meta"]["has_more"]:
            break
        page = api.get(page["links"]["next"]).json()
        pages += 1
    assert seen == list(range(1, TICKETS + 1))
    assert pages == TICKETS // 100

    # Walking back with links.prev from the last page: has_more turns false at the first page.
    back = [t["id"] for t in page["tickets"]]
    while True:
        page = api.get(page["links"]["prev"]).json()
        back = [t["id"] for t in page["tickets"]] + back
        if not page["meta"]["has_more"]:
            break
    assert back == seen


def test_cursor_page_size_is_capped_at_100_and_a_forged_cursor_is_refused(api):
    page = api.get(api.base + "/tickets.json", params={"page[size]": 500}).json()
    assert len(page["tickets"]) == 100 and page["meta"]["has_more"] is True
    forged = api.get(api.base + "/tickets.json", params={"page[size]": 2, "page[after]": "not-a-cursor"})
    assert forged.status_code == 400
    users_cursor = api.get(api.base + "/users.json", params={"page[size]": 1}).json()["meta"]["after_cursor"]
    assert json.loads(base64.b64decode(users_cursor))["o"] == "id"
    assert api.get(api.base + "/tickets.json", params={"page[size]": 2, "page[after]": users_cursor}).status_code == 400


def test_offset_pagination_lists_every_ticket_once(api, big):
    seen, url, params = [], api.base + "/tickets.json", {"per_page": 100}
    while url:
        page = api.get(url, params=params).json()
        assert page["count"] == TICKETS
        seen += [t["id"] for t in page["tickets"]]
        url, params = page["next_page"], None
    assert seen == list(range(1, TICKETS + 1))
    second = api.get(api.base + "/tickets.json", params={"page": 2, "per_page": 7}).json()
    assert [t["id"] for t in second["tickets"]] == list(range(8, 15))
    assert second["previous_page"] == f"{big.url}/api/v2/tickets.json?page=1&per_page=7"
    assert second["next_page"] == f"{big.url}/api/v2/tickets.json?page=3&per_page=7"
    assert len(api.get(api.base + "/tickets.json", params={"per_page": 1000}).json()["tickets"]) == 100


def test_offset_pagination_stops_at_10000_records(api):
    assert api.get(api.base + "/tickets.json", params={"page": 100, "per_page": 100}).status_code == 200
    for params in ({"page": 101, "per_page": 100}, {"page": 1001, "per_page": 10}, {"page": 101}):
        response = api.get(api.base + "/tickets.json", params=params)
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["code"] == PAGINATION_DEPTH
        assert error["title"].startswith("Pagination requests using Offset Pagination are limited to page 100")
    assert api.get(api.base + "/users.json", params={"page": 201, "per_page": 50}).status_code == 400
    # Cursor pagination has no such limit.
    assert api.get(api.base + "/users.json", params={"page[size]": 100}).status_code == 200


def test_search_by_type_and_keywords(api, big):
    account = big.account()
    customer = next(u for u in account.users.values() if u["role"] == "end-user"
                    and any(t["requester_id"] == u["id"] for t in account.tickets.values()))
    users = api.get(api.base + "/search.json", params={"query": f"type:user email:{customer['email'].upper()}"}).json()
    assert set(users) == {"results", "count", "next_page", "previous_page", "facets"}
    assert users["facets"] is None and users["count"] == 1
    assert users["results"][0]["id"] == customer["id"] and users["results"][0]["result_type"] == "user"

    expected = sorted(t["id"] for t in account.tickets.values() if t["requester_id"] == customer["id"])
    for requester in (customer["email"], customer["id"]):
        tickets = api.get(api.base + "/search.json", params={"query": f"type:ticket requester:{requester}"}).json()
        assert sorted(r["id"] for r in tickets["results"]) == expected
        assert {r["result_type"] for r in tickets["results"]} == {"ticket"}

    org_id = customer["organization_id"] or next(iter(account.organizations))
    by_org = api.get(api.base + "/search.json", params={"query": f"type:ticket organization:{org_id}"}).json()
    assert by_org["count"] == sum(1 for t in account.tickets.values() if t["organization_id"] == org_id) > 0

    orgs = api.get(api.base + "/search.json", params={"query": "type:organization Sakura"}).json()
    assert orgs["count"] >= 1 and all("Sakura" in o["name"] for o in orgs["results"])
    assert {o["result_type"] for o in orgs["results"]} == {"organization"}

    words = api.get(api.base + "/search.json", params={"query": "Shipment delayed"}).json()
    assert words["count"] > 0 and all("Shipment delayed" in r["subject"] for r in words["results"])
    negated = api.get(api.base + "/search.json", params={"query": "type:ticket status:open -tags:vip"}).json()
    assert all(r["status"] == "open" and "vip" not in r["tags"] for r in negated["results"])
    assert api.get(api.base + "/search/count.json", params={"query": "type:ticket status:open"}).json()["count"] == \
        sum(1 for t in account.tickets.values() if t["status"] == "open")


def test_search_is_offset_only_within_1000_results(api, big):
    page_ten = api.get(api.base + "/search.json", params={"query": "type:ticket", "page": 10}).json()
    assert page_ten["count"] == TICKETS and len(page_ten["results"]) == 100
    assert "page=11" in page_ten["next_page"]  # NB: real Zendesk links to page 11, which it then refuses
    past = api.get(page_ten["next_page"])
    assert past.status_code == 422
    assert past.json() == {"error": "invalid",
                           "description": "Invalid search: Requested response size was greater than Search Response Limits"}
    assert api.get(api.base + "/search.json", params={"query": "type:ticket", "page": 34, "per_page": 30}).status_code == 422
    small = api.get(api.base + "/search.json", params={"query": "type:ticket", "per_page": 500}).json()
    assert len(small["results"]) == 100


def test_ticket_fields_list_and_show(api, big):
    fields = api.get(api.base + "/ticket_fields.json").json()
    types = [f["type"] for f in fields["ticket_fields"]]
    assert types[:7] == ["subject", "description", "status", "tickettype", "priority", "group", "assignee"]
    assert fields["count"] == len(types)
    status = fields["ticket_fields"][2]
    assert {"name": "Open", "value": "open"} in status["system_field_options"]
    assert not [k for f in fields["ticket_fields"] for k in f if k.startswith("_")]
    custom = [f for f in fields["ticket_fields"] if f["removable"]]
    assert {f["type"] for f in custom} >= {"tagger", "text"}
    shown = api.get(api.base + f"/ticket_fields/{custom[0]['id']}.json").json()["ticket_field"]
    assert shown == custom[0] and shown["url"] == f"{big.url}/api/v2/ticket_fields/{shown['id']}.json"
    assert api.get(api.base + "/ticket_fields/42.json").json() == {"error": "RecordNotFound", "description": "Not found"}
    paged = api.get(api.base + "/ticket_fields.json", params={"page[size]": 4}).json()
    assert [f["id"] for f in paged["ticket_fields"]] == [f["id"] for f in fields["ticket_fields"][:4]]
    rest = api.get(paged["links"]["next"]).json()
    assert [f["id"] for f in rest["ticket_fields"]] == [f["id"] for f in fields["ticket_fields"][4:8]]


def test_user_and_organization_fields_list(api):
    user_fields = api.get(api.base + "/user_fields.json").json()["user_fields"]
    assert "crm_contact_id" in [f["key"] for f in user_fields]
    org_fields = api.get(api.base + "/organization_fields.json").json()["organization_fields"]
    assert "crm_account_id" in [f["key"] for f in org_fields]


def test_counts_give_a_value_and_when_it_was_refreshed(api, big):
    account = big.state.accounts[next(iter(big.state.accounts))]
    tickets = api.get(api.base + "/tickets/count.json").json()
    assert set(tickets) == {"count"} and set(tickets["count"]) == {"value", "refreshed_at"}
    assert tickets["count"]["value"] == TICKETS
    assert api.get(api.base + "/organizations/count").json()["count"]["value"] == len(account.organizations)
    assert api.get(api.base + "/users/count.json").json()["count"]["value"] == len(account.users)
    agents = sum(1 for u in account.users.values() if u["role"] in ("agent", "admin"))
    assert api.get(api.base + "/users/count.json", params={"role[]": ["agent", "admin"]}).json()["count"]["value"] == agents
    ticket_id = next(iter(account.tickets))
    comments = api.get(api.base + f"/tickets/{ticket_id}/comments/count.json").json()["count"]["value"]
    assert comments == len(api.get(api.base + f"/tickets/{ticket_id}/comments.json").json()["comments"]) > 0
    assert api.get(api.base + "/tickets/999999999/comments/count.json").status_code == 404
