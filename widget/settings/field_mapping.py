"""The wizard's "Field mapping" step (F11): one chosen CRM module at a time, its fields against the
Zendesk user's or organization's, both read live. The standard pairs are shown as such and kept; the
admin's own pairs travel in the form (add, remove, change, values of a picklist) until Save, which writes
them only when every pair validates (widget/sync/field_rules.py). Preview shows the module's first CRM
record as it would be written to Zendesk with the pairs as they are on the page, saved or not.
"""
from flask import g, make_response, render_template, request
from flask_babel import lazy_gettext as _l

from ..clients.http import ServiceError
from ..connections import connection, crm_client, zendesk_client
from ..context import widget_view
from ..extensions import db
from ..models import FieldMapping, Link
from ..numbers import whole_number
from ..sync import field_rules, mapping, queue, runs
from ..sync.engine import sync_settings
from ..sync.mapping_rows import ensure_default_mappings
from . import drafts
from . import bp
from .forms import WidgetForm
from .sync_views import MODULE_LABELS
from .wizard import MODULES, PICKER_POLICY, sync_settings_step

DIRECTION_LABELS = {"to_zendesk": _l("CRM → Zendesk"), "to_crm": _l("Zendesk → CRM"), "both": _l("Both ways")}
# Zendesk's own names for the user's and organization's standard fields (its Japanese UI says 名前, メール...).
ZENDESK_LABELS = {"name": _l("Name"), "email": _l("Email"), "phone": _l("Phone"), "details": _l("Details"),
                  "notes": _l("Notes"), "organization_id": _l("Organization"), "domain_names": _l("Domains")}


class FieldMappingForm(WidgetForm):
    """No fields of its own beyond the token: the pairs travel as numbered inputs (rows-N-...)."""


class Catalog:
    """Both sides' fields of a module, read live with a short timeout; `problem` says why they are missing."""

    def __init__(self, module):
        self.module, self.crm, self.zendesk, self.problem = module, {}, {}, None

    def load(self, installation):
        crm_grant, zendesk_grant = connection(installation, "crm"), connection(installation, "zendesk")
        if not (crm_grant and crm_grant.status == "active" and zendesk_grant and zendesk_grant.status == "active"):
            self.problem = _l("Connect Zoho CRM and authorize Zendesk first: the fields are read from them.")
            return self
        try:
            self.crm = field_rules.crm_catalog(crm_client(installation, crm_grant, policy=PICKER_POLICY)
                                               .list_fields(self.module))
        except ServiceError as error:
            self.problem = _l("Zoho CRM did not answer (%(reason)s). Try again in a moment.", reason=error.message)
            return self
        client = zendesk_client(installation, zendesk_grant, policy=PICKER_POLICY)
        try:
            custom = client.organization_fields() if self.module == "Accounts" else client.user_fields()
        except ServiceError as error:
            self.problem = _l("Zendesk did not answer (%(reason)s). Try again in a moment.", reason=error.message)
            return self
        self.zendesk = field_rules.zendesk_catalog(self.module, custom, ZENDESK_LABELS)
        return self

    def crm_label(self, name):
        info = self.crm.get(name)
        return info.label if info else name

    def zendesk_label(self, name):
        info = self.zendesk.get(name)
        return info.label if info else str(ZENDESK_LABELS.get(name, name))

    def value_table(self, pair):
        """(CRM field, Zendesk field) when the pair maps picklist values, else None."""
        source, target = self.crm.get(pair.crm_field), self.zendesk.get(pair.zendesk_field)
        if source and target and source.kind == target.kind == "choice":
            return source, target
        return None


def _module(wanted=None):
    chosen = [name for name in (sync_settings(g.installation).modules or MODULES) if name in MODULES]
    wanted = wanted or request.values.get("module")
    return wanted if wanted in chosen else chosen[0], chosen


def _saved_pairs(module):
    ensure_default_mappings(g.installation)
    rows = db.session.scalars(db.select(FieldMapping).filter_by(installation_id=g.installation.id, module=module)
                              .order_by(FieldMapping.standard.desc(), FieldMapping.id)).all()
    return [field_rules.Pair(r.crm_field, r.zendesk_field, r.direction, dict(r.value_map or {}), r.standard)
            for r in rows]


def _posted_pairs(module, catalog, form):
    """The standard pairs as saved, then the admin's pairs as the form (or a draft of it) has them."""
    pairs = [pair for pair in _saved_pairs(module) if pair.standard]
    count = whole_number(form.get("count")) or 0
    for index in range(min(count, 200)):
        prefix = f"rows-{index}-"
        if prefix + "crm" not in form:
            continue  # removed
        pair = field_rules.Pair(form.get(prefix + "crm", ""), form.get(prefix + "zendesk", ""),
                                form.get(prefix + "direction", ""))
        table = catalog.value_table(pair)
        if table and form.get(prefix + "values-for") != f"{pair.crm_field} {pair.zendesk_field}":
            # The pair was just formed or changed: start from the values of the same name.
            pair.value_map = field_rules.matched_values(*table)
        elif table:
            values = [(form[key], form.get(key.replace("-from-", "-to-"), "")) for key in form
                      if key.startswith(prefix + "from-")]
            pair.value_map = {crm_value: zendesk_value for crm_value, zendesk_value in values if zendesk_value}
        pairs.append(pair)
    return pairs


def _preview(module, pairs):
    """The module's first CRM record and what it would set in Zendesk: (record name, [(label, value)])."""
    fields = [mapping.Field(p.crm_field, p.zendesk_field, p.direction, p.value_map) for p in pairs]
    client = crm_client(g.installation, policy=PICKER_POLICY)
    record = next(iter(client.list_records(module, mapping.crm_fields(module, fields), per_page=1)), None)
    if record is None:
        return None
    account = record.get("Account_Name")
    org_ids = {}
    if isinstance(account, dict) and account.get("id"):
        link = db.session.scalar(db.select(Link).filter_by(installation_id=g.installation.id, kind="organization",
                                                           crm_module="Accounts", crm_id=str(account["id"])))
        org_ids = {str(account["id"]): link.zendesk_id} if link else {}
    payload = mapping.to_zendesk(module, record, fields, org_ids)
    name = mapping.crm_value(record, "Account_Name" if module == "Accounts" else mapping.FULL_NAME)
    written = mapping.view_of_zendesk(payload, [f for f in fields if f.direction in mapping.TO_ZENDESK])
    return {"name": name, "values": [(pair, written[pair.zendesk_field]) for pair in pairs
                                     if pair.direction in mapping.TO_ZENDESK]}


def _render(form, module, chosen, catalog, pairs, found=None, saved=False, preview=None, error=None,
            reapplied=False, unsaved=False):
    template = "settings/wizard/_field_mapping.html" if request.htmx else "settings/wizard/field_mapping.html"
    response = make_response(render_template(
        template, form=form, module=module, chosen=chosen, catalog=catalog, pairs=pairs, found=found or {},
        saved=saved, preview=preview, error=error, module_labels=MODULE_LABELS, directions=DIRECTION_LABELS,
        reapplied=reapplied, unsaved=unsaved,
        first_sync_done=sync_settings(g.installation).first_sync_done_at is not None,
        pairable_crm=field_rules.pairable(catalog.crm), pairable_zendesk=field_rules.pairable(catalog.zendesk),
        context_token=g.context_token))
    response.vary.add("HX-Request")
    return response


@bp.get("/wizard/mapping")
@widget_view(admin=True)
def wizard_field_mapping():
    """The step for one chosen module (`?module=`), with the pairs the admin left unsaved, else the saved ones."""
    return field_mapping_step()


def field_mapping_step(wanted=None):
    module, chosen = _module(wanted)
    catalog = Catalog(module).load(g.installation)
    draft = drafts.restored(f"mapping:{module}")
    if draft is not None and not catalog.problem:
        return _render(FieldMappingForm(formdata=None), module, chosen, catalog,
                       _posted_pairs(module, catalog, draft), unsaved=True)
    return _render(FieldMappingForm(formdata=None), module, chosen, catalog, _saved_pairs(module))


@bp.post("/wizard/mapping")
@widget_view(admin=True)
def change_wizard_field_mapping():
    """One move (add a pair, remove one, show the values of a changed pair, preview) or Save, which
    writes the module's pairs only when every one of them validates. Back, or another module's tab, keeps
    the pairs as they are, unsaved, for when the admin returns."""
    module, chosen = _module()
    form, catalog = FieldMappingForm(), Catalog(module).load(g.installation)
    pairs = _posted_pairs(module, catalog, request.form)
    action, _, value = request.form.get("action", "").partition(":")
    if not form.validate_on_submit() or catalog.problem:
        return _render(form, module, chosen, catalog, pairs)
    if action in ("back", "module"):
        drafts.keep(f"mapping:{module}")
        return sync_settings_step() if action == "back" else field_mapping_step(value)
    if action == "discard":
        drafts.forget(f"mapping:{module}")
        return field_mapping_step(module)
    index = whole_number(value, maximum=len(pairs) - 1) if action == "remove" else None
    if action == "add":
        pairs.append(field_rules.Pair("", "", "to_zendesk"))
    elif index is not None and not pairs[index].standard:
        pairs.pop(index)
    elif action in ("preview", "save"):
        found = field_rules.problems(pairs, catalog.crm, catalog.zendesk)
        if found:
            return _render(form, module, chosen, catalog, pairs, found,
                           error=_l("Nothing was saved: correct the pairs marked below."))
        if action == "save":
            _save(module, pairs)
            drafts.forget(f"mapping:{module}")
            reapply = request.form.get("reapply") == "yes" and sync_settings(g.installation).first_sync_done_at
            if reapply:  # the records synced before follow the new pairs too, rewritten in batches
                run = runs.start_reapply(g.installation, module)
                queue.enqueue(runs.JOBS["reapply"], g.installation.id, run.id)
            return _render(form, module, chosen, catalog, pairs, saved=True, reapplied=bool(reapply))
        try:
            return _render(form, module, chosen, catalog, pairs, preview=_preview(module, pairs) or {"empty": True})
        except ServiceError as error:
            return _render(form, module, chosen, catalog, pairs,
                           error=_l("Zoho CRM did not answer (%(reason)s). Try again in a moment.", reason=error.message))
    return _render(form, module, chosen, catalog, pairs)


def _save(module, pairs):
    """The module's own pairs replaced by the page's (the standard ones stay); records written from now on
    follow them."""
    db.session.execute(db.delete(FieldMapping).where(FieldMapping.installation_id == g.installation.id,
                                                     FieldMapping.module == module, FieldMapping.standard.is_(False)))
    for pair in pairs:
        if not pair.standard:
            db.session.add(FieldMapping(installation_id=g.installation.id, module=module, crm_field=pair.crm_field,
                                        zendesk_field=pair.zendesk_field, direction=pair.direction,
                                        value_map=pair.value_map, standard=False))
    db.session.commit()
