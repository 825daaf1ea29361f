"""A ticket opened in place from the list: its fields and whole thread live from Zendesk, the local copy
when Zendesk does not answer (and the page says so), only the record's own tickets."""
from datetime import datetime, timedelta

import requests
from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.extensions import db
from widget.models import Installation, Ticket
from widget.sandbox.serving import free_port


def _open(company, name, record="yui", entity="Contacts", htmx=True, **claims):
    ctx = company.context(entity, record, **claims)
    url = f"/record/{entity}/{company.records[record]}/tickets/{company.tickets.get(name, name)}"
    return company.request("get", url, ctx, htmx=htmx, query_string={"status": "all", "page": 2})


def _page(response):
    return BeautifulSoup(response.data, "html.parser")


def _fields(page):
    return {item.select_one("dt").get_text(strip=True): item.select_one("dd").get_text(" ", strip=True)
            for item in page.select(".ticket-fields > div")}


def _thread(page):
    return [(c.select_one(".author").get_text(strip=True), c.select_one(".kind").get_text(strip=True),
             c.select_one(".comment-body").get_text(), "internal" in c["class"])
            for c in page.select("#ticket-thread li.comment")]


def test_fields_and_the_whole_thread_live_from_zendesk(company):
    response = _open(company, "yui_open")
    assert response.status_code == 200 and b"<html" not in response.data
    page = _page(response)
    zendesk = company.s.account().tickets[company.tickets["yui_open"]]
    agent = company.users["agent"]["name"]
    assert page.select_one(".ticket-title").get_text(" ", strip=True) == f"#{zendesk['id']} Yui open ticket"
    fields = _fields(page)
    assert {key: fields[key] for key in ("Status", "Priority", "Type", "Assignee", "Requester", "Organization",
                                         "Tags")} == {
        "Status": "Open", "Priority": "Urgent", "Type": "Problem", "Assignee": agent,
        "Requester": "Yui Sato <yui@hoshizora.example>", "Organization": "Hoshizora Holdings", "Tags": "crm yui"}
    created = datetime.fromisoformat(zendesk["created_at"].replace("Z", "+00:00"))
    assert page.select_one("#field-created time")["datetime"] == created.isoformat()
    link = page.select_one("#open-in-zendesk")
    assert link["href"] == f"{company.s.zendesk.url}/agent/tickets/{zendesk['id']}" and link["target"] == "_blank"
    assert _thread(page) == [
        ("Yui Sato", "Public reply", "First message of yui_open.", False),
        (agent, "Public reply", "We are looking into it.", False),
        (agent, "Internal note", "Internal: customer on the enterprise plan.", True)]
    assert page.select_one("#ticket-source") is None  # live: no word about a copy
    back = page.select_one("#back-to-list")
    assert back["hx-get"] == f"/record/Contacts/{company.records['yui']}/tickets?status=all&page=2"
    assert back["hx-target"] == "#tickets-area"
    assert company.s.zendesk_calls.count("GET", f"/api/v2/tickets/{zendesk['id']}.json") == 1


def test_a_change_in_zendesk_shows_at_once_though_not_yet_synced(company):
    account = company.s.account()
    zendesk = account.tickets[company.tickets["yui_open"]]
    account.update_ticket(zendesk, {"subject": "Printer still jams", "status": "pending"},
                          {"body": "Any news?", "public": True}, company.users["yui"]["id"])
    page = _page(_open(company, "yui_open"))
    assert "Printer still jams" in page.select_one(".ticket-title").get_text()
    assert _fields(page)["Status"] == "Pending"
    assert _thread(page)[-1] == ("Yui Sato", "Public reply", "Any news?", False)
    assert db.session.scalar(db.select(Ticket.subject).filter_by(zendesk_id=zendesk["id"])) == "Yui open ticket"


def test_with_zendesk_down_the_local_copy_shows_and_the_page_says_so(company):
    company.s.app.config["ZENDESK_BASE_URL"] = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nobody listens
    page = _page(_open(company, "yui_open"))
    assert "Zendesk is not answering right now, so this is the copy saved at the last sync" in \
        page.select_one("#ticket-source").get_text()
    fields = _fields(page)
    assert (fields["Status"], fields["Requester"], fields["Organization"]) == (
        "Open", "Yui Sato <yui@hoshizora.example>", "Hoshizora Holdings")
    agent = company.users["agent"]["name"]
    assert _thread(page) == [
        ("Yui Sato", "Public reply", "First message of yui_open.", False),
        (agent, "Public reply", "We are looking into it.", False),
        (agent, "Internal note", "Internal: customer on the enterprise plan.", True)]


def test_zendesk_answering_errors_or_no_longer_having_the_ticket_shows_the_local_copy(company):
    faults = requests.post(f"{company.s.zendesk.url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    assert faults.status_code == 200
    page = _page(_open(company, "yui_pending"))
    assert "Zendesk is not answering right now" in page.select_one("#ticket-source").get_text()
    assert _fields(page)["Status"] == "Pending"
    requests.post(f"{company.s.zendesk.url}/_sandbox/faults", json={"error_rate": 0}, timeout=5)

    company.s.account().delete_ticket(company.tickets["yui_solved"])  # not synced yet
    page = _page(_open(company, "yui_solved"))
    assert "Zendesk no longer has this ticket (it may have been deleted)" in \
        page.select_one("#ticket-source").get_text()
    assert _fields(page)["Status"] == "Solved"


def test_a_deal_opens_its_accounts_tickets_and_its_own(company):
    for name in ("deal_mori", "ren_closed"):
        page = _page(_open(company, name, record="deal", entity="Deals"))
        assert page.select_one(".ticket-title").get_text(strip=True).endswith(f"{name.replace('_', ' ').capitalize()}"
                                                                               " ticket")
    page = _page(_open(company, "ren_closed", record="account_a", entity="Accounts"))
    assert _fields(page)["Status"] == "Closed"
    assert page.select_one("#reply-closed") is not None and page.select_one("#ticket-reply form") is None


def test_another_records_or_another_orgs_ticket_answers_404_and_shows_nothing(company):
    s = company.s
    other = Installation(org_id="org-other", data_center="jp")
    db.session.add(other)
    db.session.flush()
    db.session.add(Ticket(installation_id=other.id, zendesk_id=424242, subject="Secret of another org",
                          status="open", crm_contact_id=company.records["yui"]))
    db.session.commit()
    for entity, record, name in (("Contacts", "yui", "mori_open"), ("Contacts", "yui", "kato_open"),
                                 ("Leads", "kato", "yui_open"), ("Accounts", "account_b", "yui_open"),
                                 ("Deals", "lonely_deal", "deal_yui"), ("Contacts", "yui", 424242)):
        response = _open(company, name, record=record, entity=entity)
        assert response.status_code == 404, (entity, name)
        text = _page(response).select_one("main").get_text(" ", strip=True)
        assert text == "This ticket is not one of this record's tickets.", text
    assert s.zendesk_calls.api_calls() == []  # nothing was even asked of Zendesk


def test_japanese_values_and_times_in_tokyo(company):
    page = _page(_open(company, "yui_open", locale="ja_JP", time_zone="Asia/Tokyo"))
    fields = _fields(page)
    assert (fields["ステータス"], fields["優先度"], fields["タイプ"]) == ("オープン", "緊急", "問題")
    zendesk = company.s.account().tickets[company.tickets["yui_open"]]
    tokyo = datetime.fromisoformat(zendesk["created_at"].replace("Z", "+00:00")) + timedelta(hours=9)
    assert fields["作成日時"] == f"{tokyo.year}年{tokyo.month}月{tokyo.day}日 {tokyo.hour}:{tokyo.minute:02d}"
    assert [kind for _, kind, _, _ in _thread(page)] == ["パブリック返信", "パブリック返信", "社内メモ"]
    assert page.select_one("#open-in-zendesk").get_text() == "Zendesk で開く"
    assert page.select_one("#back-to-list").get_text(strip=True) == "‹ 一覧に戻る"


def test_opened_without_htmx_it_is_a_whole_page(company):
    response = _open(company, "yui_open", htmx=False, user=ADMIN)
    page = _page(response)
    assert page.select_one("body")["hx-headers"] and page.select_one("#tickets-area #ticket-detail")
    assert "ctx=" in page.select_one("#back-to-list")["href"]
