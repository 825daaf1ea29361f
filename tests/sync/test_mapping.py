"""The field mapping's pure functions: identity, CRM ⇄ Zendesk values, value maps, directions, the
canonical hash and the later-change rule."""
from widget.sync import mapping
from widget.sync.mapping import STANDARD, Field
from widget.sync.store import digest

CONTACT = {"id": "9001", "First_Name": " Ann ", "Last_Name": "Lee", "Email": "Ann.Lee@Example.COM",
           "Phone": "+81 3 1234", "Account_Name": {"id": "77", "name": "Acme"}, "Lead_Source": "Web Download",
           "Modified_Time": "2026-01-01T18:00:00+09:00"}


def test_external_ids_round_trip_and_foreign_ones_are_not_ours():
    assert mapping.external_id("Contacts", "9001") == "zcrm:Contacts:9001"
    assert mapping.parse_external_id("zcrm:Contacts:9001") == ("Contacts", "9001")
    assert mapping.parse_external_id("ZCRM:accounts:5") == ("Accounts", "5")  # Zendesk ignores case
    for foreign in (None, "", "sso-123", "zcrm:Contacts:abc", "zcrm:Potentials:1", "zcrm:Contacts"):
        assert mapping.parse_external_id(foreign) is None


def test_standard_contact_fields_to_zendesk():
    payload = mapping.to_zendesk("Contacts", CONTACT, STANDARD["Contacts"], org_ids={"77": 555})
    assert payload == {"email": "Ann.Lee@Example.COM", "name": "Ann Lee", "phone": "+81 3 1234",
                       "organization_id": 555}
    # An account that is not in Zendesk maps to no organization.
    assert mapping.to_zendesk("Contacts", CONTACT, STANDARD["Contacts"])["organization_id"] is None


def test_standard_account_fields_and_website_host():
    account = {"id": "77", "Account_Name": "Acme", "Website": "https://www.Acme.example:8443/about",
               "Description": "Big"}
    assert mapping.to_zendesk("Accounts", account, STANDARD["Accounts"]) == {
        "name": "Acme", "domain_names": ["www.acme.example"], "details": "Big"}
    assert mapping.website_host("acme.example") == "acme.example"
    assert mapping.website_host("  ") is None


def test_value_map_and_directions():
    rows = [Field("Lead_Source", "user_fields.source", "to_zendesk", {"Web Download": "web"}),
            Field("Phone", "phone", "both"),
            Field("Description", "notes", "to_crm"),
            Field("Title", "user_fields.title", "both", {"CEO": "chief"})]
    record = {"Lead_Source": "Web Download", "Phone": "1", "Description": "crm notes", "Title": "CEO"}
    # to_zendesk and both go to Zendesk (custom fields nested); to_crm does not.
    assert mapping.to_zendesk("Contacts", record, rows) == {
        "user_fields": {"source": "web", "title": "chief"}, "phone": "1"}
    user = {"user_fields": {"source": "web", "title": "chief"}, "phone": "2", "notes": "zd notes"}
    # both and to_crm come back, the value map read backwards; to_zendesk does not.
    assert mapping.to_crm(user, rows) == {"Phone": "2", "Description": "zd notes", "Title": "CEO"}
    # A value without an entry in the map passes as it is.
    assert mapping.to_zendesk("Contacts", {"Lead_Source": "Trade Show"}, rows[:1]) == {
        "user_fields": {"source": "Trade Show"}}


def test_a_name_mapped_to_the_crm_fills_first_and_last_name():
    rows = [Field("Full_Name", "name", "both")]
    assert mapping.to_crm({"name": "Mary Ann Smith"}, rows) == {"First_Name": "Mary Ann", "Last_Name": "Smith"}
    assert mapping.to_crm({"name": "Cher"}, rows) == {"First_Name": None, "Last_Name": "Cher"}


def test_both_sides_hash_alike_when_they_hold_the_same_values():
    rows = STANDARD["Contacts"]
    written = mapping.to_zendesk("Contacts", CONTACT, rows, {"77": 555})
    # Zendesk stores emails in lower case and trims; the views normalise the same way.
    stored = {**written, "email": "ann.lee@example.com", "name": "Ann Lee ", "id": 1, "updated_at": "x"}
    assert digest(mapping.view_of_crm("Contacts", CONTACT, rows, {"77": 555})) == \
        digest(mapping.view_of_zendesk(stored, rows))
    stored["phone"] = "+81 3 9999"
    assert digest(mapping.view_of_crm("Contacts", CONTACT, rows, {"77": 555})) != \
        digest(mapping.view_of_zendesk(stored, rows))


def test_the_later_change_wins():
    assert mapping.later_side("2026-01-01T18:00:00+09:00", "2026-01-01T09:00:01Z") == "zendesk"
    assert mapping.later_side("2026-01-01T18:00:02+09:00", "2026-01-01T09:00:01Z") == "crm"
    assert mapping.later_side("2026-01-01T18:00:00+09:00", "2026-01-01T09:00:00Z") == "crm"  # a tie
    assert mapping.later_side(None, "2026-01-01T09:00:00Z") == "crm"
    rows = [Field("Phone", "phone", "both"), Field("Full_Name", "name", "to_zendesk")]
    payload = {"phone": "crm phone", "name": "CRM Name"}
    # Zendesk changed the two-way phone later: it keeps its value; one-way fields are still written.
    assert mapping.keep_later_zendesk_values(payload, {"phone": "zd phone", "name": "Old"}, rows) == {"name": "CRM Name"}
    assert mapping.keep_later_zendesk_values(payload, {"phone": "crm phone"}, rows) == payload
    assert mapping.without_two_way({"Phone": "1", "Title": "x"}, rows) == {"Title": "x"}


def test_crm_changes_only_what_differs():
    record = {"Phone": "1", "Account_Name": {"id": "77", "name": "Acme"}, "Title": None}
    assert mapping.crm_changes(record, {"Phone": "1", "Account_Name": {"id": "77"}, "Title": ""}) == {}
    assert mapping.crm_changes(record, {"Phone": "2", "Account_Name": {"id": "78"}}) == {
        "Phone": "2", "Account_Name": {"id": "78"}}


def test_crm_fields_read_what_the_mapping_and_matching_need():
    fields = mapping.crm_fields("Contacts", STANDARD["Contacts"] + (Field("Lead_Source", "user_fields.s"),))
    assert {"Modified_Time", "Email", "First_Name", "Last_Name", "Phone", "Account_Name", "Lead_Source"} == set(fields)
    assert "Full_Name" not in fields
    many = [Field(f"F{n}", f"user_fields.f{n}") for n in range(80)]
    assert len(mapping.crm_fields("Leads", many)) == 50  # the API's maximum (docs/outside-apis.md#crm-reading-records)
