"""Record list, detail, create, edit and delete pages, and the extension's widgets on detail pages."""
from urllib.parse import urlsplit

from flask import abort, g, jsonify, redirect, render_template, request, url_for

from ..signing import mint_context
from ..state import RecordError
from . import bp, can_see_module, login_required, settings

PAGE_SIZE = 50
WIDGET_MODULES = ("Leads", "Contacts", "Accounts", "Deals")  # the record pages the extension's widgets are on
# The columns a list view shows, like the CRM's default views; custom modules show their first fields.
LIST_COLUMNS = {
    "Leads": ["Full_Name", "Company", "Email", "Phone", "Lead_Status", "Owner"],
    "Contacts": ["Full_Name", "Account_Name", "Email", "Phone", "Owner"],
    "Accounts": ["Account_Name", "Phone", "Website", "Industry", "Owner"],
    "Deals": ["Deal_Name", "Amount", "Stage", "Closing_Date", "Account_Name", "Owner"],
}
# The API's per-record error codes (docs/outside-apis.md#crm-writing-records) in the words a person reads in a form.
PLAIN_ERRORS = {"MANDATORY_NOT_FOUND": "is required.", "INVALID_DATA": "is not valid.",
                "DUPLICATE_DATA": "is already used by another record."}
SYSTEM_FIELDS = ("Created_By", "Modified_By", "Created_Time", "Modified_Time")


def _module(module_name):
    module = g.org.module(module_name)
    if module is None or not can_see_module(g.org, g.user, module):
        abort(404)
    return module


def _record(module, record_id):
    record = module.records.get(record_id)
    if record is None:
        abort(404)
    return record


def list_columns(module):
    names = LIST_COLUMNS.get(module.api_name)
    if names is None:
        names = [n for n, f in module.fields.items() if n not in SYSTEM_FIELDS and not f["read_only"]][:5]
    return [module.fields[n] for n in names if n in module.fields]


def title_field(module):
    return module.meta["display_field"]["api_name"]


def shown(value):
    """A stored field value as text: lookups by their name, empty as a dash."""
    if isinstance(value, dict):
        return value.get("name") or value.get("id") or ""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


bp.add_app_template_filter(shown, "crm_shown")


@bp.get("/crm/tab/<module_name>")
@login_required
def record_list(module_name):
    module = _module(module_name)
    records = list(module.records.values())
    records.reverse()  # newest first, as the CRM's default sort by created time
    page = max(request.args.get("page", 1, type=int), 1)
    pages = max((len(records) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    start = (page - 1) * PAGE_SIZE
    return render_template("ui/record_list.html", module=module, columns=list_columns(module),
                           title_field=title_field(module), records=records[start:start + PAGE_SIZE],
                           page=page, pages=pages, total=len(records), can_write=g.org.can_write(g.user))


@bp.get("/crm/tab/<module_name>/<record_id>")
@login_required
def record_detail(module_name, record_id):
    module = _module(module_name)
    record = _record(module, record_id)
    return render_template("ui/record_detail.html", module=module, record=record, title_field=title_field(module),
                           fields=_detail_fields(module), widgets=_widgets(module, record),
                           new_ticket=request.args.get("action") == "new_ticket", extension_origin=extension_origin(),
                           related=_related(module, record), can_write=g.org.can_write(g.user))


@bp.get("/crm/tab/<module_name>/<record_id>/widgets")
@login_required
def record_widgets(module_name, record_id):
    """The page's widget URLs with a freshly signed context: what the page loads its iframes with again
    when it opens the popup or reloads its widgets (static/record.js), as the CRM re-renders them."""
    module = _module(module_name)
    widgets = _widgets(module, _record(module, record_id))
    if widgets is None:
        abort(404)
    response = jsonify(widgets)
    response.headers["Cache-Control"] = "no-store"
    return response


def extension_origin():
    """The extension's origin: the only one whose messages the record page listens to."""
    parts = urlsplit(settings().extension_url)
    return f"{parts.scheme}://{parts.netloc}"


def _detail_fields(module):
    """Every field but the system ones, which the page shows in its footer line from the record."""
    return [f for n, f in module.fields.items() if n not in SYSTEM_FIELDS]


def _related(module, record):
    """Related lists from lookups in other modules (e.g. a Contact's Deals, an Account's Zendesk Tickets)."""
    lists = []
    for related in g.org.related_lists(module):
        other, lookup = related["module"], related["field"]
        if not can_see_module(g.org, g.user, other):
            continue
        rows = [r for r in other.records.values() if (r.get(lookup["api_name"]) or {}).get("id") == record["id"]]
        lists.append({"module": other, "label": other.meta["plural_label"], "rows": rows[:20], "count": len(rows),
                      "title_field": title_field(other)})
    return lists


def _widgets(module, record):
    """The extension's iframes for this page, or None when it isn't installed or the user is outside its scope."""
    install = g.install
    if module.api_name not in WIDGET_MODULES or install is None or not install.allows(g.org, g.user):
        return None
    base, token = settings().extension_url, widget_context(module.api_name, record["id"])
    path = f"{base}/record/{module.api_name}/{record['id']}/tickets"
    return {"tickets": f"{path}?ctx={token}", "new_ticket": f"{path}/new?ctx={token}"}


def widget_context(entity=None, entity_id=None):
    """The signed context our iframes get (docs/architecture.md#widget-context), minted as the CRM side does."""
    user = g.user
    claims_user = {"id": user["id"], "name": user["full_name"], "email": user["email"],
                   "profile": user["profile"]["name"], "is_admin": g.org.is_admin(user), "locale": user["locale"],
                   "time_zone": user["time_zone"]}
    return mint_context(g.install.context_secret, g.org.id, claims_user, entity, entity_id)


# ---- writes, through the same Org methods the API uses (so notifications fire) ------------------
@bp.route("/crm/tab/<module_name>/create", methods=["GET", "POST"])
@login_required
def record_create(module_name):
    module = _module(module_name)
    _require_write()
    values, error = {"Owner": g.org.user_ref(g.user)}, None
    if request.method == "POST":
        values = _form_values(module)
        [result] = g.org.insert_records(module, [values], g.user)
        if not isinstance(result, RecordError):
            return redirect(url_for("crm_ui.record_detail", module_name=module.api_name, record_id=result["id"]))
        error = result
    return _edit_form(module, None, values, error)


@bp.route("/crm/tab/<module_name>/<record_id>/edit", methods=["GET", "POST"])
@login_required
def record_edit(module_name, record_id):
    module = _module(module_name)
    record = _record(module, record_id)
    _require_write()
    values, error = record, None
    if request.method == "POST":
        values = _form_values(module)
        [result] = g.org.update_records(module, [dict(values, id=record["id"])], g.user)
        if not isinstance(result, RecordError):
            return redirect(url_for("crm_ui.record_detail", module_name=module.api_name, record_id=record["id"]))
        error = result
    return _edit_form(module, record, values, error)


@bp.post("/crm/tab/<module_name>/<record_id>/delete")
@login_required
def record_delete(module_name, record_id):
    module = _module(module_name)
    _record(module, record_id)
    _require_write()
    g.org.delete_records(module, [record_id])
    return redirect(url_for("crm_ui.record_list", module_name=module.api_name))


def _require_write():
    if not g.org.can_write(g.user):
        abort(403)


def editable_fields(module):
    return [f for f in module.fields.values() if not f["read_only"] and f["api_name"] not in SYSTEM_FIELDS]


def _form_values(module):
    """Form strings to API values: empty → null, checkbox → boolean, lookups by id. Fields missing from
    the form are left out, so they keep their value."""
    values = {}
    for spec in editable_fields(module):
        name = spec["api_name"]
        if spec["data_type"] == "boolean":
            values[name] = request.form.get(name) == "on"
            continue
        if name not in request.form:
            continue
        raw = request.form[name].strip()
        values[name] = {"id": raw} if raw and spec["data_type"] in ("lookup", "ownerlookup") else (raw or None)
    return values


def _edit_form(module, record, values, error):
    choices = {}
    for spec in editable_fields(module):
        if spec["data_type"] == "ownerlookup":
            choices[spec["api_name"]] = [(u["id"], u["full_name"]) for u in g.org.users.values()]
        elif spec["data_type"] == "lookup":
            target = g.org.module(spec["lookup"]["module"]["api_name"])
            field_name = title_field(target)
            choices[spec["api_name"]] = sorted(((r["id"], shown(r.get(field_name))) for r in target.records.values()),
                                               key=lambda pair: pair[1].lower())
    message = None
    if error is not None:
        label = module.fields.get(error.details.get("api_name"), {}).get("field_label") or "This record"
        message = f"{label} {PLAIN_ERRORS.get(error.code, error.message)}"
    return render_template("ui/record_form.html", module=module, record=record, values=values or {},
                           fields=editable_fields(module), choices=choices, error=message), 422 if error else 200
