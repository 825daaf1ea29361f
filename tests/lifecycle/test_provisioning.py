"""F7: the custom modules and the CRM notification channel, created in the CRM sandbox over real HTTP."""
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.clients.test_crm import quick_policy
from tests.helpers import install
from tests.lifecycle.conftest import connect_tenant, crm_api_session
from widget.connections import connection, crm_client
from widget.extensions import db
from widget.lifecycle.install import CHANNEL_LIFETIME, ProvisioningError, crm_notify_url, on_crm_connected
from widget.models import Installation

TICKET_FIELDS = {
    "Name": "text", "Ticket_ID": "text", "Status": "picklist", "Priority": "picklist", "Type": "picklist",
    "Tags": "textarea", "Requester_Name": "text", "Requester_Email": "email", "Assignee": "text",
    "Organization": "text", "Zendesk_Link": "website", "Zendesk_Created_Time": "datetime",
    "Zendesk_Updated_Time": "datetime", "Contact": "lookup", "Lead": "lookup", "Account": "lookup", "Deal": "lookup",
}
TICKET_LOOKUPS = {"Contact": "Contacts", "Lead": "Leads", "Account": "Accounts", "Deal": "Deals"}
COMMENT_FIELDS = {"Name": "text", "Comment_ID": "text", "Zendesk_Ticket": "lookup", "Author": "text",
                  "Body": "textarea", "Public": "boolean", "Zendesk_Created_Time": "datetime"}


def installation_of(org_id):
    return db.session.scalar(db.select(Installation).filter_by(org_id=org_id))


def get(session, path, **params):
    answer = session.get(f"{session.base}/{path}", params=params, timeout=5)
    assert answer.status_code in (200, 204), answer.text
    return answer.json() if answer.status_code == 200 else {}


def fields_of(session, module):
    return {f["api_name"]: f for f in get(session, "settings/fields", module=module)["fields"]}


def custom_modules(session):
    return [m for m in get(session, "settings/modules")["modules"] if m["generated_type"] == "custom"]


@pytest.fixture
def tenant(wired, crm, zendesk_server):
    return connect_tenant(wired, crm, zendesk_server, "org-jp", "jp", "acme", webhook=False)


def test_modules_are_created_with_every_field_and_lookup(wired, crm, tenant):
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
        assert installation_of("org-jp").crm_modules == {"tickets": "Zendesk_Tickets",
                                                         "comments": "Zendesk_Ticket_Comments"}
    look = crm_api_session(crm, "jp")
    modules = {m["api_name"]: m for m in custom_modules(look)}
    assert modules["Zendesk_Tickets"]["plural_label"] == "Zendesk Tickets"
    assert modules["Zendesk_Ticket_Comments"]["plural_label"] == "Zendesk Ticket Comments"

    tickets = fields_of(look, "Zendesk_Tickets")
    assert {name: tickets[name]["data_type"] for name in TICKET_FIELDS} == TICKET_FIELDS
    assert tickets["Name"]["field_label"] == "Subject"  # the subject is the record's name
    assert tickets["Ticket_ID"]["unique"] and not tickets["Requester_Name"]["unique"]
    assert {name: tickets[name]["lookup"]["module"]["api_name"] for name in TICKET_LOOKUPS} == TICKET_LOOKUPS
    assert [v["actual_value"] for v in tickets["Status"]["pick_list_values"]] == \
        ["New", "Open", "Pending", "Hold", "Solved", "Closed"]

    comments = fields_of(look, "Zendesk_Ticket_Comments")
    assert {name: comments[name]["data_type"] for name in COMMENT_FIELDS} == COMMENT_FIELDS
    assert comments["Comment_ID"]["unique"]
    assert comments["Zendesk_Ticket"]["lookup"]["module"]["api_name"] == "Zendesk_Tickets"


def test_related_lists_appear_on_leads_contacts_accounts_and_deals(wired, crm, tenant):
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
    look = crm_api_session(crm, "jp")
    for module in ("Leads", "Contacts", "Accounts", "Deals"):
        lists = get(look, "settings/related_lists", module=module).get("related_lists", [])
        ours = [r for r in lists if r["module"]["api_name"] == "Zendesk_Tickets"]
        assert [r["display_label"] for r in ours] == ["Zendesk Tickets"], module
    on_tickets = get(look, "settings/related_lists", module="Zendesk_Tickets")["related_lists"]
    assert [r["module"]["api_name"] for r in on_tickets] == ["Zendesk_Ticket_Comments"]


def test_ticket_id_is_the_upsert_duplicate_check(wired, crm, tenant):
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
    look = crm_api_session(crm, "jp")
    for subject in ("Printer on fire", "Printer still on fire"):
        answer = look.post(f"{look.base}/Zendesk_Tickets/upsert", timeout=5, json={
            "data": [{"Name": subject, "Ticket_ID": "101", "Status": "Open"}], "duplicate_check_fields": ["Ticket_ID"]})
        assert answer.status_code in (200, 201), answer.text
    records = get(look, "Zendesk_Tickets", fields="Name,Ticket_ID")["data"]
    assert [(r["Name"], r["Ticket_ID"]) for r in records] == [("Printer still on fire", "101")]


def test_notification_channel_is_enabled_for_contacts_leads_and_accounts(wired, crm, tenant):
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
        installation = installation_of("org-jp")
        channel_id, token = installation.crm_channel_id, installation.crm_channel_token
        expires_at, key = installation.crm_channel_expires_at, installation.installation_key
    channels = get(crm_api_session(crm, "jp"), "actions/watch")["watch"]
    assert len(channels) == 1
    channel = channels[0]
    assert channel["channel_id"] == channel_id and channel["token"] == token and 20 <= len(token) <= 50
    assert sorted(channel["events"]) == sorted(f"{m}.{op}" for m in ("Contacts", "Leads", "Accounts")
                                               for op in ("create", "edit", "delete"))
    assert channel["notify_url"] == f"http://127.0.0.1:9/webhooks/crm/{key}"
    expiry = datetime.fromisoformat(channel["channel_expiry"])
    now = datetime.now(timezone.utc)
    # Close to a week: not the one-hour fallback the CRM applies to a longer or missing expiry.
    assert timedelta(days=6) < expiry - now <= timedelta(days=7)
    assert abs(expires_at.replace(tzinfo=timezone.utc) - expiry) < timedelta(seconds=2)


def test_second_call_changes_nothing(wired, crm, tenant):
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
        first = (installation_of("org-jp").crm_channel_id, installation_of("org-jp").crm_channel_token)
    look = crm_api_session(crm, "jp")
    before = {m["api_name"]: len(fields_of(look, m["api_name"])) for m in custom_modules(look)}
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
        assert (installation_of("org-jp").crm_channel_id, installation_of("org-jp").crm_channel_token) == first
    after = {m["api_name"]: len(fields_of(look, m["api_name"])) for m in custom_modules(look)}
    assert after == before and len(after) == 2
    assert len(get(look, "actions/watch")["watch"]) == 1


def test_a_half_made_module_is_finished(wired, crm, tenant):
    """A module left without its fields (an earlier run stopped midway) gets the missing ones."""
    look = crm_api_session(crm, "jp")
    profile = get(look, "users", type="CurrentUser")["users"][0]["profile"]["id"]
    created = look.post(f"{look.base}/settings/modules", timeout=5, json={"modules": [{
        "singular_label": "Zendesk Ticket", "plural_label": "Zendesk Tickets", "api_name": "Zendesk_Tickets",
        "profiles": [{"id": profile}], "fields": [{"field_label": "Ticket ID", "api_name": "Ticket_ID",
                                                   "data_type": "text", "unique": True}]}]})
    assert created.status_code == 201, created.text
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
    assert set(TICKET_FIELDS) <= set(fields_of(look, "Zendesk_Tickets"))
    assert sorted(m["api_name"] for m in custom_modules(look)) == ["Zendesk_Ticket_Comments", "Zendesk_Tickets"]


def test_crm_failure_is_a_clear_error_and_a_retry_finishes(wired, crm, tenant):
    control = f"{crm.url}/_sandbox/faults"
    assert requests.post(control, json={"error_rate": 1.0}, timeout=5).status_code == 200
    with wired.app_context():
        installation = installation_of("org-jp")
        with pytest.raises(ProvisioningError) as failed:
            on_crm_connected(installation, client=crm_client(installation, policy=quick_policy(attempts=2)))
        assert "could not be reached or is busy" in failed.value.message
    assert requests.post(control, json={"error_rate": 0.0}, timeout=5).status_code == 200
    with wired.app_context():
        on_crm_connected(installation_of("org-jp"))
        assert installation_of("org-jp").crm_channel_expires_at is not None
    assert len(custom_modules(crm_api_session(crm, "jp"))) == 2


def test_revoked_crm_grant_is_reported_and_recorded(wired, crm, tenant):
    centre = crm.creds["data_centres"]["jp"]
    requests.post(f"{centre['accounts_url']}/oauth/v2/token/revoke",
                  params={"token": tenant.crm_token["refresh_token"]}, timeout=5)
    with wired.app_context():
        installation = installation_of("org-jp")
        grant = connection(installation, "crm")
        grant.token = {**grant.token, "expires_at": 0}  # force a refresh, which the CRM now refuses
        db.session.commit()
        with pytest.raises(ProvisioningError) as failed:
            on_crm_connected(installation)
        assert "Authorize Zoho CRM again" in failed.value.message
        assert connection(installation, "crm").status == "revoked"
        with pytest.raises(ProvisioningError) as again:
            on_crm_connected(installation)
        assert "not authorized" in again.value.message


def test_reinstall_with_a_stored_grant_provisions(wired, crm, tenant):
    assert custom_modules(crm_api_session(crm, "jp")) == []
    install(wired.test_client(), org_id="org-jp", data_center="jp")  # the marketplace installs again
    assert len(custom_modules(crm_api_session(crm, "jp"))) == 2


def test_notify_url_comes_from_the_request_when_not_configured(wired):
    wired.config["EXTENSION_URL"] = ""
    with wired.test_request_context("/settings", base_url="https://widget.example.com"):
        installation = Installation(org_id="x", data_center="jp", installation_key="k3y")
        assert crm_notify_url(installation) == "https://widget.example.com/webhooks/crm/k3y"
    with wired.app_context():
        with pytest.raises(ProvisioningError):
            crm_notify_url(installation)
    assert CHANNEL_LIFETIME <= timedelta(weeks=1)
