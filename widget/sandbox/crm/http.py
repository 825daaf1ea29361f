"""What every `/crm/v8` request of the CRM sandbox goes through: data-centre selection, the
`Zoho-oauthtoken` check, scopes, edition limits (concurrency, sub-concurrency, daily credits), fault
injection, and the request-level error envelope `{"code", "details", "message", "status": "error"}`
(docs/outside-apis.md#crm-errors).
"""
import json
import math
import random
import time

from flask import Response, current_app, g, request

from .state import SUB_CONCURRENCY, RecordError


class ApiError(Exception):
    """Abort a request with Zoho's request-level error envelope."""

    def __init__(self, status, code, message, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}

    def body(self):
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def authentication_failure():
    return ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed")


def invalid_token():
    # Verbatim from real logs (docs/outside-apis.md#crm-errors).
    return ApiError(401, "INVALID_TOKEN", "invalid oauth token")


def scope_mismatch():
    # NB: v7/v8 pages list OAUTH_SCOPE_MISMATCH as 401, not 403 (docs/outside-apis.md#crm-errors).
    return ApiError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")


def no_permission(permission):
    return ApiError(403, "NO_PERMISSION", "permission denied", {"permissions": [permission]})


def invalid_url():
    return ApiError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")


def invalid_module(index=0):
    return ApiError(400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": index})


# Query-parameter errors name the parameter `param_name` (the v8 OpenAPI examples, e.g.
# https://github.com/zoho/crm-oas/blob/main/v8.0/record/operations/getRecords/examples/response-400-limitexceeded.md).
def required_param(name):
    return ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param_name": name})


def invalid_param(name, message="invalid data", **details):
    return ApiError(400, "INVALID_DATA", message, {"param_name": name, **details})


def limit_exceeded(name, limit, message="limit exceeded", path=None):
    details = {"limit": limit}
    details.update({"api_name": name, "json_path": path} if path else {"param_name": name})
    return ApiError(400, "LIMIT_EXCEEDED", message, details)


def record_error_response(error):
    """A RecordError raised outside a batch (e.g. creating a module) as a request-level error."""
    return ApiError(400, error.code, error.message, error.details)


def json_response(payload, status=200, headers=None):
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["Content-Type"] = "application/json;charset=UTF-8"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def no_content():
    """Empty result: 204 with no body and no Content-Type (status-codes page; docs/outside-apis.md#crm-reading-records).
    Zoho's SDK parses any answer that has a Content-Type by it (text/html: as a file download, which fails on an empty
    body), and returns its "no content" answer only when there is none
    (zohocrmsdk/src/com/zoho/crm/api/util/common_api_handler.py, `api_call`)."""
    return bare(204)


def bare(status):
    """A body-less answer (204, 304) without the Content-Type Flask gives every Response."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response


def state():
    return current_app.config["SANDBOX_STATE"]


def base_url():
    return request.host_url.rstrip("/")


def api_domain(dc):
    """The API domain of data centre `dc` as clients reach this sandbox (see package docs)."""
    return f"{base_url()}/api/{dc}"


def accounts_server(dc):
    return f"{base_url()}/accounts/{dc}"


def request_json():
    # NB: Zoho reads the body as JSON whatever the Content-Type (the official SDK sends none for JSON).
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_DATA", "body", {"expected_data_type": "jsonobject"})
    return data


# ---- authentication and scopes -------------------------------------------------------------------
def authenticate():
    """Set g.org, g.user and g.grant from `Authorization: Zoho-oauthtoken …` on g.dc's API domain."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Zoho-oauthtoken "):
        raise authentication_failure()
    # NB: tokens belong to one data centre; another DC's token is simply unknown here (docs/outside-apis.md#crm-tokens).
    grant = state().access_grant(g.dc, header[len("Zoho-oauthtoken "):].strip())
    if grant is None:
        raise invalid_token()
    org = state().data_centres[g.dc].orgs.get(grant["org_id"])
    if org is None or grant["user_id"] not in org.users:
        raise invalid_token()
    g.org, g.user, g.grant = org, org.users[grant["user_id"]], grant


OPERATIONS = {"READ": {"READ"}, "CREATE": {"CREATE", "WRITE"}, "UPDATE": {"UPDATE", "WRITE"},
              "DELETE": {"DELETE", "WRITE"}}


def has_scope(service, group, operation, resource=None):
    """Whether the grant's scopes cover `service.group[.resource].operation` (scopes.html grammar,
    docs/outside-apis.md#crm-scopes)."""
    accepted = OPERATIONS[operation] | {"ALL"}
    for scope in g.grant["scope"].replace(",", " ").split():
        parts = scope.split(".")
        if len(parts) < 3 or parts[0].lower() != service.lower() or parts[1].lower() != group.lower():
            continue
        if len(parts) == 3 and parts[2].upper() in accepted:
            return True
        if len(parts) == 4 and resource and parts[2].lower() == resource.lower() and parts[3].upper() in accepted:
            return True
    return False


def require_scope(service, group, operation, resource=None):
    if not has_scope(service, group, operation, resource):
        raise scope_mismatch()


def require_module_scope(module, operation):
    """Records scopes: ZohoCRM.modules.ALL/READ…, ZohoCRM.modules.{module}.{op}, ZohoCRM.modules.custom.* ."""
    name = module.api_name
    if has_scope("ZohoCRM", "modules", operation, name):
        return
    if module.meta["generated_type"] == "custom" and has_scope("ZohoCRM", "modules", operation, "custom"):
        return
    raise scope_mismatch()


def require_write_permission():
    if not g.org.can_write(g.user):
        raise no_permission("Crm_Implied_Edit")


def require_admin():
    if not g.org.is_admin(g.user):
        raise no_permission("Crm_Implied_Customize_Zoho_CRM")


# ---- limits and faults ---------------------------------------------------------------------------
def too_many_requests(details):
    # NB: exact message/details text of TOO_MANY_REQUESTS is not documented (docs/outside-apis.md#crm-open-points);
    # the envelope and status follow docs/outside-apis.md#crm-errors and docs/outside-apis.md#crm-api-limits.
    return ApiError(429, "TOO_MANY_REQUESTS", "too many requests continuously", details)


def enter_limits():
    """Take a concurrency slot and one credit, or answer 429 (docs/outside-apis.md#crm-api-limits). Released in
    `leave_limits`."""
    if not state().limits_enabled:
        return
    org = g.org
    with org.concurrency_lock:
        if org.in_flight >= org.concurrency_limit():
            raise too_many_requests({"limit_type": "concurrency", "limit": org.concurrency_limit()})
        org.in_flight += 1
        g.limit_org = org
    if org.credits_used() + 1 > org.daily_credits():
        raise too_many_requests({"limit_type": "credits", "limit": org.daily_credits()})
    org.spend_credits(1)


def enter_heavy(records=None):
    """Sub-concurrency for heavy calls: writes of more than 10 records, COQL (docs/outside-apis.md#crm-api-limits)."""
    if not state().limits_enabled or (records is not None and records <= 10):
        return
    org = g.org
    with org.concurrency_lock:
        if org.heavy_in_flight >= SUB_CONCURRENCY:
            raise too_many_requests({"limit_type": "sub_concurrency", "limit": SUB_CONCURRENCY})
        org.heavy_in_flight += 1
        g.heavy_org = org


def charge(extra):
    """Credits beyond the one every call costs (writes: 1 per 10 records [2nd], COQL by LIMIT)."""
    if extra > 0 and state().limits_enabled:
        g.org.spend_credits(extra)


def write_cost(count):
    return max(1, math.ceil(count / 10))


def leave_limits():
    org = g.pop("limit_org", None)
    if org is not None:
        with org.concurrency_lock:
            org.in_flight -= 1
    org = g.pop("heavy_org", None)
    if org is not None:
        with org.concurrency_lock:
            org.heavy_in_flight -= 1


def inject_error():
    """Maybe answer 500 INTERNAL_ERROR, or 429 TOO_MANY_REQUESTS (`rate_limit_rate`), before the handler,
    so a failed call changes nothing."""
    roll = random.random()
    if roll < state().faults["error_rate"]:
        raise ApiError(500, "INTERNAL_ERROR", "Internal Server Error")
    if roll - state().faults["error_rate"] < state().faults.get("rate_limit_rate", 0):
        raise too_many_requests({"limit_type": "injected"})


def inject_latency(response):
    """Added latency, spent after the handler and before the concurrency slots are released, so slow
    calls overlap the way slow real calls do."""
    if state().faults["latency"]:
        time.sleep(state().faults["latency"])
    return response


def add_credit_headers(response):
    """`X-API-CREDITS-REMAINING` appears once half the daily credits are used ([2nd],
    docs/outside-apis.md#crm-api-limits)."""
    org = getattr(g, "org", None)
    if org is not None:
        used, total = org.credits_used(), org.daily_credits()
        if used >= total / 2:
            response.headers["X-API-CREDITS-REMAINING"] = str(max(total - used, 0))
    return response


def per_record(error):
    """A RecordError in its batch slot."""
    return {"code": error.code, "details": error.details, "message": error.message, "status": "error"}


def batch_status(results, success_status):
    """201/200 when all succeeded, 207 when mixed, 400 when all failed (docs/outside-apis.md#crm-writing-records;
    all-failed per the per-endpoint 'Possible Errors' lists, which answer a failed single-record call with 400)."""
    failures = sum(isinstance(r, RecordError) for r in results)
    if failures == 0:
        return success_status
    return 400 if failures == len(results) else 207
