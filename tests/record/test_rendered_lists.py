"""Related lists served again as rendered while the local copy has not changed (widget/record/rendered.py,
widget/local_copy.py): a kept list costs one query, every change the sync, a webhook or a rep makes
shows on the next poll, and each answer carries its own request's widget context."""
import pytest
from sqlalchemy import event

from tests.helpers import ADMIN, context_for, install
from tests.record.conftest import listed
from widget.connections import connection, mark_revoked
from widget.extensions import db
from widget.local_copy import LocalCopyUnknown
from widget.models import Installation, Link, LocalCopyVersion, Ticket

# Another user of the CRM (the installation is for its admins).
OTHER_ADMIN = {**ADMIN, "id": "5725767000000000777", "name": "Ren Sales", "email": "ren@sales.example"}


def _statements(app):
    """The SQL statements SQLite runs for the app's engine, as a list that grows (for the `with` block's
    life): traced on each connection the pool hands out, so the statements run on a DBAPI connection
    (extensions.PreparedSelect) count as well as SQLAlchemy's."""
    run = []

    def trace(dbapi_connection, connection_record, connection_proxy):
        dbapi_connection.set_trace_callback(run.append)

    def untrace(dbapi_connection, connection_record):
        dbapi_connection.set_trace_callback(None)
    with app.app_context():
        engine = db.engine
    assert engine.dialect.name == "sqlite"
    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)

    def stop():
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
    return run, stop


def _status(company, response, name):
    return {row[0]: row[2] for row in listed(response)}.get(company.tickets[name])


def test_a_kept_list_costs_one_query_and_every_change_shows_on_the_next_poll(company):
    s, url = company.s, f"/record/Contacts/{company.records['yui']}/tickets"
    ctx = company.context("Contacts", "yui")
    first = company.request("get", url, ctx)
    assert _status(company, first, "yui_open") == "Open"

    run, stop = _statements(s.app)
    try:
        again = company.request("get", url, ctx)
    finally:
        stop()
    assert again.data == first.data
    assert len(run) == 1, run  # the installation with its local copy's version; no ticket read

    # A change in Zendesk, synced: the next poll shows it.
    account = s.account()
    account.update_ticket(account.tickets[company.tickets["yui_open"]], {"status": "pending"},
                          author_id=company.users["agent"]["id"])
    s.zendesk.state.clock.advance(120)
    s.run("zendesk_tickets")
    assert _status(company, company.request("get", url, ctx), "yui_open") == "Pending"

    # A ticket deleted in Zendesk leaves the local copy by a bulk delete: gone from the next poll.
    account.delete_ticket(company.tickets["yui_open"])
    s.zendesk.state.clock.advance(120)
    s.run("zendesk_tickets")
    assert _status(company, company.request("get", url, ctx), "yui_open") is None

    # The grant revoked: the next poll says Zendesk is not authorized.
    with s.app.app_context():
        mark_revoked(connection(db.session.get(Installation, s.installation_id), "zendesk"))
    assert "not authorized" in company.request("get", url, ctx).get_data(as_text=True)


def test_a_kept_list_holds_no_context_and_a_whole_page_carries_its_own(company):
    """htmx sends the page's context in its header, so a list answered to htmx carries none (its links
    get one from static/js/widget.js only when opened in a window of their own): a kept list can never
    hand one user's context to another. The whole page, asked for without htmx, carries its own."""
    url = f"/record/Contacts/{company.records['yui']}/tickets"
    admin_ctx, other_ctx = company.context("Contacts", "yui"), company.context("Contacts", "yui", OTHER_ADMIN)
    admins = company.request("get", url, admin_ctx).get_data(as_text=True)
    others = company.request("get", url, other_ctx).get_data(as_text=True)
    assert admins == others
    assert admin_ctx not in admins and other_ctx not in admins and "ctx=" not in admins
    page = company.request("get", url, other_ctx, htmx=False).get_data(as_text=True)
    assert other_ctx in page and admin_ctx not in page


def test_a_list_is_kept_per_language_and_time_zone(company):
    url = f"/record/Contacts/{company.records['yui']}/tickets"
    english = company.request("get", url, company.context("Contacts", "yui", locale="en_US", time_zone="UTC"))
    japanese = company.request("get", url, company.context("Contacts", "yui", locale="ja_JP", time_zone="Asia/Tokyo"))
    assert _status(company, english, "yui_open") == "Open"
    assert _status(company, japanese, "yui_open") == "オープン"
    assert listed(english)[0][7].endswith(("AM", "PM")) and "年" in listed(japanese)[0][7]


def _version(installation_id):
    return db.session.scalar(db.select(LocalCopyVersion.version).filter_by(installation_id=installation_id)) or 0


def _versions_follow_commits(app):
    """What counts as a change of the local copy, on `app`'s database."""
    with app.app_context():
        installation = Installation(org_id="org-v", org_name="Versions", data_center="jp", scope_type="all")
        other = Installation(org_id="org-w", org_name="Others", data_center="jp", scope_type="all")
        db.session.add_all([installation, other])
        db.session.commit()
        mine = installation.id
        assert _version(mine) == 0

        db.session.add(Ticket(installation_id=mine, zendesk_id=1, subject="Rolled back"))
        db.session.flush()
        db.session.rollback()
        assert _version(mine) == 0  # nothing committed, nothing changed

        db.session.add(Ticket(installation_id=mine, zendesk_id=1, subject="Kept"))
        db.session.commit()
        assert _version(mine) == 1

        ticket = db.session.scalar(db.select(Ticket).filter_by(installation_id=mine))
        ticket.subject = "Kept"  # the same value: no change
        db.session.commit()
        assert _version(mine) == 1
        ticket.status = "open"
        db.session.commit()
        assert _version(mine) == 2

        db.session.execute(db.insert(Link), [{"installation_id": mine, "kind": "user", "zendesk_id": 5,
                                              "crm_module": "Contacts", "crm_id": "42"}])
        db.session.commit()
        db.session.execute(db.delete(Link).where(Link.installation_id == mine, Link.zendesk_id.in_([5])))
        db.session.commit()
        assert _version(mine) == 4 and _version(other.id) == 0

        with pytest.raises(LocalCopyUnknown):
            db.session.execute(db.delete(Link).where(Link.zendesk_id == 5))
        db.session.rollback()

        db.session.add(Ticket(installation_id=mine, zendesk_id=2, subject="With its installation"))
        db.session.delete(db.session.get(Installation, mine))  # uninstalled in the same transaction
        db.session.commit()
        assert db.session.get(Installation, mine) is None and _version(other.id) == 0


def test_the_version_changes_with_each_committed_write_on_sqlite(app):
    _versions_follow_commits(app)


@pytest.mark.postgres
def test_the_version_changes_with_each_committed_write_on_postgresql(postgres_app):
    _versions_follow_commits(postgres_app)


def test_a_ticket_added_by_the_app_shows_on_the_next_poll(app, client):
    installed = install(client, scope={"type": "all"})
    ctx = context_for(installed)
    headers = {"X-Widget-Context": ctx, "HX-Request": "true"}
    assert listed(client.get("/record/Contacts/42/tickets", headers=headers)) == []
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id="org-1"))
        db.session.add(Ticket(installation_id=installation.id, zendesk_id=7, subject="Printer on fire",
                              status="open", crm_contact_id="42"))
        db.session.commit()
    assert [row[:2] for row in listed(client.get("/record/Contacts/42/tickets", headers=headers))] == \
        [(7, "Printer on fire")]
