"""What the field mapping step (F11) may pair: both sides' fields as read from their metadata, and the
rules a pair must keep before it is saved. No I/O: the metadata comes in as the services answer it.

A field's kind says what its values are: text, number, date, boolean, choice (a CRM picklist, a Zendesk
dropdown), multi (a multi-select), lookup (a reference to another record, only in the standard pairs).
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from . import mapping

CRM_KINDS = {
    "text": "text", "textarea": "text", "email": "text", "phone": "text", "website": "text", "autonumber": "text",
    "integer": "number", "bigint": "number", "double": "number", "currency": "number", "decimal": "number",
    "percent": "number", "date": "date", "datetime": "date", "boolean": "boolean", "picklist": "choice",
    "multiselectpicklist": "multi", "lookup": "lookup", "ownerlookup": "lookup",
}
ZENDESK_KINDS = {
    "text": "text", "textarea": "text", "regexp": "text", "integer": "number", "decimal": "number", "date": "date",
    "checkbox": "boolean", "dropdown": "choice", "tagger": "choice", "multiselect": "multi", "lookup": "lookup",
}
KIND_LABELS = {"text": _l("text"), "number": _l("number"), "date": _l("date"), "boolean": _l("yes/no"),
               "choice": _l("picklist"), "multi": _l("multi-select"), "lookup": _l("lookup")}
# Zendesk's own user and organization fields an admin may pair (the rest are the standard pairs' or
# Zendesk's to manage: role, organization_id, domain_names...).
ZENDESK_STANDARD = {"user": ("name", "email", "phone", "details", "notes"), "organization": ("name", "details", "notes")}


@dataclass(frozen=True)
class FieldInfo:
    name: str  # CRM api_name, or the Zendesk path ("phone", "user_fields.plan")
    label: str
    kind: str
    read_only: bool = False
    custom: bool = False
    options: tuple = ()  # (value, label) of a picklist or dropdown


@dataclass
class Pair:
    crm_field: str
    zendesk_field: str
    direction: str = "to_zendesk"
    value_map: dict = field(default_factory=dict)
    standard: bool = False


def zendesk_object(module):
    return "organization" if module == "Accounts" else "user"


def crm_catalog(fields):
    """{api_name: FieldInfo} from the CRM's `settings/fields` answer, in its order."""
    catalog = {}
    for meta in fields:
        options = tuple((v.get("actual_value") or v.get("display_value"), v.get("display_value") or v.get("actual_value"))
                        for v in meta.get("pick_list_values") or [])
        catalog[meta["api_name"]] = FieldInfo(
            meta["api_name"], meta.get("field_label") or meta["api_name"], CRM_KINDS.get(meta.get("data_type"), "other"),
            bool(meta.get("read_only") or meta.get("field_read_only")), bool(meta.get("custom_field")), options)
    return catalog


def zendesk_catalog(module, custom_fields, standard_labels):
    """{path: FieldInfo}: Zendesk's standard fields of the user or organization (`standard_labels`: their
    names in the reader's language), then its active custom fields under `user_fields.` / `organization_fields.`."""
    kind = zendesk_object(module)
    catalog = {name: FieldInfo(name, str(standard_labels.get(name, name)), "text") for name in ZENDESK_STANDARD[kind]}
    for meta in custom_fields:
        if not meta.get("active", True):
            continue
        path = f"{kind}_fields.{meta['key']}"
        options = tuple((o["value"], o.get("name") or o["value"]) for o in meta.get("custom_field_options") or [])
        catalog[path] = FieldInfo(path, meta.get("title") or meta["key"], ZENDESK_KINDS.get(meta.get("type"), "other"),
                                  custom=True, options=options)
    return catalog


def pairable(catalog):
    """The fields an admin may choose (lookups and unknown kinds belong to the standard pairs only)."""
    return [info for info in catalog.values() if info.kind not in ("lookup", "other")]


def writable(source, target):
    """Whether values of kind `source` can be written into a field of kind `target`: the same kind, or
    anything single-valued into text."""
    return source == target or (target == "text" and source in ("number", "date", "boolean", "choice"))


def problems(pairs, crm, zendesk):
    """{index of a pair: [messages]} for every pair that can't be saved as it is (standard pairs are kept
    as they are and only count as targets taken)."""
    found, crm_used, zendesk_targets, crm_targets = {}, set(), set(), set()
    for index, pair in enumerate(pairs):
        messages = [] if pair.standard else _pair_problems(pair, crm, zendesk, crm_used, zendesk_targets, crm_targets)
        crm_used.add(pair.crm_field)
        if pair.direction in mapping.TO_ZENDESK:
            zendesk_targets.add(pair.zendesk_field)
        if pair.direction in mapping.TO_CRM:
            crm_targets.add(pair.crm_field)
        if messages:
            found[index] = messages
    return found


def _pair_problems(pair, crm, zendesk, crm_used, zendesk_targets, crm_targets):
    source, target = crm.get(pair.crm_field), zendesk.get(pair.zendesk_field)
    messages = []
    if source is None or source.kind in ("lookup", "other"):
        messages.append(_l("Choose a CRM field."))
    if target is None or target.kind in ("lookup", "other"):
        messages.append(_l("Choose a Zendesk field."))
    if pair.direction not in mapping.DIRECTIONS:
        messages.append(_l("Choose a direction."))
    if messages:
        return messages
    if pair.crm_field in crm_used:  # one pair per CRM field and module (FieldMapping's unique key)
        messages.append(_l("%(field)s is already in another pair.", field=source.label))
    if pair.direction in mapping.TO_ZENDESK:
        if not writable(source.kind, target.kind):
            messages.append(_cannot_write(source, target))
        if pair.zendesk_field in zendesk_targets:
            messages.append(_l("Zendesk's %(field)s is already the target of another pair.", field=target.label))
    if pair.direction in mapping.TO_CRM:
        if source.read_only:
            messages.append(_l("The CRM's %(field)s is read-only: it can't be written from Zendesk.", field=source.label))
        if not writable(target.kind, source.kind):
            messages.append(_cannot_write(target, source))
        if pair.crm_field in crm_targets:
            messages.append(_l("The CRM's %(field)s is already the target of another pair.", field=source.label))
    if source.kind == "choice" and target.kind == "choice" and not messages:
        messages += _value_problems(pair, source, target)
    return messages


def _cannot_write(source, target):
    return _l("A %(source)s field (%(source_name)s) can't be written into a %(target)s field (%(target_name)s).",
              source=KIND_LABELS[source.kind], source_name=source.label,
              target=KIND_LABELS[target.kind], target_name=target.label)


def _value_problems(pair, source, target):
    """Every value must have its counterpart on the side it is written to."""
    messages, options = [], dict(target.options)
    if pair.direction in mapping.TO_ZENDESK:
        for value, label in source.options:
            if pair.value_map.get(value) not in options:
                messages.append(_l("The CRM value “%(value)s” has no counterpart in Zendesk's %(field)s.",
                                   value=label, field=target.label))
    if pair.direction in mapping.TO_CRM:
        mapped = set(pair.value_map.values())
        for value, label in target.options:
            if value not in mapped:
                messages.append(_l("Zendesk's value “%(value)s” has no counterpart in the CRM's %(field)s.",
                                   value=label, field=source.label))
    return messages


def matched_values(source, target):
    """A first value map: each CRM value to the Zendesk option of the same name (case aside)."""
    by_label = {label.strip().lower(): value for value, label in target.options}
    return {value: by_label[label.strip().lower()] for value, label in source.options if label.strip().lower() in by_label}
