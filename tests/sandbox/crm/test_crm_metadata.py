"""The CRM sandbox's metadata API: modules, fields, related lists, users, org, and the custom modules the
extension creates on install ("Zendesk Tickets" with a unique Ticket ID and lookups) and deletes on uninstall."""
from tests.sandbox.crm.crm_helpers import assert_error, token_for

TICKET_FIELDS = [
    {"field_label": "Ticket ID", "data_type": "bigint", "unique": {"casesensitive": "false"}},
    {"field_label": "Status", "data_type": "picklist",
     "pick_list_values": [{"display_value": v, "actual_value": v} for v in ("new", "open", "pending", "solved")]},
    {"field_label": "Contact", "data_type": "lookup", "lookup": {"module": {"api_name": "Contacts"}}},
    {"field_label": "Lead", "data_type": "lookup", "lookup": {"module": {"api_name": "Leads"}}},
    {"field_label": "Account", "data_type": "lookup", "lookup": {"module": {"api_name": "Accounts"}}},
    {"field_label": "Deal", "data_type": "lookup", "lookup": {"module": {"api_name": "Deals"}}},
]


def admin_profile(api):
    users = api.get(f"{api.base}/users", params={"type": "CurrentUser"}, timeout=10).json()["users"]
    return users[0]["profile"]


def create_tickets_module(api):
    return api.post(f"{api.base}/settings/modules", json={"modules": [{
        "singular_label": "Zendesk Ticket", "plural_label": "Zendesk Tickets",
        "profiles": [{"id": admin_profile(api)["id"]}], "display_field": {"field_label": "Subject"},
        "fields": TICKET_FIELDS}]}, timeout=10)


def test_custom_module_created_used_and_deleted(crm):
    api = crm.api()
    created = create_tickets_module(api)
    assert created.status_code == 201, created.text
    item = created.json()["modules"][0]
    assert item["code"] == "SUCCESS" and item["details"]["api_name"] == "Zendesk_Tickets"

    modules = api.get(f"{api.base}/settings/modules", timeout=10).json()["modules"]
    tickets = next(m for m in modules if m["api_name"] == "Zendesk_Tickets")
    assert tickets["generated_type"] == "custom" and tickets["plural_label"] == "Zendesk Tickets"
    fields = {f["api_name"]: f for f in api.get(f"{api.base}/settings/fields", params={"module": "Zendesk_Tickets"},
                                                timeout=10).json()["fields"]}
    assert fields["Ticket_ID"]["unique"] == {"casesensitive": "false"}
    assert fields["Name"]["field_label"] == "Subject" and fields["Name"]["system_mandatory"] is True
    assert fields["Contact"]["lookup"]["module"]["api_name"] == "Contacts"
    assert fields["Deal"]["data_type"] == "lookup"

    # Related lists appear on the looked-up modules.
    related = api.get(f"{api.base}/settings/related_lists", params={"module": "Contacts"}, timeout=10).json()
    assert any(r["api_name"] == "Zendesk_Tickets" and r["field"]["api_name"] == "Contact" for r in related["related_lists"])

    contact = api.get(f"{api.base}/Contacts", params={"fields": "Last_Name", "per_page": 1}, timeout=10).json()["data"][0]
    ticket = {"Name": "Printer on fire", "Ticket_ID": "1001", "Status": "open", "Contact": {"id": contact["id"]}}
    body = {"data": [ticket], "duplicate_check_fields": ["Ticket_ID"]}
    first = api.post(f"{api.base}/Zendesk_Tickets/upsert", json=body, timeout=10).json()["data"][0]
    ticket["Status"] = "solved"
    second = api.post(f"{api.base}/Zendesk_Tickets/upsert", json=body, timeout=10).json()["data"][0]
    assert (first["action"], second["action"], second["duplicate_field"]) == ("insert", "update", "Ticket_ID")
    # The unique field refuses a second record with the same Ticket ID even on plain insert.
    dup = api.post(f"{api.base}/Zendesk_Tickets", json={"data": [{"Name": "Again", "Ticket_ID": "1001"}]}, timeout=10)
    assert dup.status_code == 400 and dup.json()["data"][0]["code"] == "DUPLICATE_DATA"
    listed = api.get(f"{api.base}/Contacts/{contact['id']}/Zendesk_Tickets", params={"fields": "Name,Status,Ticket_ID"},
                     timeout=10).json()["data"]
    assert listed == [{"Name": "Printer on fire", "Status": "solved", "Ticket_ID": "1001", "id": first["details"]["id"]}]

    # Creating it twice is refused; deleting it removes module, records and related list.
    assert_error(create_tickets_module(api), 400, "DUPLICATE_DATA")
    deleted = api.delete(f"{api.base}/settings/modules/Zendesk_Tickets", timeout=10)
    assert deleted.status_code == 200 and deleted.json()["modules"][0]["message"] == "module deleted"
    assert_error(api.get(f"{api.base}/Zendesk_Tickets", params={"fields": "Name"}, timeout=10), 400, "INVALID_MODULE")
    related = api.get(f"{api.base}/settings/related_lists", params={"module": "Contacts"}, timeout=10).json()
    assert not any(r["api_name"] == "Zendesk_Tickets" for r in related["related_lists"])
    assert_error(api.delete(f"{api.base}/settings/modules/Contacts", timeout=10), 400, "NOT_ALLOWED")


def test_custom_module_rules(crm):
    api = crm.api()
    base = {"singular_label": "Zendesk Ticket Comment", "plural_label": "Zendesk Ticket Comments"}
    assert_error(api.post(f"{api.base}/settings/modules", json={"modules": [base]}, timeout=10),
                 400, "MANDATORY_NOT_FOUND", api_name="profiles")
    profile = {"id": admin_profile(api)["id"]}
    too_long = {**base, "singular_label": "Zendesk Ticket Comments And More", "profiles": [profile]}
    assert_error(api.post(f"{api.base}/settings/modules", json={"modules": [too_long]}, timeout=10),
                 400, "INVALID_DATA", api_name="singular_label")
    bad_name = {**base, "api_name": "zendesk__Comments", "profiles": [profile]}
    assert_error(api.post(f"{api.base}/settings/modules", json={"modules": [bad_name]}, timeout=10),
                 400, "INVALID_DATA", api_name="api_name")
    ok = api.post(f"{api.base}/settings/modules", json={"modules": [{**base, "profiles": [profile]}]}, timeout=10)
    assert ok.status_code == 201
    field = api.post(f"{api.base}/settings/fields", params={"module": "Zendesk_Ticket_Comments"},
                     json={"fields": [{"field_label": "Comment ID", "data_type": "bigint", "unique": True}]}, timeout=10)
    assert field.status_code == 201 and field.json()["fields"][0]["details"]["api_name"] == "Comment_ID"
    rep = crm.api("us", token_for(crm, "rep@us.zylker.example", "us-rep-pass", "ZohoCRM.settings.ALL"))
    assert_error(rep.post(f"{api.base}/settings/modules", json={"modules": [{**base, "profiles": [profile]}]},
                          timeout=10), 403, "NO_PERMISSION")


def test_fields_modules_users_org(crm):
    api = crm.api("jp")
    names = [m["api_name"] for m in api.get(f"{api.base}/settings/modules", timeout=10).json()["modules"]]
    assert names[:4] == ["Leads", "Contacts", "Accounts", "Deals"]
    fields = api.get(f"{api.base}/settings/fields", params={"module": "Deals"}, timeout=10).json()["fields"]
    stage = next(f for f in fields if f["api_name"] == "Stage")
    assert stage["data_type"] == "picklist" and stage["system_mandatory"] and stage["pick_list_values"]
    assert not any(k.startswith("_") for f in fields for k in f)
    assert_error(api.get(f"{api.base}/settings/fields", timeout=10), 400, "REQUIRED_PARAM_MISSING", param_name="module")
    assert_error(api.get(f"{api.base}/settings/fields", params={"module": "Nope"}, timeout=10), 400, "INVALID_MODULE")

    users = api.get(f"{api.base}/users", params={"type": "AllUsers"}, timeout=10).json()
    profiles = {u["email"]: (u["profile"]["name"], u["role"]["name"]) for u in users["users"]}
    assert profiles == {"admin@jp.zylker.example": ("Administrator", "CEO"),
                        "manager@jp.zylker.example": ("Standard", "Manager"),
                        "rep@jp.zylker.example": ("Sales Rep", "Sales Representative"),
                        "viewer@jp.zylker.example": ("Read Only", "Sales Representative")}
    me = api.get(f"{api.base}/users", params={"type": "CurrentUser"}, timeout=10).json()["users"]
    assert [u["email"] for u in me] == ["admin@jp.zylker.example"]
    org = api.get(f"{api.base}/org", timeout=10).json()["org"][0]
    assert org["data_center"] == "jp" and org["edition"] == "enterprise"
    assert org["license_details"]["paid_type"] == "enterprise" and org["zgid"]
