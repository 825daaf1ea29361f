"""Module and field metadata of the CRM sandbox: the standard modules' fields, and the shapes
`settings/modules` and `settings/fields` return (docs/outside-apis.md#crm-metadata-and-custom-modules; `zoho/crm-oas:
v8.0/fields.json`).

A field spec is `(api_name, label, data_type, options)`; options: mandatory, length, unique, lookup (module
API name), picklist (values), read_only, custom. Keys starting with `_` are the sandbox's own, never rendered.
"""
import re

JSON_TYPES = {
    "text": "string", "textarea": "string", "email": "string", "phone": "string", "website": "string",
    "picklist": "string", "autonumber": "string", "date": "string", "datetime": "string",
    "integer": "integer", "bigint": "string", "double": "double", "currency": "double", "boolean": "boolean",
    "lookup": "jsonobject", "ownerlookup": "jsonobject",
}
DEFAULT_LENGTHS = {"text": 255, "email": 100, "phone": 30, "website": 255, "picklist": 120, "textarea": 32000,
                   "integer": 9, "bigint": 18, "double": 16, "currency": 16, "lookup": 120, "ownerlookup": 120}
# Types the sandbox's `POST settings/fields` accepts.
CREATABLE_TYPES = ("text", "textarea", "email", "phone", "website", "picklist", "integer", "bigint", "double",
                   "currency", "boolean", "date", "datetime", "lookup")
# Upsert's system-defined duplicate-check fields (docs/outside-apis.md#crm-writing-records); custom modules use `Name`.
SYSTEM_DUPLICATE_FIELDS = {"Leads": "Email", "Contacts": "Email", "Accounts": "Account_Name", "Deals": "Deal_Name"}

LEAD_SOURCES = ["Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store",
                "Partner", "Public Relations", "Seminar Partner", "Trade Show", "Web Download", "Chat"]
LEAD_STATUSES = ["Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead",
                 "Not Contacted", "Pre-Qualified", "Not Qualified"]
INDUSTRIES = ["ASP (Application Service Provider)", "Data/Telecom OEM", "ERP (Enterprise Resource Planning)",
              "Government/Military", "Large Enterprise", "Management ISV", "Network Equipment Enterprise",
              "Non-management ISV", "Optical Networking", "Service Provider", "Small/Medium Enterprise",
              "Storage Equipment", "Storage Service Provider", "Systems Integrator", "Wireless Industry"]
DEAL_STAGES = ["Qualification", "Needs Analysis", "Value Proposition", "Identify Decision Makers",
               "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
               "Closed-Lost to Competition"]

# Every module's read-only audit fields (added after its own fields).
SYSTEM_FIELDS = [
    ("Created_By", "Created By", "ownerlookup", {"read_only": True}),
    ("Modified_By", "Modified By", "ownerlookup", {"read_only": True}),
    ("Created_Time", "Created Time", "datetime", {"read_only": True}),
    ("Modified_Time", "Modified Time", "datetime", {"read_only": True}),
]

STANDARD_MODULES = [
    # (api_name, singular, plural, sequence, field specs)
    ("Leads", "Lead", "Leads", 1, [
        ("Owner", "Lead Owner", "ownerlookup", {}),
        ("First_Name", "First Name", "text", {"length": 40}),
        ("Last_Name", "Last Name", "text", {"mandatory": True, "length": 80}),
        ("Full_Name", "Lead Name", "text", {"read_only": True}),
        ("Email", "Email", "email", {}),
        ("Phone", "Phone", "phone", {}),
        ("Mobile", "Mobile", "phone", {}),
        ("Company", "Company", "text", {"length": 200}),
        ("Designation", "Title", "text", {"length": 100}),
        ("Lead_Source", "Lead Source", "picklist", {"picklist": LEAD_SOURCES}),
        ("Lead_Status", "Lead Status", "picklist", {"picklist": LEAD_STATUSES}),
        ("Industry", "Industry", "picklist", {"picklist": INDUSTRIES}),
        ("City", "City", "text", {"length": 100}),
        ("Country", "Country", "text", {"length": 100}),
        ("Description", "Description", "textarea", {}),
    ]),
    ("Accounts", "Account", "Accounts", 3, [
        ("Owner", "Account Owner", "ownerlookup", {}),
        ("Account_Name", "Account Name", "text", {"mandatory": True, "length": 200}),
        ("Account_Number", "Account Number", "text", {"length": 40}),
        ("Phone", "Phone", "phone", {}),
        ("Website", "Website", "website", {}),
        ("Industry", "Industry", "picklist", {"picklist": INDUSTRIES}),
        ("Account_Type", "Account Type", "picklist",
         {"picklist": ["Analyst", "Competitor", "Customer", "Distributor", "Integrator", "Investor", "Partner",
                       "Press", "Prospect", "Reseller", "Other"]}),
        ("Employees", "Employees", "integer", {}),
        ("Billing_City", "Billing City", "text", {"length": 100}),
        ("Billing_Country", "Billing Country", "text", {"length": 100}),
        ("Description", "Description", "textarea", {}),
    ]),
    ("Contacts", "Contact", "Contacts", 2, [
        ("Owner", "Contact Owner", "ownerlookup", {}),
        ("First_Name", "First Name", "text", {"length": 40}),
        ("Last_Name", "Last Name", "text", {"mandatory": True, "length": 80}),
        ("Full_Name", "Contact Name", "text", {"read_only": True}),
        ("Email", "Email", "email", {}),
        ("Phone", "Phone", "phone", {}),
        ("Mobile", "Mobile", "phone", {}),
        ("Title", "Title", "text", {"length": 100}),
        ("Department", "Department", "text", {"length": 100}),
        ("Account_Name", "Account Name", "lookup", {"lookup": "Accounts"}),
        ("Lead_Source", "Lead Source", "picklist", {"picklist": LEAD_SOURCES}),
        ("Mailing_City", "Mailing City", "text", {"length": 100}),
        ("Mailing_Country", "Mailing Country", "text", {"length": 100}),
        ("Description", "Description", "textarea", {}),
    ]),
    ("Deals", "Deal", "Deals", 4, [
        ("Owner", "Deal Owner", "ownerlookup", {}),
        ("Deal_Name", "Deal Name", "text", {"mandatory": True, "length": 120}),
        ("Amount", "Amount", "currency", {}),
        ("Stage", "Stage", "picklist", {"mandatory": True, "picklist": DEAL_STAGES}),
        ("Closing_Date", "Closing Date", "date", {}),
        ("Probability", "Probability (%)", "integer", {}),
        ("Account_Name", "Account Name", "lookup", {"lookup": "Accounts"}),
        ("Contact_Name", "Contact Name", "lookup", {"lookup": "Contacts"}),
        ("Lead_Source", "Lead Source", "picklist", {"picklist": LEAD_SOURCES}),
        ("Description", "Description", "textarea", {}),
    ]),
]

# Which field names a record's lookup shows (`{"name": ..., "id": ...}`).
DISPLAY_FIELDS = {"Leads": "Full_Name", "Contacts": "Full_Name", "Accounts": "Account_Name", "Deals": "Deal_Name"}


def valid_api_name(name):
    """Letters, digits, underscore; starts with a letter; no `__`; doesn't end with `_`
    (docs/outside-apis.md#crm-metadata-and-custom-modules)."""
    return (isinstance(name, str) and 0 < len(name) <= 50 and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) is not None
            and "__" not in name and not name.endswith("_"))


def custom_module_fields(singular, name_label):
    """The fields every new custom module starts with (Owner, Name as its display field, Email)."""
    return [("Owner", f"{singular} Owner", "ownerlookup", {}),
            ("Name", name_label, "text", {"mandatory": True, "length": 120}),
            ("Email", "Email", "email", {"custom": False})]


def module_meta(org, api_name, singular, plural, generated_type, profiles=None):
    profiles = profiles or [{"name": p["name"], "id": p["id"]} for p in org.profiles.values()]
    return {
        "api_name": api_name, "module_name": api_name, "singular_label": singular, "plural_label": plural,
        "id": org.new_id(), "api_supported": True, "generated_type": generated_type,
        "creatable": True, "editable": True, "deletable": True, "viewable": True, "visible": True,
        "convertable": api_name == "Leads", "global_search_supported": True, "quick_create": True,
        "presence_sub_menu": True, "show_as_tab": True, "status": "visible", "visibility": 1,
        "profiles": profiles, "display_field": {"api_name": DISPLAY_FIELDS.get(api_name, "Name"), "id": None},
        "sequence_number": len(org.modules) + 1, "parent_module": {}, "web_link": None,
        "modified_time": None, "modified_by": None,
    }


def field(org, spec):
    api_name, label, data_type, options = spec
    unique = bool(options.get("unique"))
    meta = {
        "api_name": api_name, "field_label": label, "display_label": label, "data_type": data_type,
        "json_type": JSON_TYPES[data_type], "length": options.get("length") or DEFAULT_LENGTHS.get(data_type, 255),
        "system_mandatory": bool(options.get("mandatory")), "custom_field": bool(options.get("custom")),
        "read_only": bool(options.get("read_only")), "field_read_only": bool(options.get("read_only")),
        "visible": True, "id": org.new_id(),
        # NB: the SDK models `unique` as an object with a string `casesensitive` (fields.Unique).
        "unique": {"casesensitive": "false"} if unique else {},
        "pick_list_values": [{"display_value": v, "actual_value": v, "sequence_number": i + 1, "id": org.new_id()}
                             for i, v in enumerate(options.get("picklist") or [])],
        "lookup": {}, "_unique": unique,
    }
    if data_type == "lookup":
        target = org.modules[options["lookup"]]
        meta["lookup"] = {"module": {"api_name": target.api_name, "id": target.meta["id"]},
                          "display_label": label, "api_name": api_name, "id": org.new_id()}
    return meta


def public(meta):
    """A metadata dict without the sandbox's private `_` keys."""
    return {k: v for k, v in meta.items() if not k.startswith("_")}


def compute(module, record):
    """Formula-like read-only fields (Full_Name)."""
    if "Full_Name" in module.fields:
        record["Full_Name"] = " ".join(p for p in (record.get("First_Name"), record.get("Last_Name")) if p)


def display_value(module, record):
    return record.get(DISPLAY_FIELDS.get(module.api_name, "Name"))
