"""The field mapping (F11, docs/architecture.md#what-maps-to-what): CRM records ⇄ Zendesk users and organizations. Pure
functions, no I/O.

A mapping is a list of rows with `crm_field`, `zendesk_field`, `direction` (both | to_zendesk | to_crm) and
`value_map` (CRM picklist value → Zendesk value; read backwards towards the CRM) — FieldMapping rows, or
`Field`s. Special fields:
- CRM `Full_Name` is First_Name + Last_Name (Full_Name itself is read-only in the CRM; written back as the two);
- Zendesk `organization_id` ⇄ a CRM Account lookup: through the Links (`org_ids`: CRM account id → Zendesk
  organization id, `account_ids` the reverse), never by name;
- Zendesk `domain_names` ⇄ a website: the host only;
- Zendesk `user_fields.<key>` / `organization_fields.<key>`: a custom field of the user or organization.

Identity: user.external_id = "zcrm:Contacts:<id>" / "zcrm:Leads:<id>",
organization.external_id = "zcrm:Accounts:<id>".

Echo detection: `view_of_crm` and `view_of_zendesk` express a pair's mapped values the same way (Zendesk
terms, normalised), whichever side they are read from, so the digest of either (store.digest) equals
`Link.last_hash` when that side holds exactly what we last wrote to it or read from it. Conflicts: for
`both` fields the later change wins (`later_side`: the CRM's Modified_Time against Zendesk's updated_at).
"""
import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

DIRECTIONS = ("both", "to_zendesk", "to_crm")
TO_ZENDESK = ("both", "to_zendesk")
TO_CRM = ("both", "to_crm")
PEOPLE = ("Contacts", "Leads")
MODULES = ("Accounts",) + PEOPLE
EXTERNAL_PREFIX = "zcrm"
FULL_NAME = "Full_Name"
ORGANIZATION = "organization_id"
DOMAINS = "domain_names"
CUSTOM_PREFIXES = ("user_fields.", "organization_fields.")


@dataclass(frozen=True)
class Field:
    crm_field: str
    zendesk_field: str
    direction: str = "both"
    value_map: dict = field(default_factory=dict)


# The standard fields, mapped for every installation. Mobile is left unmapped:
# Zendesk users have one phone. Email is the match key and write-once in Zendesk, so it only goes there.
STANDARD = {
    "Contacts": (Field("Email", "email", "to_zendesk"), Field(FULL_NAME, "name", "to_zendesk"),
                 Field("Phone", "phone", "both"), Field("Account_Name", ORGANIZATION, "to_zendesk")),
    "Leads": (Field("Email", "email", "to_zendesk"), Field(FULL_NAME, "name", "to_zendesk"),
              Field("Phone", "phone", "both")),
    "Accounts": (Field("Account_Name", "name", "both"), Field("Website", DOMAINS, "to_zendesk"),
                 Field("Description", "details", "both")),
}


# ---- identity ------------------------------------------------------------------------------------
def external_id(module, crm_id):
    """The Zendesk external_id of a CRM record: "zcrm:Contacts:<id>"."""
    return f"{EXTERNAL_PREFIX}:{module}:{crm_id}"


def parse_external_id(value):
    """(module, CRM id) from one of our external_ids, else None (someone else's, or none)."""
    parts = str(value or "").split(":")
    if len(parts) == 3 and parts[0].lower() == EXTERNAL_PREFIX and parts[2].isdigit():
        module = next((m for m in MODULES + ("Deals",) if m.lower() == parts[1].lower()), None)
        # NB: Zendesk matches external_ids case-insensitively (docs/outside-apis.md#zendesk-objects,
        # docs/outside-apis.md#zendesk-writes-and-search)
        if module:
            return module, parts[2]
    return None


# ---- which CRM fields to read --------------------------------------------------------------------
def crm_fields(module, mappings=()):
    """The CRM fields to ask for (`fields` is mandatory on list calls, at most 50;
    docs/outside-apis.md#crm-reading-records): the mapped ones, plus what matching, scope and the conflict rule need."""
    names = ["Modified_Time"]
    if module in PEOPLE:
        names += ["Email", "First_Name", "Last_Name"]
    if module == "Contacts":
        names.append("Account_Name")  # the person's organization, and selective scope
    if module == "Accounts":
        names.append("Account_Name")  # selective sync meets a chosen organization by name
    for row in mappings or STANDARD.get(module, ()):
        if row.crm_field == FULL_NAME:
            names += ["First_Name", "Last_Name"]
        else:
            names.append(row.crm_field)
    return list(dict.fromkeys(names))[:50]


# ---- CRM → Zendesk -------------------------------------------------------------------------------
def crm_value(record, crm_field):
    """A CRM field's value as the mapping reads it (Full_Name composed from its parts)."""
    if crm_field == FULL_NAME:
        parts = [record.get("First_Name"), record.get("Last_Name")]
        composed = " ".join(str(p).strip() for p in parts if p and str(p).strip())
        return composed or record.get(FULL_NAME)
    return record.get(crm_field)


def zendesk_value_from_crm(row, value, org_ids):
    """A CRM value in Zendesk's terms, for the field `row` maps."""
    if row.zendesk_field == ORGANIZATION:
        account_id = value.get("id") if isinstance(value, dict) else value
        return org_ids.get(str(account_id)) if account_id else None
    if isinstance(value, dict):  # another lookup: its display name
        value = value.get("name")
    if row.zendesk_field == DOMAINS:
        host = website_host(value)
        return [host] if host else []
    return _mapped(value, row.value_map or {})


def to_zendesk(module, record, mappings, org_ids=None):
    """The Zendesk fields the CRM record sets (directions both and to_zendesk); custom fields nested
    under `user_fields` / `organization_fields` as the API takes them."""
    payload = {}
    for row in mappings:
        if row.direction in TO_ZENDESK:
            _put(payload, row.zendesk_field, zendesk_value_from_crm(row, crm_value(record, row.crm_field), org_ids or {}))
    return payload


def view_of_crm(module, record, mappings, org_ids=None):
    """Every mapped field of the pair as the CRM record has it, in Zendesk terms, normalised."""
    return {row.zendesk_field: normalise(zendesk_value_from_crm(row, crm_value(record, row.crm_field), org_ids or {}),
                                         row.zendesk_field)
            for row in mappings}


def view_of_zendesk(obj, mappings):
    """Every mapped field of the pair as the Zendesk user or organization has it, normalised."""
    return {row.zendesk_field: normalise(_get(obj, row.zendesk_field), row.zendesk_field) for row in mappings}


# ---- Zendesk → CRM -------------------------------------------------------------------------------
def crm_value_from_zendesk(row, value, account_ids):
    """A Zendesk value in the CRM's terms (the value map read backwards)."""
    if row.zendesk_field == ORGANIZATION:
        crm_id = account_ids.get(value) if value is not None else None
        return {"id": crm_id} if crm_id else None
    if row.zendesk_field == DOMAINS:
        return (value or [None])[0]
    reverse = {v: k for k, v in (row.value_map or {}).items()}
    return _mapped(value, reverse)


def to_crm(obj, mappings, account_ids=None):
    """The CRM fields the Zendesk object sets (directions both and to_crm). A mapped name fills
    First_Name and Last_Name (the last word is the last name)."""
    changes = {}
    for row in mappings:
        if row.direction not in TO_CRM:
            continue
        value = crm_value_from_zendesk(row, _get(obj, row.zendesk_field), account_ids or {})
        if row.crm_field == FULL_NAME:
            first, _, last = (value or "").strip().rpartition(" ")
            changes["First_Name"], changes["Last_Name"] = first or None, last or None
        else:
            changes[row.crm_field] = value
    return changes


def crm_changes(record, wanted):
    """The part of `wanted` ({CRM field: value}) that differs from the record (nothing to write if empty)."""
    return {name: value for name, value in wanted.items()
            if normalise(_comparable(value), name) != normalise(_comparable(record.get(name)), name)}


# ---- conflicts: the later change wins --------------------------------------------------------------
def later_side(crm_modified_time, zendesk_updated_at):
    """"crm" or "zendesk": whose change is later. A tie, or a time missing, goes to the CRM (the system
    of record for people and accounts)."""
    crm, zendesk = parse_time(crm_modified_time), parse_time(zendesk_updated_at)
    if crm and zendesk and zendesk > crm:
        return "zendesk"
    return "crm"


def keep_later_zendesk_values(payload, obj, mappings):
    """The payload without the two-way fields whose Zendesk value differs from it: Zendesk changed them
    later, so they stay (and reach the CRM through the users stream)."""
    kept = json.loads(json.dumps(payload))
    for row in mappings:
        if row.direction == "both" and normalise(_get(obj, row.zendesk_field), row.zendesk_field) != \
                normalise(_get(kept, row.zendesk_field), row.zendesk_field):
            _drop(kept, row.zendesk_field)
    return kept


def without_two_way(changes, mappings):
    """CRM changes without the two-way fields (the CRM changed them later: they stay)."""
    two_way = set()
    for row in mappings:
        if row.direction == "both":
            two_way |= {"First_Name", "Last_Name"} if row.crm_field == FULL_NAME else {row.crm_field}
    return {name: value for name, value in changes.items() if name not in two_way}


# ---- one spelling per value ------------------------------------------------------------------------
def normalise(value, name=""):
    """One spelling per value: trimmed text, "" as None, emails in lower case, lists sorted."""
    if isinstance(value, str):
        value = value.strip()
        if name.lower() in ("email", "emails"):
            value = value.lower()
        return value or None
    if isinstance(value, (list, tuple)):
        items = sorted(str(normalise(v)) for v in value if normalise(v) is not None)
        return items or None
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items())}
    return value


# ---- helpers ---------------------------------------------------------------------------------------
def website_host(value):
    """"https://www.acme.example/about" → "www.acme.example" (Zendesk domain_names hold hosts only)."""
    text = str(value or "").strip()
    if not text:
        return None
    host = urlsplit(text if "//" in text else f"//{text}").hostname
    return host.lower() if host else None


def parse_time(value):
    """An aware datetime from the CRM's `2024-05-01T18:30:00+09:00` or Zendesk's `2024-05-01T09:30:00Z`."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))  # Python 3.11 reads the "Z"
    except ValueError:
        return None


def _mapped(value, value_map):
    if isinstance(value, list):  # a multi-select picklist
        return [value_map.get(v, v) for v in value]
    return value_map.get(value, value) if isinstance(value, str) else value


def _comparable(value):
    return value.get("id") if isinstance(value, dict) and "id" in value else value


def _split(path):
    for prefix in CUSTOM_PREFIXES:
        if path.startswith(prefix):
            return prefix[:-1], path[len(prefix):]
    return None, path


def _get(obj, path):
    parent, key = _split(path)
    holder = (obj.get(parent) or {}) if parent else obj
    return holder.get(key)


def _put(payload, path, value):
    parent, key = _split(path)
    (payload.setdefault(parent, {}) if parent else payload)[key] = value


def _drop(payload, path):
    parent, key = _split(path)
    holder = payload.get(parent) if parent else payload
    if isinstance(holder, dict):
        holder.pop(key, None)
        if parent and not holder:
            payload.pop(parent)
