"""In-memory state of the Zoho CRM sandbox: data centres, their orgs, users, modules, records, OAuth
grants and notification channels, and the functions that change them.

Plain objects and dicts, so the API blueprint and a web UI can share them. Every change to records or
modules goes through `Org` methods, which validate like the real API, keep the unique indexes, and call
each listener in `SandboxState.listeners` with `(org, event)` — the notification delivery is one such
listener, a UI can add another. `event` is a dict:
  {"type": "records", "module": api_name, "operation": "create"|"edit"|"delete", "ids": [...],
   "fields": {id: [changed field api names]}}
  {"type": "module", "operation": "create"|"delete", "module": api_name}

Records are stored as dicts keyed by field API names, shaped as the API returns them (lookups as
`{"name", "id"}`, user lookups with `email`), plus private `_created`/`_modified` epoch seconds.
"""
import itertools
import re
import secrets
import threading
from datetime import date, datetime, timedelta, timezone

from ..clock import Clock
from . import schema

# (accounts-server host, API domain host, UTC offset in hours) per data centre (docs/outside-apis.md#crm-data-centres).
DATA_CENTRES = {
    "us": ("accounts.zoho.com", "www.zohoapis.com", -7),
    "eu": ("accounts.zoho.eu", "www.zohoapis.eu", 1),
    "in": ("accounts.zoho.in", "www.zohoapis.in", 5.5),
    "au": ("accounts.zoho.com.au", "www.zohoapis.com.au", 10),
    "jp": ("accounts.zoho.jp", "www.zohoapis.jp", 9),
    "cn": ("accounts.zoho.com.cn", "www.zohoapis.com.cn", 8),
    "ca": ("accounts.zohocloud.ca", "www.zohoapis.ca", -5),
    "sa": ("accounts.zoho.sa", "www.zohoapis.sa", 3),
}

# The time zone of each data centre's org and users (a Zoho user has one; the widget context carries it).
TIME_ZONES = {"us": "America/Los_Angeles", "eu": "Europe/Berlin", "in": "Asia/Kolkata", "au": "Australia/Sydney",
              "jp": "Asia/Tokyo", "cn": "Asia/Shanghai", "ca": "America/Toronto", "sa": "Asia/Riyadh"}

# Edition -> (concurrent calls, base daily credits, credits per user licence, max credits; None = no cap).
# Concurrency and credits per docs/outside-apis.md#crm-api-limits (Kaizen #203 and the API-limits page).
EDITIONS = {
    "free": (5, 5_000, 0, 5_000),
    "standard": (10, 50_000, 250, 100_000),
    "professional": (15, 50_000, 500, 3_000_000),
    "enterprise": (20, 50_000, 1_000, 5_000_000),
    "ultimate": (25, 50_000, 2_000, None),
}
# heavy calls (writes of more than 10 records, COQL), all editions (docs/outside-apis.md#crm-api-limits)
SUB_CONCURRENCY = 10

ALL_SCOPES = ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.ALL,ZohoCRM.org.ALL,"
              "ZohoCRM.notifications.ALL,ZohoCRM.coql.READ,ZohoSearch.securesearch.READ")
ACCESS_TOKEN_SECONDS = 3600
# "one-time use, valid for three minutes" (CRM v8 token-validity page, docs/outside-apis.md#crm-oauth)
CODE_SECONDS = 180
MAX_ACCESS_TOKENS_PER_REFRESH = 15  # the 16th invalidates the oldest (docs/outside-apis.md#crm-tokens)
MAX_REFRESH_TOKENS_PER_CLIENT = 20  # the 21st deletes the oldest (docs/outside-apis.md#crm-tokens)
PAGE_TOKEN_SECONDS = 86400
PAGE_TOKEN_MAX_RECORDS = 100_000
WATCH_MAX_SECONDS = 7 * 86400
WATCH_DEFAULT_SECONDS = 3600
MAX_RECORDS_PER_CALL = 100
# Deleted records stay in the recycle bin 60 days, then are deleted for good; an admin may empty it
# sooner (https://www.zoho.com/crm/help/miscellaneous/recycle-bin.html).
RECYCLE_BIN_SECONDS = 60 * 86400


class RecordError(Exception):
    """One record's failure, reported in its slot of a batch answer (code, details, message)."""

    def __init__(self, code, details, message):
        super().__init__(message)
        self.code, self.details, self.message = code, details, message


def invalid_data(api_name, path, expected=None, **extra):
    details = {"api_name": api_name, "json_path": path}
    if expected:
        details["expected_data_type"] = expected
    details.update(extra)
    return RecordError("INVALID_DATA", details, "invalid data")


def mandatory_missing(api_name, path):
    return RecordError("MANDATORY_NOT_FOUND", {"api_name": api_name, "json_path": path}, "required field not found")


class Module:
    """A module's metadata (`meta`, as GET settings/modules shows it), its fields and its records."""

    def __init__(self, meta, fields):
        self.meta = meta
        self.fields = {f["api_name"]: f for f in fields}
        self.records = {}  # id -> record; insertion order is id order (ids only grow)
        self.indexes = {}  # field api name -> {normalised value -> [ids]} for duplicate checks
        self.deleted = {}  # id -> {"id", "display_name", "created_by", "deleted_by", "_deleted", "_purged"}

    @property
    def api_name(self):
        return self.meta["api_name"]

    def indexed_fields(self):
        return [name for name, f in self.fields.items() if f.get("_unique") or name in self.duplicate_fields()]

    def duplicate_fields(self):
        """System duplicate-check fields, then unique fields (upsert default;
        docs/outside-apis.md#crm-writing-records)."""
        system = schema.SYSTEM_DUPLICATE_FIELDS.get(self.api_name)
        if system is None and self.meta["generated_type"] == "custom":
            system = "Name"
        names = [system] if system and system in self.fields else []
        return names + [n for n, f in self.fields.items() if f.get("_unique") and n not in names]

    def index_add(self, record):
        for name in self.indexed_fields():
            key = index_key(record.get(name))
            if key is not None:
                self.indexes.setdefault(name, {}).setdefault(key, []).append(record["id"])

    def index_remove(self, record):
        for name in self.indexed_fields():
            key = index_key(record.get(name))
            ids = self.indexes.get(name, {}).get(key)
            if ids and record["id"] in ids:
                ids.remove(record["id"])
                if not ids:
                    del self.indexes[name][key]

    def find_by(self, field_name, value):
        """Ids of records whose `field_name` equals `value` (case-insensitive), oldest first."""
        key = index_key(value)
        if key is None:
            return []
        if field_name in self.indexes or field_name in self.indexed_fields():
            return list(self.indexes.get(field_name, {}).get(key, []))
        return [rid for rid, r in self.records.items() if index_key(r.get(field_name)) == key]


def index_key(value):
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("id")
    return str(value).strip().lower()


class Org:
    """One CRM org (company) living in one data centre."""

    def __init__(self, state, dc, org_id, company_name, edition="enterprise", id_prefix="5725767"):
        self.state, self.dc, self.id = state, dc, org_id
        self.company_name, self.edition = company_name, edition
        self.zgid = str(int(org_id) + 7)
        self.lock = threading.RLock()
        self._ids = itertools.count(1_000_000)
        self.id_prefix = id_prefix
        self.tz = timezone(timedelta(hours=DATA_CENTRES[dc][2]))
        self.profiles, self.roles, self.users = {}, {}, {}
        self.users_by_email, self.passwords = {}, {}
        self.modules = {}  # api_name -> Module (insertion order = sequence)
        self.channels = {}  # channel_id (str) -> watch channel dict
        self.page_tokens = {}  # token -> dict(user_id, bound, last_key, page, expires)
        self.credits = {}  # clock hour -> credits used in it (rolling 24 h window)
        self.in_flight = 0
        self.heavy_in_flight = 0
        self.concurrency_lock = threading.Lock()

    # ---- ids and time -------------------------------------------------------------------------
    def new_id(self):
        return f"{self.id_prefix}{next(self._ids):012d}"

    def now(self):
        return self.state.clock.now()

    def iso(self, ts):
        """Epoch seconds -> `2019-03-22T11:10:55+05:30` in the org's time zone
        (docs/outside-apis.md#crm-record-json)."""
        return datetime.fromtimestamp(int(ts), self.tz).isoformat()

    # ---- users --------------------------------------------------------------------------------
    def add_profile(self, name, admin=False, read_only=False):
        profile = {"id": self.new_id(), "name": name, "_admin": admin, "_read_only": read_only}
        self.profiles[profile["id"]] = profile
        return profile

    def add_role(self, name):
        role = {"id": self.new_id(), "name": name}
        self.roles[role["id"]] = role
        return role

    def add_user(self, first_name, last_name, email, profile, role, password, ts=None):
        ts = self.now() if ts is None else ts
        user = {
            "id": self.new_id(), "first_name": first_name, "last_name": last_name,
            "full_name": f"{first_name} {last_name}", "email": email.lower(), "status": "active",
            "confirm": True, "role": {"name": role["name"], "id": role["id"]},
            "profile": {"name": profile["name"], "id": profile["id"]},
            "time_zone": TIME_ZONES[self.dc], "locale": "ja_JP" if self.dc == "jp" else "en_US",
            "language": "ja_JP" if self.dc == "jp" else "en_US", "country_locale": "en_US",
            "created_time": self.iso(ts), "Modified_Time": self.iso(ts), "zuid": str(60_000_000 + len(self.users)),
        }
        self.users[user["id"]] = user
        self.users_by_email[user["email"]] = user["id"]
        self.passwords[user["id"]] = password
        return user

    def user_profile(self, user):
        return self.profiles[user["profile"]["id"]]

    def is_admin(self, user):
        return self.user_profile(user)["_admin"]

    def can_write(self, user):
        return not self.user_profile(user)["_read_only"]

    def admin(self):
        return next(u for u in self.users.values() if self.is_admin(u))

    def user_ref(self, user):
        return {"name": user["full_name"], "id": user["id"], "email": user["email"]}

    # ---- limits -------------------------------------------------------------------------------
    def concurrency_limit(self):
        return EDITIONS[self.edition][0]

    def daily_credits(self):
        _, base, per_user, cap = EDITIONS[self.edition]
        total = base + per_user * len(self.users)
        return total if cap is None else min(total, cap)

    def credits_used(self):
        hour = int(self.now() // 3600)
        with self.concurrency_lock:
            for old in [h for h in self.credits if h <= hour - 24]:
                del self.credits[old]
            return sum(self.credits.values())

    def spend_credits(self, amount):
        hour = int(self.now() // 3600)
        with self.concurrency_lock:
            self.credits[hour] = self.credits.get(hour, 0) + amount

    # ---- modules ------------------------------------------------------------------------------
    def module(self, api_name):
        """The module named `api_name` (API names are case-insensitive in URLs), or None."""
        found = self.modules.get(api_name)
        if found is None:
            found = next((m for n, m in self.modules.items() if n.lower() == str(api_name).lower()), None)
        return found

    def add_module(self, api_name, singular, plural, field_specs, generated_type="default", profiles=None,
                   notify=True):
        """Create a module from field specs (see schema.field); returns the Module."""
        meta = schema.module_meta(self, api_name, singular, plural, generated_type, profiles)
        fields = [schema.field(self, spec) for spec in list(field_specs) + schema.SYSTEM_FIELDS]
        module = Module(meta, fields)
        with self.lock:
            self.modules[api_name] = module
        if notify:
            self.emit({"type": "module", "operation": "create", "module": api_name})
        return module

    def create_custom_module(self, singular, plural, api_name=None, profiles=None, display_field=None,
                             fields=()):
        """Create a custom module (Create Custom Module API) with its `Name` display field and extra fields
        given as `settings/fields` create bodies. Raises RecordError on invalid input."""
        for key, label in (("singular_label", singular), ("plural_label", plural)):
            if not label or not isinstance(label, str):
                raise mandatory_missing(key, f"$.modules[0].{key}")
            if len(label) > 25 or not re.fullmatch(r"[A-Za-z0-9 ]+", label):
                raise invalid_data(key, f"$.modules[0].{key}", "string")
        api_name = api_name or plural.strip().replace(" ", "_")
        if not schema.valid_api_name(api_name):
            raise invalid_data("api_name", "$.modules[0].api_name", "string")
        with self.lock:
            taken = {m.api_name.lower() for m in self.modules.values()}
            labels = {m.meta["plural_label"].lower() for m in self.modules.values()}
            if api_name.lower() in taken or plural.lower() in labels:
                raise RecordError("DUPLICATE_DATA", {"api_name": "plural_label", "json_path": "$.modules[0].plural_label"},
                                  "duplicate data")
            name_label = (display_field or {}).get("field_label") or f"{singular} Name"
            specs = schema.custom_module_fields(singular, name_label)
            module = self.add_module(api_name, singular, plural, specs, "custom", profiles, notify=False)
            try:
                for body in fields:
                    self.create_field(module, body)
            except RecordError:
                del self.modules[api_name]
                raise
        self.emit({"type": "module", "operation": "create", "module": api_name})
        return module

    def create_field(self, module, body, path="$.fields[0]"):
        """Add a custom field from a `POST settings/fields` element: field_label, data_type, length,
        unique, lookup {module {api_name}}, pick_list_values, api_name (optional)."""
        label = body.get("field_label")
        if not label or not isinstance(label, str):
            raise mandatory_missing("field_label", f"{path}.field_label")
        data_type = body.get("data_type")
        if data_type not in schema.CREATABLE_TYPES:
            raise invalid_data("data_type", f"{path}.data_type", "string")
        api_name = body.get("api_name") or re.sub(r"[^A-Za-z0-9]+", "_", label.strip()).strip("_")
        if not schema.valid_api_name(api_name):
            raise invalid_data("api_name", f"{path}.api_name", "string")
        if api_name in module.fields or any(f["field_label"].lower() == label.lower() for f in module.fields.values()):
            raise RecordError("DUPLICATE_DATA", {"api_name": "field_label", "json_path": f"{path}.field_label"},
                              "duplicate data")
        options = {"custom": True, "length": body.get("length"), "unique": bool(body.get("unique")),
                   "mandatory": bool(body.get("system_mandatory") or body.get("mandatory"))}
        if data_type == "lookup":
            target = ((body.get("lookup") or {}).get("module") or {}).get("api_name")
            target_module = self.module(target) if target else None
            if target_module is None:
                raise invalid_data("lookup", f"{path}.lookup.module", "jsonobject")
            options["lookup"] = target_module.api_name
        if data_type == "picklist":
            options["picklist"] = [v.get("actual_value") or v.get("display_value")
                                   for v in body.get("pick_list_values") or []]
        field = schema.field(self, (api_name, label, data_type, options))
        with self.lock:
            module.fields[api_name] = field
            if field.get("_unique"):
                for record in module.records.values():
                    key = index_key(record.get(api_name))
                    if key is not None:
                        module.indexes.setdefault(api_name, {}).setdefault(key, []).append(record["id"])
        return field

    def delete_custom_module(self, module):
        """Remove a custom module with its records and the lookups other modules hold to it. Default
        modules can't be deleted (RecordError NOT_ALLOWED)."""
        if module.meta["generated_type"] != "custom":
            raise RecordError("NOT_ALLOWED", {"api_name": module.api_name}, "the module cannot be deleted")
        with self.lock:
            del self.modules[module.api_name]
            for other in self.modules.values():
                for name in [n for n, f in other.fields.items()
                             if f["data_type"] == "lookup" and f["lookup"]["module"]["api_name"] == module.api_name]:
                    del other.fields[name]
                    for record in other.records.values():
                        record.pop(name, None)
            for channel in self.channels.values():
                channel["events"] = [e for e in channel["events"] if e.split(".")[0] != module.api_name]
        self.emit({"type": "module", "operation": "delete", "module": module.api_name})

    def related_lists(self, module):
        """Related lists of `module`: one per lookup field in another module pointing at it."""
        lists = []
        for other in self.modules.values():
            for field in other.fields.values():
                if field["data_type"] == "lookup" and field["lookup"]["module"]["api_name"] == module.api_name:
                    lists.append((other, field))
        names, out = set(), []
        for other, field in lists:
            # NB: a lookup-based list is named after the module without any extension prefix
            # (docs/outside-apis.md#crm-related-records).
            name = other.api_name.split("__")[-1]
            if name in names:
                name = f"{name}_{field['api_name']}"
            names.add(name)
            out.append({"api_name": name, "module": other, "field": field})
        return out

    # ---- change notification ------------------------------------------------------------------
    def emit(self, event):
        for listener in list(self.state.listeners):
            listener(self, event)

    # ---- records ------------------------------------------------------------------------------
    def insert_records(self, module, items, user, duplicate_check_fields=(), ts=None, notify=True):
        """Insert a batch; returns one (record | RecordError) per item, in order."""
        results, created = [], []
        with self.lock:
            for index, item in enumerate(items):
                try:
                    values = self._validate(module, item, index, creating=True)
                    self._check_duplicates(module, values, index, duplicate_check_fields)
                    record = self._create(module, values, user, ts)
                    created.append(record["id"])
                    results.append(record)
                except RecordError as error:
                    results.append(error)
        if notify and created:
            self.emit({"type": "records", "module": module.api_name, "operation": "create", "ids": created,
                       "fields": {}})
        return results

    def update_records(self, module, items, user, ts=None, notify=True):
        """Update a batch of `{"id": ..., field: value}`; returns record | RecordError per item."""
        results, changed = [], {}
        with self.lock:
            for index, item in enumerate(items):
                try:
                    record_id = item.get("id") if isinstance(item, dict) else None
                    if not record_id:
                        raise mandatory_missing("id", f"$.data[{index}].id")
                    record = module.records.get(str(record_id))
                    if record is None:
                        raise RecordError("INVALID_DATA", {"id": str(record_id)}, "the id given seems to be invalid")
                    values = self._validate(module, item, index, creating=False)
                    self._check_duplicates(module, values, index, (), exclude=record["id"])
                    changed[record["id"]] = self._apply(module, record, values, user, ts)
                    results.append(record)
                except RecordError as error:
                    results.append(error)
        if notify and changed:
            self.emit({"type": "records", "module": module.api_name, "operation": "edit", "ids": list(changed),
                       "fields": changed})
        return results

    def upsert_records(self, module, items, user, duplicate_check_fields=None, ts=None, notify=True):
        """Insert or update by duplicate-check fields; returns (record, action, duplicate_field) | RecordError."""
        check = list(duplicate_check_fields or module.duplicate_fields())
        results, created, changed = [], [], {}
        with self.lock:
            for index, item in enumerate(items):
                try:
                    if not isinstance(item, dict):
                        raise invalid_data("data", f"$.data[{index}]", "jsonobject")
                    existing, matched_on = None, None
                    for name in check:
                        ids = module.find_by(name, item.get(name))
                        if ids:
                            existing, matched_on = module.records[ids[0]], name
                            break
                    if existing is None:
                        values = self._validate(module, item, index, creating=True)
                        self._check_duplicates(module, values, index, ())
                        record = self._create(module, values, user, ts)
                        created.append(record["id"])
                        results.append((record, "insert", None))
                    else:
                        values = self._validate(module, item, index, creating=False)
                        values.pop("id", None)
                        self._check_duplicates(module, values, index, (), exclude=existing["id"])
                        changed[existing["id"]] = self._apply(module, existing, values, user, ts)
                        results.append((existing, "update", matched_on))
                except RecordError as error:
                    results.append(error)
        if notify and created:
            self.emit({"type": "records", "module": module.api_name, "operation": "create", "ids": created,
                       "fields": {}})
        if notify and changed:
            self.emit({"type": "records", "module": module.api_name, "operation": "edit", "ids": list(changed),
                       "fields": changed})
        return results

    def delete_records(self, module, ids, notify=True, user=None):
        """Delete records by id (to the recycle bin, by `user`, else the admin); returns the id or a
        RecordError per id."""
        results, deleted = [], []
        by = self.user_ref(user or self.admin())
        with self.lock:
            now = self.now()
            for record_id in ids:
                record = module.records.pop(str(record_id), None)
                if record is None:
                    results.append(RecordError("INVALID_DATA", {"id": str(record_id)}, "record not deleted"))
                    continue
                module.index_remove(record)
                deleted.append(record["id"])
                results.append(record["id"])
                self._clear_lookups_to(module, record["id"])
                shown = record.get(module.meta["display_field"]["api_name"])
                module.deleted[record["id"]] = {
                    "id": record["id"], "display_name": shown if isinstance(shown, str) else None,
                    "created_by": {k: record["Created_By"][k] for k in ("name", "id")},
                    "deleted_by": {k: by[k] for k in ("name", "id")}, "_deleted": now, "_purged": None}
        if notify and deleted:
            self.emit({"type": "records", "module": module.api_name, "operation": "delete", "ids": deleted,
                       "fields": {}})
        return results

    def deleted_records(self, module):
        """The module's deleted records as GET /{module}/deleted shows them, newest deletion first, each
        with `type` "recycle" or "permanent" (after 60 days or an emptied bin). A permanently deleted
        record keeps only its id and deletion time (the v8 OpenAPI example:
        https://github.com/zoho/crm-oas/blob/main/v8.0/record/operations/getDeletedRecords/examples/response-200-deletedrecords.md)."""
        now, shown = self.now(), []
        with self.lock:
            entries = sorted(module.deleted.values(), key=lambda e: (e["_deleted"], e["id"]), reverse=True)
            for entry in entries:
                gone = entry["_purged"] is not None or now - entry["_deleted"] >= RECYCLE_BIN_SECONDS
                item = {"deleted_by": None, "id": entry["id"], "display_name": None, "type": "permanent",
                        "created_by": None, "deleted_time": self.iso(entry["_deleted"]), "_deleted": entry["_deleted"]}
                if not gone:
                    item.update(deleted_by=entry["deleted_by"], display_name=entry["display_name"], type="recycle",
                                created_by=entry["created_by"])
                shown.append(item)
        return shown

    def empty_recycle_bin(self):
        """What an admin's Delete in Setup → Recycle Bin does to every record in it."""
        with self.lock:
            for module in self.modules.values():
                for entry in module.deleted.values():
                    entry["_purged"] = entry["_purged"] or self.now()

    def _clear_lookups_to(self, module, record_id):
        for other in self.modules.values():
            names = [n for n, f in other.fields.items()
                     if f["data_type"] == "lookup" and f["lookup"]["module"]["api_name"] == module.api_name]
            if not names:
                continue
            for record in other.records.values():
                for name in names:
                    if (record.get(name) or {}).get("id") == record_id:
                        record[name] = None

    def _create(self, module, values, user, ts, record_id=None):
        """`record_id`: a fixed id (seeding a fixture whose ids another service knows), else a new one."""
        ts = self.now() if ts is None else ts
        owner = values.pop("Owner", None) or self.user_ref(user)
        record = {"id": record_id or self.new_id(), "Owner": owner}
        for name, field in module.fields.items():
            if not field["read_only"] and name not in record:
                record[name] = values.get(name)
        record.update({
            "Created_By": self.user_ref(user), "Modified_By": self.user_ref(user),
            "Created_Time": self.iso(ts), "Modified_Time": self.iso(ts), "_created": ts, "_modified": ts,
        })
        schema.compute(module, record)
        module.records[record["id"]] = record
        module.index_add(record)
        return record

    def _apply(self, module, record, values, user, ts):
        ts = self.now() if ts is None else ts
        changed = [name for name, value in values.items() if record.get(name) != value]
        module.index_remove(record)
        record.update(values)
        record["Modified_By"] = self.user_ref(user)
        record["Modified_Time"], record["_modified"] = self.iso(ts), ts
        schema.compute(module, record)
        module.index_add(record)
        return changed

    def _validate(self, module, item, index, creating):
        """Field values converted to stored form; RecordError on the first bad field
        (docs/outside-apis.md#crm-writing-records)."""
        if not isinstance(item, dict):
            raise invalid_data("data", f"$.data[{index}]", "jsonobject")
        values = {}
        for name, value in item.items():
            field = module.fields.get(name)
            if field is None or name == "id" or field["read_only"]:
                continue  # NB: unknown and read-only keys are ignored, as the real API does
            path = f"$.data[{index}].{name}"
            if value is None or value == "":
                if field["system_mandatory"]:
                    raise mandatory_missing(name, path)
                values[name] = None
                continue
            values[name] = self._convert(field, value, path)
        if creating:
            for name, field in module.fields.items():
                if field["system_mandatory"] and values.get(name) in (None, ""):
                    raise mandatory_missing(name, f"$.data[{index}].{name}")
        return values

    def _convert(self, field, value, path):
        kind, name = field["data_type"], field["api_name"]
        if kind in ("text", "textarea", "email", "phone", "website", "picklist", "autonumber"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise invalid_data(name, path, kind)
            value = str(value)
            if field.get("length") and len(value) > field["length"]:
                raise invalid_data(name, path, kind, maximum_length=field["length"])
            if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                raise invalid_data(name, path, "email")
            if kind == "phone" and not re.fullmatch(r"[0-9+()\-. ext]{1,30}", value):
                raise invalid_data(name, path, "phone")
            return value
        if kind in ("integer", "bigint"):
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
                raise invalid_data(name, path, "integer")
            # NB: long integers travel as strings (json_type "string"), so no client loses precision.
            return str(int(value)) if kind == "bigint" else int(value)
        if kind in ("double", "currency"):
            try:
                if isinstance(value, bool):
                    raise ValueError
                return float(value)
            except (TypeError, ValueError):
                raise invalid_data(name, path, kind) from None
        if kind == "boolean":
            if not isinstance(value, bool):
                raise invalid_data(name, path, "boolean")
            return value
        if kind == "date":
            try:
                return date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise invalid_data(name, path, "date") from None
        if kind == "datetime":
            try:
                return datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise invalid_data(name, path, "datetime") from None
        if kind == "ownerlookup":
            user_id = value.get("id") if isinstance(value, dict) else value
            user = self.users.get(str(user_id))
            if user is None:
                raise invalid_data(name, path, "ownerlookup")
            return self.user_ref(user)
        if kind == "lookup":
            target_id = value.get("id") if isinstance(value, dict) else value
            target = self.modules.get(field["lookup"]["module"]["api_name"])
            record = target.records.get(str(target_id)) if target else None
            if record is None:
                raise invalid_data(name, path, "lookup")
            return {"name": schema.display_value(target, record), "id": record["id"]}
        return value

    def _check_duplicates(self, module, values, index, extra_fields, exclude=None):
        """DUPLICATE_DATA when a unique field (or a requested duplicate-check field) is already taken."""
        names = [n for n, f in module.fields.items() if f.get("_unique")] + list(extra_fields)
        for name in names:
            if name not in values:
                continue
            holders = [rid for rid in module.find_by(name, values[name]) if rid != exclude]
            if holders:
                holder = module.records[holders[0]]
                raise RecordError("DUPLICATE_DATA", {
                    "api_name": name, "json_path": f"$.data[{index}].{name}",
                    "duplicate_record": {"module": {"api_name": module.api_name, "id": module.meta["id"]},
                                         "id": holder["id"], "Owner": holder["Owner"]},
                }, "duplicate data")


class DataCentre:
    """One data centre: its orgs and the OAuth grants its accounts server issued."""

    def __init__(self, name):
        self.name = name
        self.orgs = {}  # org id -> Org
        self.codes = {}  # code -> dict(client_id, org_id, user_id, scope, redirect_uri, offline, expires)
        self.refresh_tokens = {}  # token -> dict(client_id, org_id, user_id, scope, created, access_tokens[])
        self.access_tokens = {}  # token -> dict(client_id, org_id, user_id, scope, expires, refresh_token)
        self.lock = threading.RLock()

    def org(self):
        """The data centre's first (seeded) org."""
        return next(iter(self.orgs.values()), None)


class SandboxState:
    """Every data centre, the OAuth clients (common to all DCs) and sandbox-wide settings."""

    def __init__(self):
        self.clock = Clock()
        self.data_centres = {name: DataCentre(name) for name in DATA_CENTRES}
        self.clients = {}  # client id -> dict(client_id, client_secret, name, redirect_uris)
        self.listeners = []
        # Fault injection: added latency (s) and the share (0..1) of calls answered 500 INTERNAL_ERROR.
        self.faults = {"latency": 0.0, "error_rate": 0.0, "rate_limit_rate": 0.0}
        self.limits_enabled = True
        self._org_numbers = itertools.count(1)

    def add_org(self, dc, company_name, edition="enterprise"):
        number = next(self._org_numbers)
        org = Org(self, dc, str(60_000_000 + number * 1_111), company_name, edition,
                  id_prefix=str(5_725_767 + number * 10_000))
        self.data_centres[dc].orgs[org.id] = org
        return org

    def add_client(self, client_id, name, redirect_uris=()):
        client = {"client_id": client_id, "client_secret": secrets.token_hex(20), "name": name,
                  "redirect_uris": list(redirect_uris)}
        self.clients[client_id] = client
        return client

    def find_user(self, email):
        """(org, user) for a sign-in email in any data centre, or (None, None)."""
        email = (email or "").strip().lower()
        for centre in self.data_centres.values():
            for org in centre.orgs.values():
                user_id = org.users_by_email.get(email)
                if user_id:
                    return org, org.users[user_id]
        return None, None

    # ---- OAuth grants -------------------------------------------------------------------------
    def issue_code(self, org, user, client_id, scope, redirect_uri, offline, new_refresh, challenge="",
                   challenge_method="plain"):
        centre = self.data_centres[org.dc]
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with centre.lock:
            centre.codes[code] = {"client_id": client_id, "org_id": org.id, "user_id": user["id"], "scope": scope,
                                  "redirect_uri": redirect_uri, "offline": offline, "new_refresh": new_refresh,
                                  "expires": self.clock.now() + CODE_SECONDS, "challenge": challenge,
                                  "challenge_method": challenge_method}
        return code

    def has_refresh_token(self, org, user, client_id):
        centre = self.data_centres[org.dc]
        return any(g["user_id"] == user["id"] and g["client_id"] == client_id for g in centre.refresh_tokens.values())

    def issue_refresh_token(self, org, user, client_id, scope):
        centre = self.data_centres[org.dc]
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with centre.lock:
            mine = [t for t, g in centre.refresh_tokens.items()
                    if g["user_id"] == user["id"] and g["client_id"] == client_id]
            if len(mine) >= MAX_REFRESH_TOKENS_PER_CLIENT:
                self.revoke_refresh_token(org.dc, mine[0])
            centre.refresh_tokens[token] = {"client_id": client_id, "org_id": org.id, "user_id": user["id"],
                                            "scope": scope, "created": self.clock.now(), "access_tokens": []}
        return token

    def issue_access_token(self, dc, client_id, org_id, user_id, scope, refresh_token=None):
        centre = self.data_centres[dc]
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with centre.lock:
            centre.access_tokens[token] = {"client_id": client_id, "org_id": org_id, "user_id": user_id,
                                           "scope": scope, "expires": self.clock.now() + ACCESS_TOKEN_SECONDS,
                                           "refresh_token": refresh_token}
            if refresh_token:
                issued = centre.refresh_tokens[refresh_token]["access_tokens"]
                issued.append(token)
                while len(issued) > MAX_ACCESS_TOKENS_PER_REFRESH:
                    centre.access_tokens.pop(issued.pop(0), None)
        return token

    def revoke_refresh_token(self, dc, token):
        centre = self.data_centres[dc]
        with centre.lock:
            grant = centre.refresh_tokens.pop(token, None)
            if grant is None:
                return False
            for access in grant["access_tokens"]:
                centre.access_tokens.pop(access, None)
        return True

    def access_grant(self, dc, token):
        """The live grant for an access token presented to `dc`'s API domain, or None."""
        grant = self.data_centres[dc].access_tokens.get(token)
        if grant is None or grant["expires"] <= self.clock.now():
            return None
        return grant
