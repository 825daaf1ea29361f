"""People and organizations (F20) over real HTTP against both sandboxes: CRM Accounts → Zendesk
organizations, Contacts and Leads → end-users in their organizations, Zendesk users' edits back to the
CRM; the field mapping, selective mode, conflicts, echoes, API cost and crash-resume."""
import math

import pytest

from widget.clients.http import ServerError
from widget.extensions import db
from widget.models import FieldMapping, SyncRun
from widget.sync import engine, people, pull
from widget.sync.mapping_rows import crm_fields

CRM_STREAMS = ("crm_accounts", "crm_contacts", "crm_leads")
ALL = CRM_STREAMS + ("zendesk_users",)


# ---- helpers -------------------------------------------------------------------------------------
def clear_crm_accounts(s):
    """Remove the CRM org's few seeded accounts (their names are the Zendesk seed's organizations' too)."""
    ids = list(s.crm_org().module("Accounts").records)
    if ids:
        answer = s.crm_api.delete(f"{s.crm_api.base}/Accounts", params={"ids": ",".join(ids)}, timeout=30)
        assert answer.status_code == 200, answer.text


def organizations(s):
    return list(s.account().organizations.values())


def users_by_external_id(s):
    found = {}
    for user in s.account().users.values():
        if (user.get("external_id") or "").startswith("zcrm:"):
            found.setdefault(user["external_id"], []).append(user)
    return found


def zendesk_user(s, email):
    return s.account().find_user(email=email)


def advance_zendesk(s, seconds=61):
    """Zendesk's exports leave out the last minute's changes (docs/outside-apis.md#zendesk-incremental-exports,
    one-minute rule)."""
    s.zendesk.state.clock.advance(seconds)


def seed(s, accounts=0, contacts=0, leads=0, prefix="Co"):
    """Accounts, Contacts spread over them (every 10th without an account) and Leads in the CRM."""
    account_ids = s.crm_insert("Accounts", [{"Account_Name": f"{prefix} {n}", "Website": f"https://www.{prefix.lower()}{n}.example/",
                                             "Description": f"About {prefix} {n}"} for n in range(accounts)])
    contact_rows = []
    for n in range(contacts):
        row = {"First_Name": "Ann", "Last_Name": f"{prefix} Contact {n}", "Email": f"contact{n}@{prefix.lower()}.example",
               "Phone": f"+81-3-{n:04d}"}
        if account_ids and n % 10:
            row["Account_Name"] = {"id": account_ids[n % len(account_ids)]}
        contact_rows.append(row)
    contact_ids = s.crm_insert("Contacts", contact_rows)
    lead_ids = s.crm_insert("Leads", [{"Last_Name": f"{prefix} Lead {n}", "Email": f"lead{n}@{prefix.lower()}.example"}
                                      for n in range(leads)])
    return account_ids, contact_rows, contact_ids, lead_ids


# ---- bulk sync and its cost ----------------------------------------------------------------------
def test_bulk_sync_creates_organizations_and_people_in_them_at_minimal_cost(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    accounts, contacts, leads = 250, 450, 150
    account_ids, contact_rows, contact_ids, lead_ids = seed(s, accounts, contacts, leads)
    orgs_before, users_before = len(organizations(s)), len(s.account().users)
    s.crm_calls.reset()
    run = SyncRun(installation_id=s.installation_id, kind="first", mode="bulk", status="running")
    db.session.add(run)
    db.session.commit()

    s.run(*ALL, ctx=s.context(run=run))

    ours = {o["external_id"]: o for o in organizations(s) if o.get("external_id")}
    assert len(organizations(s)) == orgs_before + accounts
    assert sorted(ours) == sorted(f"zcrm:Accounts:{i}" for i in account_ids)
    assert ours[f"zcrm:Accounts:{account_ids[7]}"]["name"] == "Co 7"
    assert ours[f"zcrm:Accounts:{account_ids[7]}"]["domain_names"] == ["www.co7.example"]
    assert ours[f"zcrm:Accounts:{account_ids[7]}"]["details"] == "About Co 7"
    people_in_zendesk = users_by_external_id(s)
    assert len(s.account().users) == users_before + contacts + leads
    assert all(len(found) == 1 for found in people_in_zendesk.values())
    for n, crm_id in enumerate(contact_ids):
        user = people_in_zendesk[f"zcrm:Contacts:{crm_id}"][0]
        assert (user["email"], user["name"], user["phone"], user["role"]) == (
            f"contact{n}@co.example", f"Ann Co Contact {n}", f"+81-3-{n:04d}", "end-user")
        account = contact_rows[n].get("Account_Name")
        expected_org = ours[f"zcrm:Accounts:{account['id']}"]["id"] if account else None
        assert user["organization_id"] == expected_org  # placed into its account's organization
    assert {f"zcrm:Leads:{i}" for i in lead_ids} <= set(people_in_zendesk)
    assert s.errors() == []

    # API calls: the minimum the batch sizes allow (CRM pages of 200; Zendesk jobs of 100, each polled),
    # and one look at each module's deleted records (GET /{module}/deleted: none).
    crm_reads = sum(math.ceil(n / 200) for n in (accounts, contacts, leads)) + 3
    org_jobs, user_jobs = math.ceil(accounts / 100), math.ceil(contacts / 100) + math.ceil(leads / 100)
    assert s.crm_calls.count("GET", "/crm/v8/Accounts") + s.crm_calls.count("GET", "/crm/v8/Contacts") \
        + s.crm_calls.count("GET", "/crm/v8/Leads") == crm_reads
    assert len(s.crm_calls.api_calls()) == crm_reads  # no CRM writes: nothing came back from Zendesk
    assert s.zendesk_calls.count("POST", "/organizations/create_many") == org_jobs
    assert s.zendesk_calls.count("POST", "/users/create_or_update_many") == user_jobs
    polls = s.zendesk_calls.count("GET", "/job_statuses/")
    assert org_jobs + user_jobs <= polls <= 2 * (org_jobs + user_jobs)
    exports = s.zendesk_calls.count("GET", "/incremental/users")
    assert exports == math.ceil(len(s.account().users) / 1000)
    minimum = crm_reads + 2 * (org_jobs + user_jobs) + exports
    assert len(s.zendesk_calls.api_calls()) + len(s.crm_calls.api_calls()) <= minimum + (polls - org_jobs - user_jobs)
    db.session.refresh(run)
    assert run.counts["crm_accounts"] == {"read": accounts, "written": accounts, "errors": 0}
    assert run.counts["crm_contacts"] == {"read": contacts, "written": contacts, "errors": 0}
    assert run.counts["zendesk_users"]["written"] == 0  # only our own writes came back: echoes

    # Nothing changed: a catch-up run writes nothing anywhere.
    s.zendesk_calls.reset()
    s.crm_calls.reset()
    advance_zendesk(s)
    s.run(*ALL)
    assert s.zendesk_calls.count("POST") == 0
    assert s.crm_calls.count("PUT") + s.crm_calls.count("POST") == 0


def first_run(s):
    """A bulk first sync's run, to read its counts."""
    run = SyncRun(installation_id=s.installation_id, kind="first", mode="bulk", status="running")
    db.session.add(run)
    db.session.commit()
    return run


def test_accounts_named_like_unlinked_organizations_adopt_them(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    existing = [s.account().create_organization({"name": f"Old Co {n}", "notes": "kept"}) for n in range(3)]
    rows = [{"Account_Name": f"Old Co {n}", "Website": f"https://old{n}.example/", "Description": f"About {n}"}
            for n in range(3)] + [{"Account_Name": "New Co"}]
    ids = s.crm_insert("Accounts", rows)
    late = []

    def name_taken_meanwhile(path):  # after the accounts were read: only create_many's DuplicateValue tells
        if not late:
            late.append(s.account().create_organization({"name": "New Co"}))

    s.zendesk_calls.before("POST", "/organizations/create_many", name_taken_meanwhile)
    orgs_before = len(organizations(s)) + 1  # and the late one
    run = first_run(s)
    assert s.settings().mode == "bulk"
    s.zendesk_calls.reset()

    s.run("crm_accounts", ctx=s.context(run=run))

    assert len(organizations(s)) == orgs_before  # no second organization for any name
    for org, crm_id, n in zip(existing + late, ids, range(4)):
        assert org["external_id"] == f"zcrm:Accounts:{crm_id}"
        assert org["name"] == rows[n]["Account_Name"]
    assert (existing[1]["domain_names"], existing[1]["details"], existing[1]["notes"]) == (
        ["old1.example"], "About 1", "kept")  # the mapped fields written, the others left alone
    assert {link.zendesk_id: link.crm_id for link in s.links("organization")} == {
        org["id"]: crm_id for org, crm_id in zip(existing + late, ids)}
    assert s.errors() == []
    db.session.refresh(run)
    assert run.counts["crm_accounts"] == {"read": 4, "written": 4, "errors": 0}
    # One job; one show_many for the names taken (is any ours?); then one search and one write each.
    assert s.zendesk_calls.count("POST", "/organizations/create_many") == 1
    assert s.zendesk_calls.count("GET", "/organizations/show_many") == 1
    assert s.zendesk_calls.count("GET", "/organizations/search") == 4
    assert s.zendesk_calls.count("POST", "/organizations/create_or_update") == 4

    s.zendesk_calls.reset()
    s.run("crm_accounts")  # linked now: nothing more to write
    assert s.zendesk_calls.count("POST") == 0


def test_the_seeded_accounts_adopt_the_seeded_organizations_of_their_names(synced_installation):
    s = synced_installation
    names = {r["Account_Name"] for r in s.crm_org().module("Accounts").records.values()}
    holders = [o for o in organizations(s) if o["name"] in names]
    assert holders and all(o["external_id"] is None for o in holders)
    orgs_before = len(organizations(s))

    s.run("crm_accounts")

    assert len(organizations(s)) == orgs_before + len(names) - len(holders)
    assert all(o["external_id"].startswith("zcrm:Accounts:") for o in holders)
    assert s.errors() == []


def test_an_organization_named_like_an_account_but_another_records_is_never_taken(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    [owner_id] = s.crm_insert("Accounts", [{"Account_Name": "Owned Co"}])
    s.run("crm_accounts")  # Owned Co: created and linked to its account
    [owned] = [o for o in organizations(s) if o["name"] == "Owned Co"]
    owned["external_id"] = None  # cleared in Zendesk: the Link still says whose it is
    s.account().orgs_by_external_id.pop(f"zcrm:accounts:{owner_id}")
    elsewhere = s.account().create_organization({"name": "Elsewhere Co", "external_id": "zcrm:Accounts:999"})
    foreign = s.account().create_organization({"name": "Foreign Co", "external_id": "SF-001"})
    cased = s.account().create_organization({"name": "CASED Co"})
    before = {o["id"]: dict(o) for o in (owned, elsewhere, foreign, cased)}
    names = ["Owned Co", "Elsewhere Co", "Foreign Co", "Cased Co", "Fine Co"]
    ids = s.crm_insert("Accounts", [{"Account_Name": name, "Description": "New"} for name in names])
    orgs_before = len(organizations(s))

    for attempt in (1, 2):
        s.run("crm_accounts")
        assert {o["id"]: o for o in organizations(s) if o["id"] in before} == before  # untouched
        assert len(organizations(s)) == orgs_before + 1  # Fine Co only
        errors = {e.object_id: e for e in s.errors("crm_accounts")}
        assert sorted(errors) == sorted(ids[:4])
        assert all(e.attempts == attempt and not e.retryable for e in errors.values())
    taken = errors[ids[0]]
    assert taken.message == ("A Zendesk organization named “Owned Co” already exists and is linked to another CRM "
                             "account, so this account was not synced. Rename one of them.")
    assert (taken.zendesk_id, taken.other_crm_id) == (owned["id"], owner_id)
    assert "linked to another CRM account" in errors[ids[1]].message
    assert (errors[ids[1]].zendesk_id, errors[ids[1]].other_crm_id) == (elsewhere["id"], "999")
    assert errors[ids[2]].message == ("A Zendesk organization named “Foreign Co” already exists and is linked to "
                                      "another record (its external ID is “SF-001”), so this account was not synced. "
                                      "Rename one of them.")
    assert (errors[ids[2]].zendesk_id, errors[ids[2]].other_crm_id) == (foreign["id"], None)
    assert errors[ids[3]].message.startswith("A Zendesk organization named “CASED Co” already exists. Zendesk "
                                             "treats names that differ only in capital letters as the same")
    assert {link.crm_id for link in s.links("organization")} == {owner_id, ids[4]}


def test_two_accounts_of_one_name_one_organization(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    twin = s.account().create_organization({"name": "Twin Co"})
    first, second = s.crm_insert("Accounts", [{"Account_Name": "Twin Co"}, {"Account_Name": "Twin Co"}])

    s.run("crm_accounts")

    assert [o["id"] for o in organizations(s) if o["name"] == "Twin Co"] == [twin["id"]]
    assert twin["external_id"] == f"zcrm:Accounts:{first}"
    [error] = s.errors("crm_accounts")
    assert (error.object_id, error.zendesk_id, error.other_crm_id) == (second, twin["id"], first)


def test_our_own_organization_whose_link_was_lost_is_found_again(synced_installation):
    """A crash after create_many did its work but before the Links were saved: the rerun's create_many
    is refused (name and external_id taken) and create_or_update by external_id finds our organization."""
    s = synced_installation
    clear_crm_accounts(s)
    ids = s.crm_insert("Accounts", [{"Account_Name": f"Lost {n}"} for n in range(3)])
    s.zendesk_calls.lose_answer("POST", "/organizations/create_many")
    with pytest.raises(ServerError):
        s.run("crm_accounts")
    assert s.links("organization") == []
    s.run("crm_accounts")
    assert sorted(link.crm_id for link in s.links("organization")) == sorted(ids)
    assert sorted(o["name"] for o in organizations(s) if o["name"].startswith("Lost")) == ["Lost 0", "Lost 1", "Lost 2"]
    assert s.errors() == []


# ---- matching people -----------------------------------------------------------------------------
def test_people_match_by_email_then_external_id(synced_installation):
    s = synced_installation
    by_email = s.account().create_user({"name": "Old Name", "email": "kim@match.example"})
    [lead_id] = s.crm_insert("Leads", [{"Last_Name": "Park", "First_Name": "Jin", "Email": "jin@match.example"}])
    by_external_id = s.account().create_user({"name": "No Email", "external_id": f"zcrm:Leads:{lead_id}"})
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Kim", "First_Name": "Sora", "Email": "KIM@match.example"}])
    users_before = len(s.account().users)

    s.run("crm_contacts", "crm_leads")

    assert len(s.account().users) == users_before  # both matched, no duplicate
    assert (by_email["name"], by_email["external_id"]) == ("Sora Kim", f"zcrm:Contacts:{contact_id}")
    assert (by_external_id["name"], by_external_id["email"]) == ("Jin Park", "jin@match.example")
    links = {link.crm_id: link.zendesk_id for link in s.links("user")}
    assert links == {contact_id: by_email["id"], lead_id: by_external_id["id"]}


def test_a_lead_with_a_linked_contacts_email_never_takes_over_its_zendesk_user(synced_installation):
    s = synced_installation
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Mori", "First_Name": "Aoi", "Email": "aoi@twice.example",
                                              "Phone": "+81-6-1111"}])
    s.run("crm_contacts")
    user = zendesk_user(s, "aoi@twice.example")
    [lead_id] = s.crm_insert("Leads", [{"Last_Name": "Mori (lead)", "Email": "AOI@twice.example", "Phone": "+81-6-2222"}])
    s.zendesk_calls.reset()
    s.run("crm_leads")

    # The Contact keeps its Zendesk user, untouched; the Lead is reported, in plain words, and not sent.
    assert (user["name"], user["external_id"], user["phone"]) == ("Aoi Mori", f"zcrm:Contacts:{contact_id}", "+81-6-1111")
    assert s.zendesk_calls.count("POST", "create_or_update_many") == 0
    (error,) = s.errors()
    assert (error.stream, error.object_id, error.retryable) == ("crm_leads", lead_id, False)
    assert "already linked to that Zendesk user" in error.message and "Contact keeps" in error.message
    assert {link.crm_id for link in s.links("user")} == {contact_id}


def test_only_the_chosen_modules_sync(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    _, _, contact_ids, _ = seed(s, accounts=2, contacts=5, leads=3)
    settings = s.settings()
    settings.modules = ["Contacts"]
    db.session.commit()
    orgs_before = len(organizations(s))

    streams = [name for name in engine.selected_streams(settings) if name in ALL]  # tickets are not ours here
    assert streams == ["crm_contacts", "zendesk_users"]
    s.run(*streams)

    assert len(organizations(s)) == orgs_before
    assert sorted(users_by_external_id(s)) == sorted(f"zcrm:Contacts:{i}" for i in contact_ids)
    # Their accounts are not in Zendesk: the people are left without an organization, not failed.
    assert all(u[0]["organization_id"] is None for u in users_by_external_id(s).values())
    assert s.errors() == []


def test_selective_sync_of_two_of_five_organizations(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    chosen = [s.account().create_organization({"name": f"Pick {n}"}) for n in range(5)]
    account_ids = s.crm_insert("Accounts", [{"Account_Name": f"Pick {n}"} for n in range(5)])
    contact_ids = s.crm_insert("Contacts", [{"Last_Name": f"P{n}", "Email": f"p{n}@pick.example",
                                             "Account_Name": {"id": account_ids[n % 5]}} for n in range(15)])
    # Leads have no account: they sync when their email is an end-user's of a chosen organization.
    s.account().create_user({"name": "In 0", "email": "lead-in0@pick.example", "organization_id": chosen[0]["id"]})
    s.account().create_user({"name": "In 3", "email": "lead-in3@pick.example", "organization_id": chosen[3]["id"]})
    lead_ids = s.crm_insert("Leads", [{"Last_Name": name, "Email": f"{name}@pick.example"}
                                      for name in ("lead-in0", "lead-in3", "lead-none")])
    settings = s.settings()
    settings.mode, settings.selected_organizations = "selective", [chosen[0]["id"], chosen[1]["id"]]
    db.session.commit()
    orgs_before = len(organizations(s))

    s.run(*ALL)

    assert len(organizations(s)) == orgs_before  # nothing created
    linked = {link.zendesk_id: link.crm_id for link in s.links("organization")}
    assert linked == {chosen[0]["id"]: account_ids[0], chosen[1]["id"]: account_ids[1]}
    assert chosen[0]["external_id"] == f"zcrm:Accounts:{account_ids[0]}"  # met by name, now ours
    assert [o["external_id"] for o in chosen[2:]] == [None, None, None]
    expected = {f"zcrm:Contacts:{cid}" for n, cid in enumerate(contact_ids) if n % 5 in (0, 1)}
    expected.add(f"zcrm:Leads:{lead_ids[0]}")
    assert set(users_by_external_id(s)) == expected
    for n, cid in enumerate(contact_ids):
        if n % 5 in (0, 1):
            assert users_by_external_id(s)[f"zcrm:Contacts:{cid}"][0]["organization_id"] == chosen[n % 5]["id"]


# ---- the field mapping, conflicts, echoes --------------------------------------------------------
def test_field_mapping_value_map_and_directions(synced_installation):
    s = synced_installation
    iid = s.installation_id
    db.session.add_all([
        FieldMapping(installation_id=iid, module="Contacts", crm_field="Lead_Source", zendesk_field="user_fields.source",
                     direction="to_zendesk", value_map={"Web Download": "web", "Trade Show": "event"}),
        FieldMapping(installation_id=iid, module="Contacts", crm_field="Title", zendesk_field="user_fields.title",
                     direction="both", value_map={"CEO": "chief"}),
        FieldMapping(installation_id=iid, module="Contacts", crm_field="Description", zendesk_field="notes",
                     direction="to_crm"),
    ])
    db.session.commit()
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Map", "Email": "map@map.example", "Title": "CEO",
                                              "Lead_Source": "Web Download", "Description": "crm only"}])
    s.run("crm_contacts")
    user = zendesk_user(s, "map@map.example")
    assert user["user_fields"] == {"source": "web", "title": "chief"}  # value maps applied
    assert user["notes"] is None  # to_crm: never written to Zendesk

    s.account().update_user(user, {"user_fields": {"source": "other", "title": "chief"}, "notes": "from zendesk"})
    advance_zendesk(s)
    s.run("zendesk_users")
    record = s.crm_get("Contacts", contact_id)
    assert record["Description"] == "from zendesk"  # to_crm comes back
    assert record["Lead_Source"] == "Web Download"  # to_zendesk does not

    s.account().update_user(user, {"user_fields": {"title": "Director"}})
    s.crm_update("Contacts", [{"id": contact_id, "Lead_Source": "Trade Show"}])
    advance_zendesk(s)
    s.run("crm_contacts", "zendesk_users")
    assert s.crm_get("Contacts", contact_id)["Title"] == "Director"  # both: Zendesk's later edit comes back
    assert user["user_fields"]["source"] == "event"


def test_the_later_change_wins(synced_installation):
    s = synced_installation
    ids = s.crm_insert("Contacts", [{"Last_Name": f"Race {n}", "Email": f"race{n}@race.example", "Phone": "100"}
                                    for n in range(2)])
    s.run("crm_contacts")
    crm_first, zendesk_first = (zendesk_user(s, f"race{n}@race.example") for n in range(2))

    # Contact 0: Zendesk edits first, the CRM later. Contact 1: the CRM first, Zendesk later.
    s.account().update_user(crm_first, {"phone": "201"})
    s.crm.state.clock.advance(30)
    s.crm_update("Contacts", [{"id": ids[0], "Phone": "302"}, {"id": ids[1], "Phone": "301"}])
    s.zendesk.state.clock.advance(60)
    s.account().update_user(zendesk_first, {"phone": "402"})
    advance_zendesk(s)

    s.run("crm_contacts", "zendesk_users")

    assert crm_first["phone"] == "302"
    assert s.crm_get("Contacts", ids[0])["Phone"] == "302"
    assert zendesk_first["phone"] == "402"
    assert s.crm_get("Contacts", ids[1])["Phone"] == "402"


def test_a_zendesk_edit_reaches_the_crm_and_does_not_bounce(synced_installation):
    s = synced_installation
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Echo", "Email": "echo@echo.example", "Phone": "1"}])
    s.run("crm_contacts", "zendesk_users")
    user = zendesk_user(s, "echo@echo.example")

    s.account().update_user(user, {"phone": "2"})
    advance_zendesk(s)
    s.crm_calls.reset()
    s.run("zendesk_users")
    assert s.crm_get("Contacts", contact_id)["Phone"] == "2"
    assert s.crm_calls.count("PUT", "/crm/v8/Contacts") == 1

    s.zendesk_calls.reset()
    s.crm_calls.reset()
    advance_zendesk(s)
    s.run("crm_contacts", "zendesk_users")
    assert s.zendesk_calls.count("POST") == 0  # the CRM write we made is not pushed back ...
    assert s.crm_calls.count("PUT") == 0  # ... and nothing comes back again
    assert s.crm_calls.count("GET", "/crm/v8/Contacts") == 2  # the records modified, and the deleted ones


def test_a_zendesk_organization_edit_reaches_its_account_and_does_not_bounce(synced_installation):
    s = synced_installation
    clear_crm_accounts(s)
    account_ids, *_ = seed(s, accounts=2, prefix="Orgedit")
    s.run("crm_accounts")
    ours = next(o for o in organizations(s) if o.get("external_id") == f"zcrm:Accounts:{account_ids[0]}")
    stranger = next(o for o in organizations(s) if not o.get("external_id"))

    # Name and details map both ways by default; a Zendesk organization of nobody's is left alone.
    s.account().update_organization(ours, {"name": "Orgedit Renamed", "details": "Moved to Osaka"})
    s.account().update_organization(stranger, {"details": "Not ours"})
    advance_zendesk(s)
    s.crm_calls.reset()
    s.run("zendesk_organizations")
    account = s.crm_get("Accounts", account_ids[0])
    assert (account["Account_Name"], account["Description"]) == ("Orgedit Renamed", "Moved to Osaka")
    assert s.crm_calls.count("PUT", "/crm/v8/Accounts") == 1
    assert s.crm_get("Accounts", account_ids[1])["Description"] == "About Orgedit 1"

    s.zendesk_calls.reset()
    s.crm_calls.reset()
    advance_zendesk(s)
    s.run("crm_accounts", "zendesk_organizations")
    assert s.zendesk_calls.count("POST") == s.zendesk_calls.count("PUT") == 0  # our CRM write is not pushed back
    assert s.crm_calls.count("PUT") == 0  # ... and nothing comes back again
    assert ours["name"] == "Orgedit Renamed"


def test_push_and_pull_batch_functions_for_real_time(synced_installation):
    s = synced_installation
    db.session.add(FieldMapping(installation_id=s.installation_id, module="Contacts", crm_field="Title",
                                zendesk_field="user_fields.title", direction="to_zendesk"))
    db.session.commit()
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Rt", "Email": "rt@rt.example", "Title": "Boss"}])
    ctx = s.context()
    # Read with the standard fields only (no Title): the batch reads the record again rather than
    # writing an empty title.
    records = list(ctx.crm.list_records("Contacts", crm_fields("Contacts"), ids=contact_id))
    assert "Title" not in records[0]
    s.crm_calls.reset()
    assert people.push_people(ctx, "Contacts", records).written == 1
    assert s.crm_calls.count("GET", "/crm/v8/Contacts") == 1
    assert zendesk_user(s, "rt@rt.example")["user_fields"] == {"title": "Boss"}
    records = list(ctx.crm.list_records("Contacts", crm_fields("Contacts", ctx), ids=contact_id))
    assert people.push_people(ctx, "Contacts", records).unchanged == 1  # same fields again: no call
    user = zendesk_user(s, "rt@rt.example")
    assert pull.pull_users(ctx, [dict(user)]).unchanged == 1  # our own write: an echo
    user["phone"] = "555"  # as if re-read after an edit in Zendesk
    assert pull.pull_users(ctx, [dict(user)]).written == 1
    assert s.crm_get("Contacts", contact_id)["Phone"] == "555"


# ---- crash-resume --------------------------------------------------------------------------------
def test_a_stream_stopped_mid_way_resumes_exactly(synced_installation):
    """The 3rd users job does its work but its answer is lost (as if the process died right after):
    the stream stops with its cursor after page 1; the rerun starts from there and writes page 2 again,
    which matches the users by email: exactly one Zendesk user per Contact."""
    s = synced_installation
    contact_ids = []
    for group in range(3):  # three seconds of changes apart: the cursor's second is known
        contact_ids += s.crm_insert("Contacts", [{"Last_Name": f"K{group}-{n}", "Email": f"k{group}-{n}@kill.example"}
                                                 for n in range(150)])
        s.crm.state.clock.advance(10)
    s.zendesk_calls.lose_answer("POST", "/users/create_or_update_many", nth=3)
    with pytest.raises(ServerError):
        s.run("crm_contacts")
    ctx = s.context()
    page_one_end = ctx.cursor("crm_contacts")
    assert page_one_end is not None
    assert len(s.links("user")) == 200  # page 1 only

    s.crm_calls.reset()
    s.run("crm_contacts")

    found = users_by_external_id(s)
    assert sorted(found) == sorted(f"zcrm:Contacts:{i}" for i in contact_ids)
    assert all(len(users) == 1 for users in found.values())
    assert len(s.links("user")) == 450
    assert s.errors() == []
    # The rerun read from the cursor (the second of record 200, group 2, on: 300 records, 2 pages), then
    # the deleted records.
    assert s.crm_calls.count("GET", "/crm/v8/Contacts") == 3
