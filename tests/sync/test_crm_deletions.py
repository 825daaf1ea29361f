"""CRM deletions (Contacts, Leads, Accounts), over real HTTP against both sandboxes: the sync unlinks the
deleted records, deletes nothing in Zendesk (the user or organization stays, without our external_id),
and a later record with the same email (or an account with the same name) links to it afresh.

Two ways in: GET /crm/v8/{module}/deleted read by the CRM streams (the notification lost), and the
notification channel's delete events through the served app's inbox.
"""

from tests.helpers import ADMIN
from tests.lifecycle.conftest import crm, crm_api_session  # noqa: F401 (fixture)
from tests.sync.test_dashboard import _dashboard, _row, _soup
from tests.sync.test_realtime import quiet, settled
from tests.webhooks.served import served_installation, wait_for
from widget.extensions import db
from widget.models import Link, SyncRun

CRM_STREAMS = ("crm_accounts", "crm_contacts", "crm_leads")


def delete(api, module, record_id):
    answer = api.delete(f"{api.base}/{module}/{record_id}", timeout=10)
    assert answer.status_code == 200 and answer.json()["data"][0]["code"] == "SUCCESS", answer.text


def users_by_email(account, email):
    return [u for u in list(account.users.values()) if (u.get("email") or "").lower() == email]


def organizations_named(account, name):
    return [o for o in list(account.organizations.values()) if o.get("name") == name]


def test_records_deleted_in_the_crm_are_unlinked_by_the_deleted_records_api(synced_installation):
    s = synced_installation
    account = s.account()
    [account_id] = s.crm_insert("Accounts", [{"Account_Name": "Shinonome Trading"}])
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Ueda", "First_Name": "Rin", "Email": "rin@gone.example",
                                              "Account_Name": {"id": account_id}}])
    [lead_id] = s.crm_insert("Leads", [{"Last_Name": "Kato", "Email": "kato@gone.example"}])
    s.run(*CRM_STREAMS)
    [org] = organizations_named(account, "Shinonome Trading")
    [contact_user] = users_by_email(account, "rin@gone.example")
    [lead_user] = users_by_email(account, "kato@gone.example")
    linked = {(link.crm_module, link.crm_id) for link in s.links("user")}
    assert linked == {("Contacts", contact_id), ("Leads", lead_id)}
    users, organizations = len(account.users), len(account.organizations)

    # Deleted in the CRM while no notification reaches us (the fixture's channel URL has no listener).
    for module, record_id in (("Contacts", contact_id), ("Leads", lead_id), ("Accounts", account_id)):
        delete(s.crm_api, module, record_id)
    s.zendesk_calls.reset()
    s.crm_calls.reset()
    s.run(*CRM_STREAMS)

    assert s.crm_calls.count("GET", "/Contacts/deleted") == 1 and s.crm_calls.count("GET", "/Accounts/deleted") == 1
    assert s.links("user") == [] and account_id not in {link.crm_id for link in s.links("organization")}
    # Nothing deleted in Zendesk: the user and the organization stay, only our external_id is gone.
    assert s.zendesk_calls.count("DELETE") == 0
    assert (len(account.users), len(account.organizations)) == (users, organizations)
    assert account.users[contact_user["id"]]["external_id"] is None
    assert account.users[lead_user["id"]]["external_id"] is None
    assert account.organizations[org["id"]]["external_id"] is None and org["name"] == "Shinonome Trading"
    assert s.errors() == []

    # A later run reads the deletions again only from where it stopped: nothing more to do.
    s.zendesk_calls.reset()
    s.run(*CRM_STREAMS)
    assert s.zendesk_calls.count("PUT") == 0

    # New records with the same name and emails link afresh to the same Zendesk objects.
    [new_account] = s.crm_insert("Accounts", [{"Account_Name": "Shinonome Trading"}])
    [new_contact] = s.crm_insert("Contacts", [{"Last_Name": "Ueda", "First_Name": "Rin", "Email": "rin@gone.example",
                                               "Account_Name": {"id": new_account}}])
    [new_lead] = s.crm_insert("Leads", [{"Last_Name": "Kato", "Email": "kato@gone.example"}])
    s.run(*CRM_STREAMS)
    assert (len(account.users), len(account.organizations)) == (users, organizations)
    assert [link.crm_id for link in s.links("organization") if link.zendesk_id == org["id"]] == [new_account]
    assert {(link.crm_id, link.zendesk_id) for link in s.links("user")} == {
        (new_contact, contact_user["id"]), (new_lead, lead_user["id"])}
    assert account.organizations[org["id"]]["external_id"] == f"zcrm:Accounts:{new_account}"
    assert account.users[contact_user["id"]]["external_id"] == f"zcrm:Contacts:{new_contact}"
    assert account.users[contact_user["id"]]["organization_id"] == org["id"]
    assert s.errors() == []


def test_the_dashboard_counts_unlinked_records_out_and_says_nothing_is_deleted_in_zendesk(synced_installation):
    s = synced_installation
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Sano", "Email": "sano@dash.example"}])
    s.run("crm_contacts")
    assert _row(_soup(_dashboard(s)), "contacts") == 1
    delete(s.crm_api, "Contacts", contact_id)
    s.run("crm_contacts")
    page = _soup(_dashboard(s))
    assert _row(page, "contacts") == 0
    assert page.select_one("#crm-deletions").get_text() == (
        "A Contact, Lead or Account deleted in Zoho CRM is only unlinked from its Zendesk user or organization: "
        "nothing is deleted in Zendesk. A record added later with the same email (or, for an account, the same "
        "name) is linked to it again.")
    with s.app.app_context():  # a context of its own: Flask-Babel keeps the locale it chose in the one it ran in
        japanese = _soup(_dashboard(s, user=dict(ADMIN, locale="ja_JP"))).select_one("#crm-deletions").get_text()
    assert "リンクが解除されるだけで、Zendesk では何も削除されません" in japanese


def test_a_zendesk_object_someone_else_took_over_keeps_its_external_id(synced_installation):
    s = synced_installation
    account = s.account()
    [lead_id] = s.crm_insert("Leads", [{"Last_Name": "Ono", "Email": "ono@kept.example"}])
    s.run("crm_leads")
    [user] = users_by_email(account, "ono@kept.example")
    account.update_user(user, {"external_id": "kintone:42"})  # another system's now
    delete(s.crm_api, "Leads", lead_id)
    s.zendesk_calls.reset()
    s.run("crm_leads")
    assert s.links("user") == [] and account.users[user["id"]]["external_id"] == "kintone:42"
    assert s.zendesk_calls.count("PUT") == 0


def test_records_deleted_in_the_crm_are_unlinked_by_its_notifications(tmp_path, crm, zendesk):  # noqa: F811
    with served_installation(tmp_path, crm, zendesk) as served, served.app.app_context():
        api = crm_api_session(crm, "jp")
        account = zendesk.account("acme")
        created = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "Minato Logistics"}]}, timeout=5)
        account_id = created.json()["data"][0]["details"]["id"]
        created = api.post(f"{api.base}/Contacts", json={"data": [
            {"Last_Name": "Abe", "First_Name": "Mio", "Email": "mio@notified.example",
             "Account_Name": {"id": account_id}}]}, timeout=5)
        contact_id = created.json()["data"][0]["details"]["id"]
        [user] = wait_for(lambda: users_by_email(account, "mio@notified.example"))
        [org] = wait_for(lambda: organizations_named(account, "Minato Logistics"))
        wait_for(lambda: settled(served) and len(links(served)) == 2)

        delete(api, "Contacts", contact_id)
        delete(api, "Accounts", account_id)
        wait_for(lambda: any(e.payload.get("operation") == "delete" and e.object_kind == "Accounts"
                             for e in served.events()))
        wait_for(lambda: settled(served) and links(served) == set())
        assert account.users[user["id"]]["external_id"] is None and user["id"] in account.users
        assert account.organizations[org["id"]]["external_id"] is None and org["id"] in account.organizations
        assert {e.status for e in served.events()} == {"done"}
        # Applied by the inbox's passes alone (no stream run read GET /{module}/deleted).
        assert set(db.session.scalars(db.select(SyncRun.kind).filter_by(
            installation_id=served.installation_id))) == {"realtime"}

        # A new Contact with the same email, in a new Account of the same name: linked to the same pair.
        created = api.post(f"{api.base}/Accounts", json={"data": [{"Account_Name": "Minato Logistics"}]}, timeout=5)
        new_account = created.json()["data"][0]["details"]["id"]
        created = api.post(f"{api.base}/Contacts", json={"data": [
            {"Last_Name": "Abe", "First_Name": "Mio", "Email": "mio@notified.example",
             "Account_Name": {"id": new_account}}]}, timeout=5)
        new_contact = created.json()["data"][0]["details"]["id"]
        wait_for(lambda: settled(served) and links(served) == {
            ("organization", new_account, org["id"]), ("user", new_contact, user["id"])}, timeout=15)
        wait_for(lambda: quiet(served, crm, zendesk))  # a late event, if any, has been applied
        assert account.users[user["id"]]["external_id"] == f"zcrm:Contacts:{new_contact}"
        assert account.organizations[org["id"]]["external_id"] == f"zcrm:Accounts:{new_account}"
        assert len(users_by_email(account, "mio@notified.example")) == 1
        assert len(organizations_named(account, "Minato Logistics")) == 1


def links(served):
    db.session.expire_all()
    return {(link.kind, link.crm_id, link.zendesk_id) for link in db.session.scalars(
        db.select(Link).filter_by(installation_id=served.installation_id))}
