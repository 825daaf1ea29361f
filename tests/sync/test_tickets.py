"""Zendesk tickets and comments into the CRM (F21) over real HTTP: both sandboxes served, an installation
installed, authorized through the real OAuth pages and provisioned (tests/lifecycle/conftest.py)."""
import pytest

from tests.lifecycle.conftest import connect_tenant, crm, wired, zendesk_server  # noqa: F401 (fixtures)
from widget.extensions import db
from widget.lifecycle.install import on_crm_connected
from widget.models import Comment, Cursor, Installation, Link, SyncError, Ticket
from widget.record.listing import ticket_page
from widget.sandbox.zendesk import memberships
from widget.sync import engine
from widget.sync.tickets import COMMENTS, TICKETS, write_comments, write_tickets


@pytest.fixture
def installation(wired, crm, zendesk_server):
    """acme ↔ the JP CRM org, provisioned; rate limits off on the Zendesk side and on our pacer."""
    zendesk_server.state.rate_limits_enabled = False
    wired.config["ZENDESK_INCREMENTAL_CALLS_PER_MINUTE"] = 10_000
    engine.INCREMENTAL_PACERS.clear()  # pacers are per installation id, which every test database reuses
    connect_tenant(wired, crm, zendesk_server, "org-1", "jp", "acme", webhook=False)
    with wired.app_context():
        installation = db.session.scalar(db.select(Installation))
        on_crm_connected(installation)
        yield installation
    engine.INCREMENTAL_PACERS.clear()


def crm_records(crm, installation, key):
    org = crm.state.data_centres["jp"].org()
    return list(org.modules[installation.crm_modules[key]].records.values())


def by_ticket_id(crm, installation):
    return {int(r["Ticket_ID"]): r for r in crm_records(crm, installation, "tickets")}


def zendesk_comments(account):
    return {c["id"]: (ticket_id, c) for ticket_id, comments in account.comments.items() for c in comments}


def first_sync(installation):
    return engine.run_streams(installation, [TICKETS, COMMENTS])


def test_every_ticket_and_comment_reaches_the_crm_and_the_local_tables(installation, crm, zendesk_server):
    account = zendesk_server.account("acme")
    closed, noted = sorted(account.tickets.values(), key=lambda t: t["id"])[:2]
    account.update_ticket(noted, {}, comment={"body": "Internal: check the invoice.", "public": False},
                          author_id=noted["requester_id"])
    account.update_ticket(closed, {"status": "closed"})  # every status syncs, closed included
    zendesk_server.state.clock.advance(120)  # exports leave out the last minute
    first_sync(installation)

    records = by_ticket_id(crm, installation)
    assert set(records) == set(account.tickets)
    for ticket_id, ticket in account.tickets.items():
        record, requester = records[ticket_id], account.users[ticket["requester_id"]]
        assert record["Name"] == ticket["subject"]
        assert record["Status"] == ticket["status"].capitalize()
        assert (record["Requester_Name"], record["Requester_Email"]) == (requester["name"], requester["email"])
        assert record["Zendesk_Link"].endswith(f"/agent/tickets/{ticket_id}")
        if ticket["organization_id"]:
            assert record["Organization"] == account.organizations[ticket["organization_id"]]["name"]
    assert records[closed["id"]]["Status"] == "Closed"

    comments = zendesk_comments(account)
    crm_comments = {int(r["Comment_ID"]): r for r in crm_records(crm, installation, "comments")}
    assert set(crm_comments) == set(comments)
    assert {c["public"] for _, c in comments.values()} == {True, False}  # internal notes too
    for comment_id, (ticket_id, comment) in comments.items():
        record = crm_comments[comment_id]
        assert record["Zendesk_Ticket"]["id"] == records[ticket_id]["id"]
        assert (record["Body"], record["Public"]) == (comment["body"], comment["public"])
        assert record["Author"] == account.users[comment["author_id"]]["name"]

    local = {t.zendesk_id: t for t in db.session.scalars(db.select(Ticket))}
    assert set(local) == set(account.tickets)
    assert all(local[i].crm_record_id == records[i]["id"] for i in local)
    assert {c.zendesk_id for c in db.session.scalars(db.select(Comment))} == set(comments)
    assert {c.stream for c in db.session.scalars(db.select(Cursor))} == {TICKETS, COMMENTS}


def test_a_second_run_sends_nothing_unchanged_and_an_update_changes_the_same_record(installation, crm,
                                                                                    zendesk_server):
    first_sync(installation)
    records = by_ticket_id(crm, installation)
    modified = {r["id"]: r["Modified_Time"] for r in records.values()}

    account = zendesk_server.account("acme")
    ticket = next(t for t in account.tickets.values() if t["status"] != "closed")
    account.update_ticket(ticket, {"status": "solved"}, comment={"body": "Done.", "public": False},
                          author_id=ticket["requester_id"])
    zendesk_server.state.clock.advance(120)  # exports leave out the last minute
    crm.state.clock.advance(120)
    first_sync(installation)

    after = by_ticket_id(crm, installation)
    assert len(after) == len(records)
    assert after[ticket["id"]]["Status"] == "Solved"
    assert after[ticket["id"]]["id"] == records[ticket["id"]]["id"]  # the same record, updated
    untouched = [r for zid, r in after.items() if zid != ticket["id"]]
    assert all(r["Modified_Time"] == modified[r["id"]] for r in untouched)  # nothing resent
    note = next(r for r in crm_records(crm, installation, "comments") if r["Body"] == "Done.")
    assert (note["Public"], note["Zendesk_Ticket"]["id"]) == (False, records[ticket["id"]]["id"])


def crm_record(crm, module, **values):
    org = crm.state.data_centres["jp"].org()
    user = next(iter(org.users.values()))
    [record] = org.insert_records(org.modules[module], [values], user, notify=False)
    return record["id"]


def test_lookups_to_contact_lead_account_and_deal(installation, crm, zendesk_server):
    account = zendesk_server.account("acme")
    tickets = sorted(account.tickets.values(), key=lambda t: t["id"])
    with_org = next(t for t in tickets if t["organization_id"])
    other = next(t for t in tickets if t["requester_id"] != with_org["requester_id"])
    contact = crm_record(crm, "Contacts", Last_Name="Sato")
    lead = crm_record(crm, "Leads", Last_Name="Ito", Company="Ito KK")
    crm_account = crm_record(crm, "Accounts", Account_Name="Sakura Trading")
    deal = crm_record(crm, "Deals", Deal_Name="Renewal", Stage="Qualification")
    db.session.add_all([
        Link(installation_id=installation.id, kind="user", zendesk_id=with_org["requester_id"],
             crm_module="Contacts", crm_id=contact),
        Link(installation_id=installation.id, kind="user", zendesk_id=other["requester_id"],
             crm_module="Leads", crm_id=lead),
        Link(installation_id=installation.id, kind="organization", zendesk_id=with_org["organization_id"],
             crm_module="Accounts", crm_id=crm_account)])
    db.session.commit()
    with_org["external_id"] = f"zcrm:Deals:{deal}"  # created from the Deal's page by the record widget

    first_sync(installation)
    records = by_ticket_id(crm, installation)
    assert records[with_org["id"]]["Contact"]["id"] == contact
    assert records[with_org["id"]]["Lead"] is None
    assert records[with_org["id"]]["Account"]["id"] == crm_account
    assert records[with_org["id"]]["Deal"]["id"] == deal
    assert records[other["id"]]["Lead"]["id"] == lead
    assert records[other["id"]]["Contact"] is None
    row = db.session.scalar(db.select(Ticket).filter_by(zendesk_id=with_org["id"]))
    assert (row.crm_contact_id, row.crm_account_id, row.crm_deal_id) == (contact, crm_account, deal)


def test_a_record_the_crm_refuses_is_an_error_with_its_message_and_the_rest_are_written(installation, crm,
                                                                                        zendesk_server):
    account = zendesk_server.account("acme")
    bad = min(account.tickets)
    account.tickets[bad]["external_id"] = "zcrm:Deals:999999"  # a Deal that does not exist
    first_sync(installation)

    records = by_ticket_id(crm, installation)
    assert set(records) == set(account.tickets) - {bad}
    error = db.session.scalar(db.select(SyncError).filter_by(stream=TICKETS))
    assert error.object_id == str(bad)
    assert "INVALID_DATA" in error.message and "Deal" in error.message
    # Its comments wait for it (no lookup to a record that does not exist) ...
    waiting = db.session.scalars(db.select(SyncError).filter_by(stream=COMMENTS)).all()
    assert {int(e.object_id) for e in waiting} == {c["id"] for c in account.comments[bad]}
    assert all(e.message.startswith(f"Waiting for ticket {bad}") for e in waiting)
    assert {e.waiting_for_ticket for e in waiting} == {bad}
    assert not any(int(r["Comment_ID"]) in {c["id"] for c in account.comments[bad]}
                   for r in crm_records(crm, installation, "comments"))

    # ... and follow it once it is fixed in Zendesk and synced.
    account.update_ticket(account.tickets[bad], {"external_id": None})
    zendesk_server.state.clock.advance(120)
    engine.run_streams(installation, [TICKETS])
    assert bad in by_ticket_id(crm, installation)
    comment_ids = {int(r["Comment_ID"]) for r in crm_records(crm, installation, "comments")}
    assert {c["id"] for c in account.comments[bad]} <= comment_ids
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncError)) == 0


def test_selective_sync_writes_only_the_chosen_organizations_tickets_and_their_comments(installation, crm,
                                                                                        zendesk_server):
    account = zendesk_server.account("acme")
    org_ids = sorted({t["organization_id"] for t in account.tickets.values() if t["organization_id"]})
    chosen = org_ids[:1]
    settings = engine.sync_settings(installation)
    settings.mode, settings.selected_organizations = "selective", chosen
    db.session.commit()
    first_sync(installation)

    expected = {i for i, t in account.tickets.items() if t["organization_id"] in chosen}
    assert expected and expected != set(account.tickets)
    assert set(by_ticket_id(crm, installation)) == expected
    comments = {int(r["Comment_ID"]) for r in crm_records(crm, installation, "comments")}
    assert comments == {c["id"] for i in expected for c in account.comments[i]}
    assert {t.zendesk_id for t in db.session.scalars(db.select(Ticket))} == expected
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncError)) == 0  # left out, not failed


def test_a_comment_whose_ticket_is_not_synced_yet_brings_its_ticket_first(installation, crm, zendesk_server):
    account = zendesk_server.account("acme")
    ticket = next(iter(account.tickets.values()))
    comment = account.comments[ticket["id"]][0]

    result = write_comments(engine.SyncContext(installation), [(ticket["id"], comment)])
    assert (result.written, result.failed) == (1, 0)
    [record] = crm_records(crm, installation, "comments")
    assert record["Zendesk_Ticket"]["id"] == by_ticket_id(crm, installation)[ticket["id"]]["id"]

    ctx = engine.SyncContext(installation)
    again = write_tickets(ctx, [ticket])  # the real-time path: unchanged, so nothing is sent
    assert (again.written, again.failed) == (1, 0)
    assert len(crm_records(crm, installation, "tickets")) == 1


def test_a_ticket_deleted_in_zendesk_leaves_the_crm_with_its_comments(installation, crm, zendesk_server):  # noqa: F811
    account = zendesk_server.account("acme")
    deleted, kept = sorted(account.tickets)[:2]
    account.update_ticket(account.tickets[deleted], {}, comment={"body": "Spam, deleting.", "public": False},
                          author_id=account.tickets[deleted]["requester_id"])
    zendesk_server.state.clock.advance(120)
    first_sync(installation)
    gone_comments = {c["id"] for c in account.comments[deleted]}
    assert len(gone_comments) >= 2 and deleted in by_ticket_id(crm, installation)
    # An old error of a comment that waited for this ticket: moot once the ticket is gone.
    engine.SyncContext(installation).record_error(COMMENTS, 999, f"Waiting for ticket {deleted}, which is not ...",
                                                  waiting_for_ticket=deleted)

    zendesk_server.state.account("acme").delete_ticket(deleted)
    zendesk_server.state.clock.advance(120)
    deletes = []  # (module, ids) of each CRM delete call

    def listen(org, event):
        if event.get("type") == "records" and event["operation"] == "delete":
            deletes.append((event["module"], set(event["ids"])))
    crm.state.listeners.append(listen)
    engine.run_streams(installation, [TICKETS, COMMENTS])  # the catch-up
    crm.state.listeners.remove(listen)

    records = by_ticket_id(crm, installation)
    assert deleted not in records and kept in records and len(records) == len(account.tickets)
    crm_comments = {int(r["Comment_ID"]) for r in crm_records(crm, installation, "comments")}
    assert crm_comments.isdisjoint(gone_comments) and crm_comments
    assert [module for module, _ids in deletes] == [installation.crm_modules["comments"],
                                                     installation.crm_modules["tickets"]]  # a call a module
    assert db.session.scalar(db.select(Ticket).filter_by(zendesk_id=deleted)) is None
    assert db.session.scalars(db.select(Comment).filter(Comment.zendesk_id.in_(gone_comments))).all() == []
    assert db.session.scalars(db.select(Link).filter(Link.zendesk_id.in_(gone_comments | {deleted}))).all() == []
    assert db.session.scalars(db.select(SyncError)).all() == []
    # And a later run has nothing more to do for it.
    zendesk_server.state.clock.advance(120)
    crm.state.listeners.append(listen)
    engine.run_streams(installation, [TICKETS, COMMENTS])
    crm.state.listeners.remove(listen)
    assert len(deletes) == 2


def test_a_ticket_of_a_user_in_several_organizations_lands_on_its_own_organizations_account(installation, crm,
                                                                                            zendesk_server):
    """A Zendesk user belongs to two organizations (memberships; the first is the default): each ticket goes
    to the Account of the ticket's own organization, not of the user's default one."""
    account = zendesk_server.account("acme")
    first = account.create_organization({"name": "First Holdings"})
    second = account.create_organization({"name": "Second Trading"})
    user = account.create_user({"name": "Two Hats", "email": "two@hats.example", "organization_id": first["id"]})
    memberships.add(account, user["id"], second["id"])
    assert account.users[user["id"]]["organization_id"] == first["id"]  # the default stays the first
    in_default, _ = account.create_ticket({"requester_id": user["id"], "subject": "Default"}, {"body": "a"}, user["id"])
    in_second, _ = account.create_ticket({"requester_id": user["id"], "subject": "Second",
                                          "organization_id": second["id"]}, {"body": "b"}, user["id"])
    contact = crm_record(crm, "Contacts", Last_Name="Hats", Email="two@hats.example")
    first_account = crm_record(crm, "Accounts", Account_Name="First Holdings")
    second_account = crm_record(crm, "Accounts", Account_Name="Second Trading")
    db.session.add_all([
        Link(installation_id=installation.id, kind="user", zendesk_id=user["id"], crm_module="Contacts",
             crm_id=contact),
        Link(installation_id=installation.id, kind="organization", zendesk_id=first["id"], crm_module="Accounts",
             crm_id=first_account),
        Link(installation_id=installation.id, kind="organization", zendesk_id=second["id"], crm_module="Accounts",
             crm_id=second_account)])
    db.session.commit()
    zendesk_server.state.clock.advance(120)  # exports leave out the last minute

    first_sync(installation)
    records = by_ticket_id(crm, installation)
    assert records[in_default["id"]]["Account"]["id"] == first_account
    assert records[in_second["id"]]["Account"]["id"] == second_account
    assert records[in_second["id"]]["Contact"]["id"] == records[in_default["id"]]["Contact"]["id"] == contact

    def listed(module, record_id):
        return [row.zendesk_id for row, _ in ticket_page(installation, module, record_id).rows]

    assert listed("Accounts", second_account) == [in_second["id"]]
    assert listed("Accounts", first_account) == [in_default["id"]]
    assert sorted(listed("Contacts", contact)) == sorted([in_default["id"], in_second["id"]])
