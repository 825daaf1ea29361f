"""The sandbox's agent UI over real HTTP: sign in, ticket list (paging, status filter), ticket page
updates that go through the state (so webhook listeners hear them), CSRF and escaping."""
import pytest
import requests
from bs4 import BeautifulSoup

ADMIN, PASSWORD = "admin@acme.example", "acme-admin-pass"


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


def csrf(response):
    return soup(response).find("input", {"name": "csrf_token"})["value"]


def sign_in(base, email=ADMIN, password=PASSWORD):
    browser = requests.Session()
    form = browser.get(f"{base}/agent/sign_in")
    response = browser.post(f"{base}/agent/sign_in", data={"csrf_token": csrf(form), "email": email,
                                                           "password": password})
    return browser, response


@pytest.fixture
def agent(zendesk):
    browser, response = sign_in(zendesk.url)
    assert response.status_code == 200
    yield browser
    browser.close()


def ticket_ids(response):
    return [int(row.find("td").text) for row in soup(response).select("tbody tr") if row.find("a")]


def test_pages_need_a_signed_in_agent(zendesk):
    response = requests.get(f"{zendesk.url}/agent", allow_redirects=False)
    assert response.status_code == 302 and "/agent/sign_in" in response.headers["Location"]


def test_wrong_password_is_refused_with_a_message(zendesk):
    _, response = sign_in(zendesk.url, password="nope")
    assert response.status_code == 401 and "Invalid email or password." in response.text
    _, response = sign_in(zendesk.url, email="customer1@org2.example.com", password="")
    assert response.status_code == 401


def test_agents_sign_in_and_sign_out(zendesk):
    browser, response = sign_in(zendesk.url, email="agent1@acme.example", password="acme-agent-pass")
    assert response.status_code == 200 and "Sign out" in response.text
    browser.post(f"{zendesk.url}/agent/sign_out", data={"csrf_token": csrf(response)})
    assert browser.get(f"{zendesk.url}/agent", allow_redirects=False).status_code == 302


def test_ticket_list_is_paged_newest_first(zendesk, agent):
    first = agent.get(f"{zendesk.url}/agent")
    ids = ticket_ids(first)
    assert ids == list(range(30, 5, -1))  # 30 seeded tickets, 25 a page
    assert soup(first).find("a", rel="next") is not None
    second = agent.get(f"{zendesk.url}/agent", params={"page": 2})
    assert ticket_ids(second) == [5, 4, 3, 2, 1]
    assert soup(second).find("a", rel="next") is None


def test_ticket_list_filters_by_status(zendesk, agent):
    expected = sorted((t["id"] for t in zendesk.account().tickets.values() if t["status"] == "open"), reverse=True)
    assert expected  # the seed has open tickets
    response = agent.get(f"{zendesk.url}/agent", params={"status": "open"})
    assert ticket_ids(response) == expected[:25]
    assert {badge.text for badge in soup(response).select("tbody .status")} == {"open"}


def open_ticket(zendesk):
    return next(t for t in zendesk.account().tickets.values() if t["status"] in ("new", "open"))


def test_updating_a_ticket_goes_through_the_state_and_fires_events(zendesk, agent):
    heard = []
    zendesk.state.listeners.append(lambda account, event, kind, obj, *rest: heard.append((event, obj["id"])))
    ticket = open_ticket(zendesk)
    page = agent.get(f"{zendesk.url}/agent/tickets/{ticket['id']}")
    assert page.status_code == 200 and ticket["subject"] in page.text
    response = agent.post(f"{zendesk.url}/agent/tickets/{ticket['id']}", data={
        "csrf_token": csrf(page), "status": "pending", "priority": "urgent", "comment": "Looking into it (note)"})
    assert response.status_code == 200 and f"Ticket #{ticket['id']} updated." in response.text
    assert ticket["status"] == "pending" and ticket["priority"] == "urgent"
    note = zendesk.account().comments[ticket["id"]][-1]
    assert note["body"] == "Looking into it (note)" and note["public"] is False
    assert note["author_id"] == zendesk.account().find_user(email=ADMIN)["id"]
    assert ("zen:event-type:ticket.status_changed", ticket["id"]) in heard
    assert ("zen:event-type:ticket.comment_added", ticket["id"]) in heard
    assert "internal note" in response.text

    response = agent.post(f"{zendesk.url}/agent/tickets/{ticket['id']}", data={
        "csrf_token": csrf(response), "status": "pending", "priority": "urgent", "comment": "Public reply",
        "public": "1"})
    assert zendesk.account().comments[ticket["id"]][-1]["public"] is True


def test_changing_the_requester_goes_through_the_state(zendesk, agent):
    heard = []
    zendesk.state.listeners.append(lambda account, event, kind, obj, *rest: heard.append((event, obj["id"])))
    ticket = open_ticket(zendesk)
    other = next(user for user in zendesk.account().users.values()
                 if user["role"] == "end-user" and user.get("email") and user["id"] != ticket["requester_id"])
    page = agent.get(f"{zendesk.url}/agent/tickets/{ticket['id']}")
    url = f"{zendesk.url}/agent/tickets/{ticket['id']}/requester"
    unknown = agent.post(url, data={"csrf_token": csrf(page), "email": "nobody@nowhere.example"},
                         headers={"Accept": "application/json"})
    assert unknown.status_code == 422 and "No user" in unknown.json()["error"]
    assert ticket["requester_id"] != other["id"]
    # The page's script asks for JSON (and then fires the ZAF event); a plain form post reloads the page.
    changed = agent.post(url, data={"csrf_token": csrf(page), "email": other["email"].upper()},
                         headers={"Accept": "application/json"})
    assert changed.status_code == 200 and changed.json() == {"email": other["email"], "name": other["name"]}
    assert ticket["requester_id"] == other["id"]
    assert ("zen:event-type:ticket.requester_changed", ticket["id"]) in heard  # webhooks, so the sync hears it
    back = agent.post(url, data={"csrf_token": csrf(page), "email": "nobody@nowhere.example"})
    assert back.status_code == 422 and "No user of this account" in back.text
    assert agent.post(url, data={"email": other["email"]}).status_code == 400  # no CSRF token


def test_changes_are_visible_to_the_api(zendesk, agent):
    ticket = open_ticket(zendesk)
    page = agent.get(f"{zendesk.url}/agent/tickets/{ticket['id']}")
    agent.post(f"{zendesk.url}/agent/tickets/{ticket['id']}", data={"csrf_token": csrf(page), "status": "solved"})
    auth = (f"{ADMIN}/token", next(iter(zendesk.account().api_tokens)))
    shown = requests.get(f"{zendesk.url}/api/v2/tickets/{ticket['id']}.json", auth=auth).json()["ticket"]
    assert shown["status"] == "solved"


def test_forms_without_the_csrf_token_are_refused(zendesk, agent):
    ticket = open_ticket(zendesk)
    before = ticket["status"]
    response = agent.post(f"{zendesk.url}/agent/tickets/{ticket['id']}", data={"status": "hold"})
    assert response.status_code == 400 and ticket["status"] == before


def test_closed_tickets_cannot_be_updated(zendesk, agent):
    ticket = next(t for t in zendesk.account().tickets.values() if t["status"] == "closed")
    page = agent.get(f"{zendesk.url}/agent/tickets/{ticket['id']}")
    assert "closed and can no longer be updated" in page.text
    response = agent.post(f"{zendesk.url}/agent/tickets/{ticket['id']}",
                          data={"csrf_token": csrf(page), "status": "open", "comment": "reopen"})
    assert response.status_code == 422 and "closed prevents ticket update" in response.text
    assert ticket["status"] == "closed"


def test_user_content_is_escaped(zendesk, agent):
    account = zendesk.account()
    requester = next(u for u in account.users.values() if u["role"] == "end-user")
    ticket, _ = account.create_ticket({"subject": "<script>alert(1)</script>", "requester_id": requester["id"]},
                                      {"body": "<img src=x onerror=alert(2)>"}, requester["id"])
    listing = agent.get(f"{zendesk.url}/agent")
    assert "<script>alert(1)</script>" not in listing.text and "&lt;script&gt;" in listing.text
    page = agent.get(f"{zendesk.url}/agent/tickets/{ticket['id']}")
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text


def test_unknown_ticket_is_404(zendesk, agent):
    assert agent.get(f"{zendesk.url}/agent/tickets/999999").status_code == 404


def test_sign_in_returns_to_the_asked_page_but_never_elsewhere(zendesk):
    browser = requests.Session()
    asked = browser.get(f"{zendesk.url}/agent/tickets/3")  # redirected to the sign-in form
    assert asked.url.startswith(f"{zendesk.url}/agent/sign_in?next=")
    landed = browser.post(asked.url, data={"csrf_token": csrf(asked), "email": ADMIN, "password": PASSWORD})
    assert landed.url == f"{zendesk.url}/agent/tickets/3"
    browser = requests.Session()
    form = browser.get(f"{zendesk.url}/agent/sign_in")
    landed = browser.post(f"{zendesk.url}/agent/sign_in", params={"next": "//evil.example/x"},
                          data={"csrf_token": csrf(form), "email": ADMIN, "password": PASSWORD})
    assert landed.url == f"{zendesk.url}/agent/tickets"
