"""Metadata routes of the CRM sandbox (docs/outside-apis.md#crm-metadata-and-custom-modules): modules (list, get, create
custom module; delete custom module — sandbox-only), fields (list, create), related lists, users (list, get,
update a user's profile, role or status), org.

`DELETE /crm/v8/settings/modules/{api_name}` does not exist in the real API (custom modules are deleted
in the CRM's setup UI, docs/outside-apis.md#crm-extensions); the sandbox offers it so an uninstall can be exercised end
to end. It answers `{"modules": [{"code": "SUCCESS", "details": {"api_name", "id"}, "message": "module deleted",
"status": "success"}]}`.
"""
from flask import g, request

from . import http
from .api import bp, module_or_error
from .http import ApiError, json_response, no_content, request_json
from .schema import public
from .state import TIME_ZONES, RecordError

CREATE_MODULE_CREDITS = 500  # [2nd] (docs/outside-apis.md#crm-api-limits)


def module_json(org, module, with_fields=False):
    meta = dict(module.meta)
    meta["display_field"] = dict(meta["display_field"])
    shown = module.fields.get(meta["display_field"]["api_name"])
    meta["display_field"]["id"] = shown["id"] if shown else None
    if with_fields:
        meta["fields"] = [public(f) for f in module.fields.values()]
        meta["related_lists"] = [related_list_json(module, r) for r in org.related_lists(module)]
    return meta


def related_list_json(module, related):
    other, field = related["module"], related["field"]
    return {"id": field["id"], "sequence_number": str(list(module.fields).index(field["api_name"]) + 1)
            if field["api_name"] in module.fields else "1",
            "display_label": other.meta["plural_label"], "api_name": related["api_name"],
            "module": {"api_name": other.api_name, "id": other.meta["id"]}, "name": other.meta["plural_label"],
            "action": None, "href": f"{module.api_name}/{{ENTITYID}}/{related['api_name']}", "type": "default",
            "field": {"api_name": field["api_name"], "id": field["id"]}, "connectedmodule": None,
            "linkingmodule": None, "visible": True, "customize_sort": False}


@bp.get("/settings/modules")
def list_modules():
    http.require_scope("ZohoCRM", "settings", "READ", "modules")
    return json_response({"modules": [module_json(g.org, m) for m in g.org.modules.values()]})


@bp.get("/settings/modules/<api_name>")
def get_module(api_name):
    http.require_scope("ZohoCRM", "settings", "READ", "modules")
    return json_response({"modules": [module_json(g.org, module_or_error(api_name, 2), with_fields=True)]})


@bp.post("/settings/modules")
def create_module():
    """Create Custom Module (v8 create-custom-module-api): plural_label, singular_label, profiles mandatory;
    api_name optional. Sandbox extra: `display_field` {field_label} and `fields` (settings/fields bodies)
    create the module's fields in the same call."""
    http.require_scope("ZohoCRM", "settings", "CREATE", "modules")
    http.require_admin()
    items = request_json().get("modules")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise ApiError(400, "INVALID_DATA", "invalid data", {"api_name": "modules", "json_path": "$.modules"})
    item = items[0]
    profiles = item.get("profiles")
    if not isinstance(profiles, list) or not profiles:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found",
                       {"api_name": "profiles", "json_path": "$.modules[0].profiles"})
    chosen = []
    for index, ref in enumerate(profiles):
        profile = g.org.profiles.get(str((ref or {}).get("id"))) if isinstance(ref, dict) else None
        if profile is None:
            raise ApiError(400, "INVALID_DATA", "invalid data",
                           {"api_name": "profiles", "json_path": f"$.modules[0].profiles[{index}].id"})
        chosen.append({"name": profile["name"], "id": profile["id"]})
    fields = item.get("fields") or []
    if not isinstance(fields, list):
        raise ApiError(400, "INVALID_DATA", "invalid data", {"api_name": "fields", "json_path": "$.modules[0].fields"})
    try:
        module = g.org.create_custom_module(item.get("singular_label"), item.get("plural_label"), item.get("api_name"),
                                            chosen, item.get("display_field"), fields)
    except RecordError as error:
        raise http.record_error_response(error) from None
    http.charge(CREATE_MODULE_CREDITS - 1)
    return json_response({"modules": [{"code": "SUCCESS", "details": {"id": module.meta["id"], "api_name": module.api_name},
                                       "message": "module created successfully", "status": "success"}]}, 201)


@bp.delete("/settings/modules/<api_name>")
def delete_module(api_name):
    """Sandbox-only (see module docs)."""
    http.require_scope("ZohoCRM", "settings", "DELETE", "modules")
    http.require_admin()
    module = module_or_error(api_name, 2)
    try:
        g.org.delete_custom_module(module)
    except RecordError as error:
        raise ApiError(400, error.code, error.message, error.details) from None
    return json_response({"modules": [{"code": "SUCCESS", "details": {"api_name": module.api_name, "id": module.meta["id"]},
                                       "message": "module deleted", "status": "success"}]})


def _module_param():
    name = request.args.get("module")
    if not name:
        raise http.required_param("module")
    return module_or_error(name)


@bp.get("/settings/fields")
def list_fields():
    http.require_scope("ZohoCRM", "settings", "READ", "fields")
    module = _module_param()
    return json_response({"fields": [public(f) for f in module.fields.values()]})


@bp.get("/settings/fields/<field_id>")
def get_field(field_id):
    http.require_scope("ZohoCRM", "settings", "READ", "fields")
    module = _module_param()
    field = next((f for f in module.fields.values() if f["id"] == field_id), None)
    if field is None:
        raise ApiError(400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 2})
    return json_response({"fields": [public(field)]})


@bp.post("/settings/fields")
def create_fields():
    """Create custom fields: `{"fields": [{field_label, data_type, length, unique, lookup, pick_list_values}]}`."""
    http.require_scope("ZohoCRM", "settings", "CREATE", "fields")
    http.require_admin()
    module = _module_param()
    items = request_json().get("fields")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "fields", "json_path": "$.fields"})
    results = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise RecordError("INVALID_DATA", {"json_path": f"$.fields[{index}]"}, "invalid data")
            field = g.org.create_field(module, item, f"$.fields[{index}]")
            results.append({"code": "SUCCESS", "details": {"id": field["id"], "api_name": field["api_name"]},
                            "message": "field created", "status": "success"})
        except RecordError as error:
            results.append(http.per_record(error))
    failures = sum(r["status"] == "error" for r in results)
    status = 201 if not failures else 400 if failures == len(results) else 207
    return json_response({"fields": results}, status)


@bp.get("/settings/related_lists")
def related_lists():
    http.require_scope("ZohoCRM", "settings", "READ", "related_lists")
    module = _module_param()
    lists = [related_list_json(module, r) for r in g.org.related_lists(module)]
    return json_response({"related_lists": lists}) if lists else no_content()


# ---- users and org -------------------------------------------------------------------------------
USER_TYPES = ("AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "NotConfirmedUsers", "DeletedUsers",
              "ActiveConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins", "CurrentUser")


def user_json(org, user):
    out = dict(user)
    out["Isonline"] = False
    out["id"] = user["id"]
    return out


@bp.get("/users")
def list_users():
    http.require_scope("ZohoCRM", "users", "READ")
    kind = request.args.get("type", "AllUsers")
    if kind not in USER_TYPES:
        raise http.invalid_param("type", supported_values=list(USER_TYPES))
    org = g.org
    if kind == "CurrentUser":
        users = [g.user]
    elif kind in ("AdminUsers", "ActiveConfirmedAdmins"):
        users = [u for u in org.users.values() if org.is_admin(u)]
    elif kind in ("DeactiveUsers", "NotConfirmedUsers", "DeletedUsers"):
        users = []
    else:
        users = list(org.users.values())
    if not users:
        return no_content()
    return json_response({"users": [user_json(org, u) for u in users],
                          "info": {"per_page": 200, "count": len(users), "page": 1, "more_records": False}})


@bp.get("/users/<user_id>")
def get_user(user_id):
    http.require_scope("ZohoCRM", "users", "READ")
    user = g.org.users.get(user_id)
    if user is None:
        return no_content()
    return json_response({"users": [user_json(g.org, user)]})


@bp.put("/users/<user_id>")
def update_user(user_id):
    """Change a user's profile, role or status, as an administrator does in Setup → Users. The body is
    `{"users": [{"profile": {"id"}|"id", "role": {"id"}|"id", "status": "active"|"disabled"}]}`."""
    http.require_scope("ZohoCRM", "users", "UPDATE")
    http.require_admin()
    org, user = g.org, g.org.users.get(user_id)
    if user is None:
        raise http.invalid_param("id", "the user id given seems to be invalid")
    items = request_json().get("users")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise http.required_param("users")
    changes = items[0]
    for key, known in (("profile", org.profiles), ("role", org.roles)):
        if key in changes:
            wanted = changes[key].get("id") if isinstance(changes[key], dict) else changes[key]
            if wanted not in known:
                raise http.invalid_param(key, f"the {key} id given seems to be invalid")
            user[key] = {"name": known[wanted]["name"], "id": wanted}
    if "status" in changes:
        if changes["status"] not in ("active", "disabled"):
            raise http.invalid_param("status")
        user["status"] = changes["status"]
    return json_response({"users": [{"code": "SUCCESS", "details": {"id": user_id}, "message": "User updated",
                                     "status": "success"}]})


@bp.get("/org")
def get_org():
    http.require_scope("ZohoCRM", "org", "READ")
    org = g.org
    admin = org.admin()
    return json_response({"org": [{
        "id": org.id, "company_name": org.company_name, "alias": None, "primary_email": admin["email"],
        "primary_zuid": admin["zuid"], "zgid": org.zgid, "domain_name": f"org{org.id}",
        "time_zone": TIME_ZONES[org.dc], "iso_code": "JPY" if org.dc == "jp" else "USD",
        "currency": "Japanese Yen - JPY" if org.dc == "jp" else "US Dollar - USD",
        "currency_symbol": "¥" if org.dc == "jp" else "$", "country_code": org.dc.upper(),
        "mc_status": False, "gapps_enabled": False, "type": "production", "privacy_settings": True,
        "license_details": {"paid": org.edition != "free", "paid_type": org.edition,
                            "paid_expiry": None, "trial_type": None, "trial_expiry": None,
                            "users_license_purchased": len(org.users)},
        # Sandbox extras (not in the real answer): which data centre serves the org, and its edition.
        "data_center": org.dc, "edition": org.edition,
    }]})
