"""The "Zendesk Tickets" related list (F22): the record's tickets from the local copy — open ones first,
filtered, counted, paged, kept current, in the user's language and time zone."""
from datetime import datetime, timedelta, timezone

from bs4 import BeautifulSoup

from tests.helpers import ADMIN, context_for, install
from tests.record.conftest import listed
from widget.connections import save_grant
from widget.extensions import db
from widget.models import DealAccount, Installation, Link, Ticket, utcnow

URL = "/record/Contacts/42/tickets"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _installation(org_id):
    return db.session.scalar(db.select(Installation).filter_by(org_id=org_id))


def _add_tickets(app, org_id, statuses, first_id=1, **columns):
    """Tickets numbered from `first_id`, one status each, each updated an hour after the one before."""
    columns.setdefault("crm_contact_id", "42")
    with app.app_context():
        installation = _installation(org_id)
        for n, status in enumerate(statuses):
            db.session.add(Ticket(installation_id=installation.id, zendesk_id=first_id + n, subject=f"Ticket {n}",
                                  status=status, priority="high", type="question", requester_name="Yui Sato",
                                  assignee_name="Ren Agent", updated_at=START + timedelta(hours=n), **columns))
        db.session.commit()


def _authorize(app, org_id):
    with app.app_context():
        save_grant(_installation(org_id), "zendesk", {"access_token": "a", "refresh_token": "r"}, account="acme")


def _get(client, ctx, url=URL, **query):
    return client.get(url, query_string=query, headers={"X-Widget-Context": ctx, "HX-Request": "true"})


def _page(response):
    return BeautifulSoup(response.data, "html.parser")


def _ids(response):
    return [row[0] for row in listed(response)]


def test_open_tickets_first_the_last_updated_first_ten_a_page(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open", "solved", "pending", "closed", "new", "hold"] * 4)  # 16 open, 8 done
    _add_tickets(app, "org-1", ["open"] * 3, first_id=500, crm_contact_id="99")  # another contact's tickets
    ctx = context_for(installed)
    first = client.get(URL, query_string={"ctx": ctx})
    assert first.status_code == 200 and b"<html" in first.data
    assert _ids(first) == [24, 23, 21, 19, 18, 17, 15, 13, 12, 11]  # no solved or closed ones
    assert listed(first)[0][1:7] == ("Ticket 23", "On-hold", "High", "Question", "Ren Agent", "Yui Sato")
    assert "Page 1 of 2" in first.get_data(as_text=True)
    second = _get(client, ctx, page=2)
    assert _ids(second) == [9, 7, 6, 5, 3, 1] and b"<html" not in second.data  # an htmx fragment
    everything = _get(client, ctx, status="all", page=3)
    assert _ids(everything) == [4, 3, 2, 1] and "Page 3 of 3" in everything.get_data(as_text=True)
    beyond = _get(client, ctx, page=9)  # a page that no longer exists shows the last one
    assert _ids(beyond) == [9, 7, 6, 5, 3, 1]


def test_counts_per_status_and_each_status_on_its_own(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open", "open", "pending", "solved", "solved", "closed", "new"])
    ctx = context_for(installed)
    options = {o["value"]: o.get_text(strip=True) for o in _page(_get(client, ctx)).select("#ticket-filter option")}
    assert options == {"unsolved": "Unsolved (4)", "new": "New (1)", "open": "Open (2)", "pending": "Pending (1)",
                       "hold": "On-hold (0)", "solved": "Solved (2)", "closed": "Closed (1)", "all": "All (7)"}
    solved = _get(client, ctx, status="solved")
    assert {row[2] for row in listed(solved)} == {"Solved"} and _ids(solved) == [5, 4]
    assert _page(solved).select_one("#ticket-filter option[selected]")["value"] == "solved"
    assert _ids(_get(client, ctx, status="nonsense")) == [7, 3, 2, 1]  # an unknown filter: the default one


def test_the_list_polls_while_visible_and_reloads_when_a_ticket_is_created_keeping_filter_and_page(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["solved"] * 12)
    page = _page(_get(client, context_for(installed), status="solved", page=2))
    area = page.select_one("#ticket-list")
    assert area["hx-get"] == "/record/Contacts/42/tickets?status=solved&page=2"
    triggers = [t.strip() for t in area["hx-trigger"].split(",")]
    assert triggers == ["every 30s", "tabVisible from:body", "ticketCreated from:body"]
    assert area.has_attr("data-poll-while-visible")  # static/js/widget.js: no poll while the tab is hidden
    assert area["hx-target"] == "#tickets-area"
    assert page.select_one("#previous-page")["hx-get"] == "/record/Contacts/42/tickets?status=solved&page=1"


def test_new_zendesk_ticket_in_the_header_and_in_the_empty_state(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    ctx = context_for(installed)
    page = _page(client.get(URL, query_string={"ctx": ctx}))
    for link in (page.select_one("header #new-ticket"), page.select_one("#empty-state #new-ticket-empty")):
        assert link.get_text() == "New Zendesk Ticket"
        assert link["hx-get"] == "/record/Contacts/42/tickets/new" and link["hx-target"] == "#new-ticket-slot"
        assert link["href"] == f"/record/Contacts/42/tickets/new?ctx={ctx}"
    assert "No Zendesk tickets for this record yet." in page.select_one("#empty-state").get_text()
    assert page.select_one("#new-ticket-slot") is not None


def test_only_solved_tickets_offers_to_show_them_all(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["solved", "closed"])
    page = _page(_get(client, context_for(installed)))
    assert "No tickets in this view." in page.select_one("#empty-state").get_text()
    assert page.select_one("#show-all")["hx-get"] == "/record/Contacts/42/tickets?status=all"
    assert page.select_one("#show-all").get_text() == "Show all tickets (2)"


def test_another_installations_tickets_never_show(app, client):
    install(client, org_id="org-1")
    other = install(client, org_id="org-2")
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"] * 4)  # same CRM record id, other org
    _authorize(app, "org-2")
    response = client.get(URL, query_string={"ctx": context_for(other, org_id="org-2")})
    assert listed(response) == []
    assert b"No Zendesk tickets for this record yet." in response.data


def test_unauthorized_installation_says_so(app, client):
    installed = install(client)
    response = client.get(URL, query_string={"ctx": context_for(installed)})
    assert b"Zendesk is not authorized yet" in response.data
    assert _page(response).select_one("#new-ticket") is None


def test_people_and_organizations_linked_after_their_tickets_synced_still_list_them(app, client):
    """A ticket keeps the lookups it was synced with; a requester or an organization linked since counts too."""
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"], first_id=1, crm_contact_id=None, requester_id=7001, organization_id=8001)
    _add_tickets(app, "org-1", ["open"], first_id=2, crm_contact_id=None, requester_id=7002, organization_id=8002)
    with app.app_context():
        installation_id = _installation("org-1").id
        db.session.add_all([
            Link(installation_id=installation_id, kind="user", zendesk_id=7001, crm_module="Contacts", crm_id="42"),
            Link(installation_id=installation_id, kind="user", zendesk_id=7002, crm_module="Leads", crm_id="42"),
            Link(installation_id=installation_id, kind="organization", zendesk_id=8002, crm_module="Accounts",
                 crm_id="42")])
        db.session.commit()
    for entity, expected in (("Contacts", [1]), ("Leads", [2]), ("Accounts", [2])):
        ctx = context_for(installed, entity=entity)
        assert _ids(_get(client, ctx, url=f"/record/{entity}/42/tickets")) == expected, entity


def test_a_deals_tickets_and_its_remembered_accounts_each_marked(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"], first_id=1, crm_contact_id=None, crm_deal_id="7")
    _add_tickets(app, "org-1", ["pending"], first_id=2, crm_contact_id=None, crm_account_id="5")
    _add_tickets(app, "org-1", ["open"], first_id=3, crm_contact_id=None, crm_deal_id="7", crm_account_id="5")
    _add_tickets(app, "org-1", ["open"], first_id=4, crm_contact_id=None, crm_account_id="6")  # another account's
    with app.app_context():
        db.session.add(DealAccount(installation_id=_installation("org-1").id, deal_id="7", account_id="5",
                                   read_at=utcnow(), refresh_after=utcnow() + timedelta(hours=1)))
        db.session.commit()
    rows = listed(_get(client, context_for(installed, entity="Deals", entity_id="7"), url="/record/Deals/7/tickets"))
    assert [(row[0], row[8]) for row in rows] == [(3, "From this deal"), (2, "From the account"),
                                                  (1, "From this deal")]


def test_values_and_times_in_the_users_language_and_time_zone(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open", "hold"])
    japanese = context_for(installed, user=dict(ADMIN, locale="ja_JP", time_zone="Asia/Tokyo"))
    rows = listed(_get(client, japanese, status="all"))
    assert [row[2:5] for row in rows] == [("待機中", "高", "質問"), ("オープン", "高", "質問")]
    assert rows[0][7] == "2026年11月1日 10:00"  # 01:00 UTC in Tokyo
    page = _page(_get(client, japanese))
    assert page.select_one("#ticket-filter option[value=unsolved]").get_text() == "未解決 (2)"
    assert page.select_one("tbody time")["datetime"] == "2026-11-01T01:00:00+00:00"

    new_york = context_for(installed, user=dict(ADMIN, time_zone="America/New_York"))
    assert listed(_get(client, new_york))[0][7] == "Oct 31, 2026 9:00\u202fPM"  # CLDR's narrow space before PM
    no_zone = context_for(installed)  # a context without a time zone: UTC, said so
    assert listed(_get(client, no_zone))[0][7] == "Nov 1, 2026 1:00\u202fAM UTC"
    unknown_zone = context_for(installed, user=dict(ADMIN, time_zone="Mars/Olympus"))
    assert listed(_get(client, unknown_zone))[0][7] == "Nov 1, 2026 1:00\u202fAM UTC"


def test_only_the_record_the_crm_signed_for(app, client):
    """A valid context for Contact 42 reads Contact 42's tickets, never another record's by changing the URL."""
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"] * 3, first_id=500, crm_contact_id="99")
    ctx = context_for(installed)  # signed for Contacts/42
    for url in ("/record/Contacts/99/tickets", "/record/Leads/42/tickets", "/record/Accounts/42/tickets",
                "/record/Contacts/99/tickets/500", "/record/Deals/42/tickets/500"):
        refused = _get(client, ctx, url=url)
        assert refused.status_code == 403, url
        assert listed(refused) == [] and "Ticket" not in refused.get_data(as_text=True)
    refused = client.post("/record/Contacts/99/tickets/500/comments", data={"body": "Hi"},
                          headers={"X-Widget-Context": ctx, "HX-Request": "true"})
    assert refused.status_code == 403
    without_record = context_for(installed, entity=None, entity_id=None)  # e.g. the settings page's context
    assert client.get("/record/Contacts/99/tickets", query_string={"ctx": without_record}).status_code == 403
    assert len(listed(_get(client, context_for(installed, entity_id="99"), url="/record/Contacts/99/tickets"))) == 3


def test_a_ticket_that_is_not_the_records_answers_404_and_shows_nothing(app, client):
    install(client, org_id="org-2")
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"], first_id=500, crm_contact_id="99")  # another contact's
    _add_tickets(app, "org-2", ["open"], first_id=600)  # another org's ticket of a "Contact 42"
    ctx = context_for(installed)
    for ticket_id in (500, 600, 700):
        for response in (_get(client, ctx, url=f"{URL}/{ticket_id}"),
                         client.post(f"{URL}/{ticket_id}/comments", data={"body": "Hello"},
                                     headers={"X-Widget-Context": ctx, "HX-Request": "true"})):
            assert response.status_code == 404, ticket_id
            text = _page(response).get_text(" ", strip=True)
            assert "Ticket 0" not in text and "This ticket is not one of this record's tickets." in text


def test_before_zendesk_is_authorized_a_ticket_opens_from_the_local_copy_and_a_reply_says_why_it_cannot(app, client):
    installed = install(client)
    _add_tickets(app, "org-1", ["open"])
    ctx = context_for(installed)
    page = _page(_get(client, ctx, url=f"{URL}/1"))
    assert page.select_one("#ticket-source").get_text() == ("Zendesk is not authorized, so this is the copy saved "
                                                            "at the last sync.")
    assert page.select_one(".ticket-title").get_text(" ", strip=True) == "#1 Ticket 0"
    token = page.select_one("input[name=csrf_token]")["value"]
    refused = _page(client.post(f"{URL}/1/comments", data={"csrf_token": token, "body": "Hello"},
                                headers={"X-Widget-Context": ctx, "HX-Request": "true"}))
    assert refused.select_one("#reply-failure").get_text().startswith("Zendesk is not authorized yet.")
    assert refused.select_one("textarea").get_text() == "Hello"
