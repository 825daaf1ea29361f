"""The first sync through its real entry point (`runs.first_sync_job`): selective mode syncs exactly the
chosen organizations' people and tickets (F13, F20, F21), and a bulk sync runs once (F14)."""
import pytest

from tests.sync.test_people import advance_zendesk, clear_crm_accounts, users_by_external_id
from widget.extensions import db
from widget.models import Cursor, SyncRun, Ticket
from widget.sync import runs


def crm_tickets(s):
    module = s.installation().crm_modules["tickets"]
    return list(s.crm_org().module(module).records.values())


def five_organizations(s, replies=False):
    """Five Zendesk organizations and five CRM accounts of the same names, four contacts each, and each
    organization's customer with two tickets (with an internal reply when `replies`). Returns
    (organizations, account ids, contact ids, {organization index: its ticket ids})."""
    clear_crm_accounts(s)
    zendesk = s.account()
    orgs = [zendesk.create_organization({"name": f"Org {n}"}) for n in range(5)]
    account_ids = s.crm_insert("Accounts", [{"Account_Name": f"Org {n}"} for n in range(5)])
    contact_ids = s.crm_insert("Contacts", [{"Last_Name": f"Person {n}", "Email": f"person{n}@org{n % 5}.example",
                                             "Account_Name": {"id": account_ids[n % 5]}} for n in range(20)])
    admin = next(u for u in zendesk.users.values() if u["role"] == "admin")
    tickets_of = {}
    for n, org in enumerate(orgs):
        requester = zendesk.create_user({"name": f"Customer {n}", "email": f"customer{n}@org{n}.example",
                                         "organization_id": org["id"]})
        tickets_of[n] = set()
        for k in range(2):
            ticket, _ = zendesk.create_ticket({"subject": f"Org {n} issue {k}", "requester_id": requester["id"]},
                                              {"body": "Help, please."}, requester["id"])
            if replies:
                zendesk.update_ticket(ticket, {"status": "open"}, {"body": "On it.", "public": False}, admin["id"])
            tickets_of[n].add(ticket["id"])
    advance_zendesk(s)
    return orgs, account_ids, contact_ids, tickets_of


def test_selective_first_sync_of_two_of_five_organizations_syncs_exactly_their_people_and_tickets(
        synced_installation):
    s = synced_installation
    zendesk = s.account()
    orgs, account_ids, contact_ids, tickets_of = five_organizations(s, replies=True)
    expected_tickets = tickets_of[1] | tickets_of[3]
    settings = s.settings()
    settings.mode, settings.selected_organizations = "selective", [orgs[1]["id"], orgs[3]["id"]]
    db.session.commit()

    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)

    db.session.refresh(run)
    assert run.status == "done", run.message
    synced = {int(record["Ticket_ID"]) for record in crm_tickets(s)}
    assert synced == expected_tickets
    assert {t.zendesk_id for t in db.session.scalars(db.select(Ticket))} == expected_tickets
    # Their people: the chosen organizations' contacts, and nobody else's.
    expected_people = {f"zcrm:Contacts:{cid}" for n, cid in enumerate(contact_ids) if n % 5 in (1, 3)}
    assert set(users_by_external_id(s)) == expected_people
    # Each synced ticket is looked up to its organization's CRM account.
    accounts = {int(record["Ticket_ID"]): (record.get("Account") or {}).get("id") for record in crm_tickets(s)}
    for ticket_id, account_id in accounts.items():
        org_index = int(zendesk.tickets[ticket_id]["subject"].split()[1])
        assert account_id == account_ids[org_index]
    # Comments (public and internal) of exactly those tickets.
    comments = list(s.crm_org().module(s.installation().crm_modules["comments"]).records.values())
    assert len(comments) == 2 * len(expected_tickets)
    assert {c["Public"] for c in comments} == {True, False}
    # Counts per stream for the progress bar.
    assert run.counts["zendesk_tickets"]["written"] == len(expected_tickets)


def test_a_bulk_first_sync_runs_once(synced_installation):
    s = synced_installation
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    db.session.refresh(run)
    assert run.status == "done", run.message
    assert s.settings().bulk_done_at is not None and s.settings().first_sync_done_at is not None
    with pytest.raises(runs.RunRefused, match="only once"):
        runs.start_first_sync(s.installation())
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun)) == 1


def test_a_revoked_grant_pauses_the_installation_and_says_so(synced_installation):
    from widget.sandbox.zendesk.oauth import revoke

    s = synced_installation
    account = s.account()
    for grant in list(account.grants.values()):  # the admin removed our access in Zendesk
        revoke(account, grant)
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    db.session.refresh(run)
    assert run.status == "paused"  # not failed: re-authorizing carries it on (test_sync_now.py)
    # Its refresh token went too: Zendesk refuses to renew, and the admin is told which grant to redo.
    assert s.settings().paused_reason.startswith("Zendesk refused to renew the extension's access")
    assert "re-authorize Zendesk" in s.settings().paused_reason
    assert run.message == s.settings().paused_reason


def test_edit_adding_a_third_organization_syncs_exactly_its_people_and_tickets(synced_installation):
    """F17: a Selective sync of 2 of 5 organizations, then Edit in the wizard adds a third: a backfill
    started at once writes the third's people, tickets and comments, nothing of the other two left out,
    and nothing moves the installation's own cursors."""
    from tests.sync.test_organization_picker import Picker

    s = synced_installation
    orgs, account_ids, contact_ids, tickets_of = five_organizations(s)
    settings = s.settings()
    settings.mode, settings.selected_organizations = "selective", [orgs[1]["id"], orgs[3]["id"]]
    db.session.commit()
    first = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, first.id)
    db.session.refresh(first)
    assert first.status == "done", first.message
    cursors = {c.stream: c.value for c in db.session.scalars(db.select(Cursor))}

    picker = Picker(s)
    picker.open()
    picker.press("search", q="Org 4")
    picker.press(f"add:{orgs[4]['id']}")
    page = picker.press("save")
    assert page.select_one("#wizard-note").get_text() == "The organizations you added are being synced now."
    s.app.extensions["sync_pool"].shutdown(wait=True)

    backfill = db.session.scalar(db.select(SyncRun).filter_by(kind="backfill"))
    assert (backfill.status, backfill.organizations) == ("done", [orgs[4]["id"]]), backfill.message
    synced = {int(record["Ticket_ID"]) for record in crm_tickets(s)}
    assert synced == tickets_of[1] | tickets_of[3] | tickets_of[4]
    assert backfill.counts["zendesk_tickets"]["written"] == 2  # exactly the third's, none written again
    expected_people = {f"zcrm:Contacts:{cid}" for n, cid in enumerate(contact_ids) if n % 5 in (1, 3, 4)}
    assert set(users_by_external_id(s)) == expected_people
    comments = list(s.crm_org().module(s.installation().crm_modules["comments"]).records.values())
    assert len(comments) == len(synced)  # each ticket's first comment
    # The installation's own cursors did not move, and the backfill's are gone.
    db.session.expire_all()
    assert {c.stream: c.value for c in db.session.scalars(db.select(Cursor))} == cursors
    assert s.settings().selected_organizations == [orgs[1]["id"], orgs[3]["id"], orgs[4]["id"]]
