"""The "Zendesk Tickets" related list (F22): the record's tickets from the local copy, filtered and paged."""
from datetime import datetime, timedelta, timezone

from bs4 import BeautifulSoup

from tests.helpers import ADMIN, context_for, install
from widget.connections import save_grant
from widget.extensions import db
from widget.models import Installation, Ticket

URL = "/record/Contacts/42/tickets"


def _add_tickets(app, org_id, count, contact_id="42", status="open", first_id=1):
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        for n in range(count):
            db.session.add(Ticket(installation_id=installation.id, zendesk_id=first_id + n,
                                  subject=f"Ticket {n}", status=status if n % 2 else "solved", priority="high",
                                  requester_name="Yui Sato", assignee_name="Ren Agent",
                                  updated_at=start + timedelta(hours=n), crm_contact_id=contact_id))
        db.session.commit()


def _authorize(app, org_id):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        save_grant(installation, "zendesk", {"access_token": "a", "refresh_token": "r"}, account="acme")


def _rows(response):
    return [[cell.get_text() for cell in row.select("td")]
            for row in BeautifulSoup(response.data, "html.parser").select("tbody tr")]


def test_lists_the_records_tickets_newest_first_and_pages_them(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", 12)
    _add_tickets(app, "org-1", 3, contact_id="99", first_id=500)  # another contact's tickets
    ctx = context_for(installed)
    first = client.get(URL, query_string={"ctx": ctx})
    rows = _rows(first)
    assert len(rows) == 10 and rows[0][1] == "Ticket 11" and rows[0][2] == "Open"
    assert rows[0][4:6] == ["Ren Agent", "Yui Sato"]
    assert "Page 1 of 2" in first.get_data(as_text=True)
    second = client.get(URL, query_string={"page": 2}, headers={"X-Widget-Context": ctx, "HX-Request": "true"})
    assert [row[1] for row in _rows(second)] == ["Ticket 1", "Ticket 0"]
    assert b"<html" not in second.data  # an htmx fragment


def test_status_filter(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", 6)
    response = client.get(URL, query_string={"status": "solved"},
                          headers={"X-Widget-Context": context_for(installed), "HX-Request": "true"})
    assert {row[2] for row in _rows(response)} == {"Solved"} and len(_rows(response)) == 3


def test_another_installations_tickets_never_show(app, client):
    install(client, org_id="org-1")
    other = install(client, org_id="org-2")
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", 4)  # same CRM record id, other org
    _authorize(app, "org-2")
    response = client.get(URL, query_string={"ctx": context_for(other, org_id="org-2")})
    assert _rows(response) == []
    assert b"No Zendesk tickets for this record yet." in response.data


def test_unauthorized_installation_says_so(app, client):
    installed = install(client)
    response = client.get(URL, query_string={"ctx": context_for(installed)})
    assert b"Zendesk is not authorized yet" in response.data


def test_statuses_and_priorities_speak_the_users_language(app, client):
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", 2)
    ctx = context_for(installed, user=dict(ADMIN, locale="ja_JP"))
    rows = _rows(client.get(URL, headers={"X-Widget-Context": ctx, "HX-Request": "true"}))
    assert [(row[2], row[3]) for row in rows] == [("オープン", "高"), ("解決済み", "高")]


def test_only_the_record_the_crm_signed_for(app, client):
    """A valid context for Contact 42 reads Contact 42's tickets, never another record's by changing the URL."""
    installed = install(client)
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", 3, contact_id="99", first_id=500)
    ctx = context_for(installed)  # signed for Contacts/42
    for url in ("/record/Contacts/99/tickets", "/record/Leads/42/tickets", "/record/Accounts/42/tickets"):
        refused = client.get(url, headers={"X-Widget-Context": ctx, "HX-Request": "true"})
        assert refused.status_code == 403, url
        assert _rows(refused) == [] and "Ticket" not in refused.get_data(as_text=True)
    without_record = context_for(installed, entity=None, entity_id=None)  # e.g. the settings page's context
    assert client.get("/record/Contacts/99/tickets", query_string={"ctx": without_record}).status_code == 403
    assert len(_rows(client.get("/record/Contacts/99/tickets",
                                query_string={"ctx": context_for(installed, entity_id="99")}))) == 3
