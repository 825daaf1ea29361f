"""Each record kind's "Zendesk Tickets" list, over tickets synced for real between both sandboxes
(tests/record/conftest.py `company`): the exact tickets, open ones first, counts per status, markers."""
from bs4 import BeautifulSoup

from tests.record.conftest import listed
from widget.extensions import db
from widget.models import Connection, DealAccount


def _list(company, entity, record, status=None):
    url = f"/record/{entity}/{company.records[record]}/tickets"
    response = company.request("get", url, company.context(entity, record),
                               query_string={"status": status} if status else None)
    assert response.status_code == 200, response.data
    return response


def _names(company, response):
    return company.names([row[0] for row in listed(response)])


def _filter_options(response):
    page = BeautifulSoup(response.data, "html.parser")
    return {option["value"]: option.get_text(strip=True) for option in page.select("#ticket-filter option")}


def test_a_contact_lists_the_tickets_it_requested_open_ones_first(company):
    response = _list(company, "Contacts", "yui")
    assert _names(company, response) == ["yui_open", "deal_yui", "yui_pending"]  # the last updated first
    row = listed(response)[0]
    assert row[1:7] == ("Yui open ticket", "Open", "Urgent", "Problem", company.users["agent"]["name"], "Yui Sato")
    assert _filter_options(response) == {
        "unsolved": "Unsolved (3)", "new": "New (0)", "open": "Open (1)", "pending": "Pending (2)",
        "hold": "On-hold (0)", "solved": "Solved (1)", "closed": "Closed (0)", "all": "All (4)"}
    assert _names(company, _list(company, "Contacts", "yui", "all")) == ["yui_open", "deal_yui", "yui_solved",
                                                                         "yui_pending"]
    assert _names(company, _list(company, "Contacts", "yui", "solved")) == ["yui_solved"]
    assert _names(company, _list(company, "Contacts", "ren", "all")) == ["ren_closed", "ren_new"]
    assert _names(company, _list(company, "Contacts", "mori")) == ["deal_mori", "mori_open"]
    assert company.s.zendesk_calls.api_calls() == []  # listed from the local copy alone


def test_a_lead_lists_the_tickets_it_requested(company):
    assert _names(company, _list(company, "Leads", "kato")) == ["kato_open"]
    everything = _list(company, "Leads", "kato", "all")
    assert _names(company, everything) == ["kato_solved", "kato_open"]
    assert {row[6] for row in listed(everything)} == {"Sota Kato"}


def test_an_account_lists_its_organizations_tickets_with_their_requesters(company):
    response = _list(company, "Accounts", "account_a")
    assert _names(company, response) == ["yui_open", "guest_hold", "deal_yui", "ren_new", "yui_pending"]
    assert [row[6] for row in listed(response)] == ["Yui Sato", "Guest Visitor", "Yui Sato", "Ren Ito", "Yui Sato"]
    assert _filter_options(response)["unsolved"] == "Unsolved (5)" and _filter_options(response)["all"] == "All (7)"
    assert set(_names(company, _list(company, "Accounts", "account_a", "all"))) == {
        "yui_open", "yui_pending", "yui_solved", "ren_new", "ren_closed", "deal_yui", "guest_hold"}
    assert _names(company, _list(company, "Accounts", "account_b", "all")) == ["deal_mori", "mori_open"]


def test_a_deal_lists_the_tickets_created_from_it_and_its_accounts_each_marked(company):
    deal = company.records["deal"]
    response = _list(company, "Deals", "deal")
    assert [(name, row[8]) for name, row in zip(_names(company, response), listed(response))] == [
        ("yui_open", "From the account"), ("guest_hold", "From the account"), ("deal_yui", "From this deal"),
        ("deal_mori", "From this deal"), ("ren_new", "From the account"), ("yui_pending", "From the account")]
    assert _filter_options(response)["all"] == "All (8)"
    assert set(_names(company, _list(company, "Deals", "deal", "all"))) == {
        "yui_open", "yui_pending", "yui_solved", "ren_new", "ren_closed", "deal_yui", "deal_mori", "guest_hold"}
    # The Deal's Account was read from the CRM once, then remembered: the list and its polling cost no call.
    assert company.s.crm_calls.count("GET", f"/Deals/{deal}") == 1
    assert company.s.zendesk_calls.api_calls() == []


def test_a_deal_without_an_account_lists_only_its_own_tickets_and_offers_a_new_one(company):
    response = _list(company, "Deals", "lonely_deal")
    page = BeautifulSoup(response.data, "html.parser")
    assert listed(response) == []
    assert "No Zendesk tickets for this record yet." in page.select_one("#empty-state").get_text()
    new = page.select_one("#new-ticket-empty")
    assert new["hx-get"] == f"/record/Deals/{company.records['lonely_deal']}/tickets/new"
    assert page.select_one("#deal-account-unknown") is None


def test_a_deal_whose_account_cannot_be_read_shows_its_own_tickets_and_says_so(company):
    grant = db.session.scalar(db.select(Connection).filter_by(installation_id=company.s.installation_id,
                                                              service="crm"))
    grant.status = "revoked"  # the CRM cannot be asked
    db.session.commit()
    response = _list(company, "Deals", "deal", "all")
    assert _names(company, response) == ["deal_yui", "deal_mori"]
    page = BeautifulSoup(response.data, "html.parser")
    assert "could not be read from Zoho CRM" in page.select_one("#deal-account-unknown").get_text()
    db.session.expire_all()
    assert db.session.scalar(db.select(DealAccount)).read_at is None  # asked again after a short while
