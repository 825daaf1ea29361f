"""The `/crm/v8` records API of the CRM sandbox, at `{base}/api/{dc}/crm/v8/...` (docs/outside-apis.md#zoho-crm):
list with page/page_token, get one, insert, update, upsert, delete, search, COQL and related records.

The blueprint `bp` also carries the metadata and notification routes (metadata.py, watch.py); its
`before_request` authenticates, applies edition limits and injects faults for every route.
"""
import secrets
from bisect import bisect_left, bisect_right
from datetime import datetime
from email.utils import parsedate_to_datetime

from flask import Blueprint, abort, g, request

from . import http
from .http import ApiError, json_response, no_content, per_record, request_json
from .query import CoqlQuery, QueryError, parse_criteria
from .state import DATA_CENTRES, MAX_RECORDS_PER_CALL, PAGE_TOKEN_MAX_RECORDS, PAGE_TOKEN_SECONDS, RecordError

bp = Blueprint("crm_api", __name__, url_prefix="/api/<dc>/crm/v8")

MAX_FIELDS = 50
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
SEARCH_LIMIT = 2000
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")
NOT_MODIFIED = object()  # list_records' answer for If-Modified-Since with nothing newer (304)


@bp.url_value_preprocessor
def pick_data_centre(endpoint, values):
    g.dc = values.pop("dc", None)
    if g.dc not in DATA_CENTRES:
        abort(404)


@bp.before_request
def guard():
    http.authenticate()
    http.enter_limits()
    http.inject_error()


bp.after_request(http.inject_latency)


@bp.teardown_request
def release(error=None):
    http.leave_limits()


def module_or_error(name, index=0):
    module = g.org.module(name)
    if module is None or not module.meta["api_supported"]:
        raise http.invalid_module(index)
    return module


# ---- rendering -----------------------------------------------------------------------------------
def render(record, fields=None):
    """A record as the API shows it: all public keys, or only `fields` (plus `id`)."""
    if fields is None:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        out.update({"$approval_state": "approved", "$editable": True, "$process_flow": False})
        return out
    out = {name: record.get(name) for name in fields if name in record}
    out["id"] = record["id"]
    return out


def success_details(record):
    return {"Modified_Time": record["Modified_Time"],
            "Modified_By": {"name": record["Modified_By"]["name"], "id": record["Modified_By"]["id"]},
            "Created_Time": record["Created_Time"], "id": record["id"],
            "Created_By": {"name": record["Created_By"]["name"], "id": record["Created_By"]["id"]},
            "$approval_state": "approved"}


def success(record, message):
    return {"code": "SUCCESS", "details": success_details(record), "message": message, "status": "success"}


def parse_fields(module, required=True):
    raw = request.args.get("fields")
    if not raw:
        if required:
            raise http.required_param("fields")
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) > MAX_FIELDS:
        raise http.limit_exceeded("fields", MAX_FIELDS)
    # NB: unknown field names are left out of the answer rather than refused.
    return [n for n in names if n in module.fields or n == "id"]


def parse_int(name, default, minimum=1, maximum=None):
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise http.invalid_param(name)
    if maximum is not None and int(raw) > maximum:
        # NB: [unverified] detail keys; the docs give the maximum only.
        raise http.invalid_param(name, maximum=maximum)
    return int(raw)


# ---- list ----------------------------------------------------------------------------------------
def sort_key(sort_by):
    if sort_by == "id":
        return lambda r: (r["id"],)
    stamp = "_created" if sort_by == "Created_Time" else "_modified"
    return lambda r: (r[stamp], r["id"])


def ordered(module, sort_by, descending, predicate=None):
    records = [r for r in module.records.values() if predicate is None or predicate(r)]
    if sort_by == "id":  # insertion order is id order
        return records[::-1] if descending else records
    return sorted(records, key=sort_key(sort_by), reverse=descending)


def _modified_since():
    raw = request.headers.get("If-Modified-Since")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        try:
            return parsedate_to_datetime(raw).timestamp()
        except (TypeError, ValueError):
            raise ApiError(400, "INVALID_DATA", "invalid data", {"header": "If-Modified-Since"}) from None


def list_records(module):
    args = request.args
    _refuse_page_with_page_token()
    ids = [i.strip() for i in args.get("ids", "").split(",") if i.strip()]
    fields = parse_fields(module, required=not ids)
    per_page = parse_int("per_page", MAX_PER_PAGE, maximum=MAX_PER_PAGE)
    sort_by = args.get("sort_by", "id")
    if sort_by not in SORT_FIELDS:
        raise http.invalid_param("sort_by", supported_values=list(SORT_FIELDS))
    sort_order = args.get("sort_order", "desc")
    if sort_order not in ("asc", "desc"):
        raise http.invalid_param("sort_order", supported_values=["asc", "desc"])
    since = _modified_since()
    predicate = None
    if ids:
        wanted = set(ids)
        predicate = lambda r: r["id"] in wanted  # noqa: E731
    if since is not None:
        inner = predicate
        predicate = lambda r: r["_modified"] > since and (inner is None or inner(r))  # noqa: E731
        if not any(r["_modified"] > since for r in module.records.values()):
            return NOT_MODIFIED
    records = ordered(module, sort_by, sort_order == "desc", predicate)
    bound = (module.api_name, tuple(fields or ()), sort_by, sort_order, tuple(ids))
    chunk, paging = _page_of(records, bound, sort_by, sort_order == "desc", per_page)
    if not chunk:
        return None
    info = {"call": False, **paging, "sort_by": sort_by, "sort_order": sort_order, "email": False}
    return {"data": [render(r, fields) for r in chunk], "info": info}


def _refuse_page_with_page_token():
    if "page" in request.args and "page_token" in request.args:
        raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "ambiguity while processing the request",
                       {"ambiguity_due_to": ["page", "page_token"]})


def _page_of(records, bound, sort_by, descending, per_page):
    """The page asked for (`page`, or the one after a `page_token`) of the ordered `records`, and its
    paging info. `page` reaches the first 2000 records, `page_token` the rest (docs/outside-apis.md#crm-reading-records,
    docs/outside-apis.md#crm-related-records)."""
    token_in = request.args.get("page_token")
    if token_in:
        start, page = _resume(token_in, bound, records, sort_by, descending)
    else:
        page = parse_int("page", 1)
        if page * per_page > DISCRETE_LIMIT:
            # NB: [unverified] message wording; code and rule per get-records docs
            # (docs/outside-apis.md#crm-reading-records).
            raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                           "you can fetch only 2000 records using page param; use page_token param to fetch more",
                           {"limit": DISCRETE_LIMIT})
        start = (page - 1) * per_page
    chunk = records[start:start + per_page]
    more = start + per_page < len(records)
    info = {"per_page": per_page, "next_page_token": None, "count": len(chunk), "page": page,
            "previous_page_token": token_in or None, "page_token_expiry": None, "more_records": more}
    if more and chunk:
        token, expires = _issue_page_token(bound, sort_key(sort_by)(chunk[-1]), page, start + len(chunk))
        info["next_page_token"], info["page_token_expiry"] = token, g.org.iso(expires)
    return chunk, info


def _issue_page_token(bound, last_key, page, served):
    now = g.org.now()
    token = secrets.token_hex(16)
    with g.org.lock:
        for old in [t for t, v in g.org.page_tokens.items() if v["expires"] <= now]:
            del g.org.page_tokens[old]
        g.org.page_tokens[token] = {"user_id": g.user["id"], "bound": bound, "last_key": last_key, "page": page,
                                    "served": served, "expires": now + PAGE_TOKEN_SECONDS}
    return token, now + PAGE_TOKEN_SECONDS


def _resume(token, bound, records, sort_by, descending):
    """Where a page_token continues: the record after the last one served (keyset, so writes in between
    neither skip nor repeat records). Errors per get-records docs (docs/outside-apis.md#crm-reading-records)."""
    saved = g.org.page_tokens.get(token)
    if saved is None or saved["user_id"] != g.user["id"]:
        raise http.invalid_param("page_token")
    if saved["expires"] <= g.org.now():
        raise ApiError(400, "EXPIRED_VALUE", "Page token expired",
                       {"api_name": "page_token", "json_path": "$.query.page_token"})
    if saved["bound"] != bound:
        raise ApiError(400, "TOKEN_BOUND_DATA_MISMATCH", "the given params do not match the page_token's",
                       {"param_name": "page_token"})
    if saved["served"] >= PAGE_TOKEN_MAX_RECORDS:
        raise ApiError(400, "PAGINATION_LIMIT_EXCEEDED", "you can fetch only 100000 records using page_token",
                       {"limit": PAGE_TOKEN_MAX_RECORDS})
    keys = [sort_key(sort_by)(r) for r in records]
    if descending:
        ascending = keys[::-1]
        start = len(keys) - bisect_left(ascending, saved["last_key"])
    else:
        start = bisect_right(keys, saved["last_key"])
    return start, saved["page"] + 1


# ---- routes: records -----------------------------------------------------------------------------
@bp.get("/<module_name>")
def get_records(module_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "READ")
    result = list_records(module)
    if result is NOT_MODIFIED:
        return http.bare(304)
    return json_response(result) if result else no_content()


@bp.get("/<module_name>/<record_id>")
def get_record(module_name, record_id):
    module = module_or_error(module_name)
    http.require_module_scope(module, "READ")
    record = module.records.get(record_id)
    if record is None:
        return no_content()  # NB: a missing record answers 204 like an empty list
    return json_response({"data": [render(record)]})


def batch_body(path="data"):
    body = request_json()
    items = body.get(path)
    if not isinstance(items, list) or not items:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": path, "json_path": f"$.{path}"})
    if len(items) > MAX_RECORDS_PER_CALL:
        raise http.limit_exceeded(path, MAX_RECORDS_PER_CALL, path=f"$.{path}")
    http.enter_heavy(len(items))
    http.charge(http.write_cost(len(items)) - 1)
    return body, items


def _check_fields(module, names, key):
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "INVALID_DATA", "invalid data", {"api_name": key, "json_path": f"$.{key}"})
    allowed = set(module.duplicate_fields())
    for index, name in enumerate(names):
        if name not in allowed:
            # Only system duplicate-check fields and unique fields may be listed
            # (docs/outside-apis.md#crm-writing-records).
            raise ApiError(400, "INVALID_DATA", "invalid data",
                           {"api_name": name, "json_path": f"$.{key}[{index}]"})
    return names


@bp.post("/<module_name>")
def insert_records(module_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "CREATE")
    http.require_write_permission()
    body, items = batch_body()
    check = _check_fields(module, body.get("duplicate_check_fields"), "duplicate_check_fields") or ()
    results = g.org.insert_records(module, items, g.user, check)
    answer = [per_record(r) if isinstance(r, RecordError) else success(r, "record added") for r in results]
    return json_response({"data": answer}, http.batch_status(results, 201))


def _update(module, items):
    results = g.org.update_records(module, items, g.user)
    answer = [per_record(r) if isinstance(r, RecordError) else success(r, "record updated") for r in results]
    return json_response({"data": answer}, http.batch_status(results, 200))


@bp.put("/<module_name>")
def update_records(module_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "UPDATE")
    http.require_write_permission()
    _, items = batch_body()
    return _update(module, items)


@bp.put("/<module_name>/<record_id>")
def update_record(module_name, record_id):
    module = module_or_error(module_name)
    http.require_module_scope(module, "UPDATE")
    http.require_write_permission()
    _, items = batch_body()
    return _update(module, [{**item, "id": record_id} if isinstance(item, dict) else item for item in items[:1]])


@bp.post("/<module_name>/upsert")
def upsert_records(module_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "CREATE")
    http.require_module_scope(module, "UPDATE")
    http.require_write_permission()
    body, items = batch_body()
    check = _check_fields(module, body.get("duplicate_check_fields"), "duplicate_check_fields")
    results = g.org.upsert_records(module, items, g.user, check)
    answer = []
    for result in results:
        if isinstance(result, RecordError):
            answer.append(per_record(result))
            continue
        record, action, matched = result
        item = success(record, "record added" if action == "insert" else "record updated")
        item.update({"action": action, "duplicate_field": matched})
        answer.append(item)
    return json_response({"data": answer}, http.batch_status(results, 201 if all(
        isinstance(r, tuple) and r[1] == "insert" for r in results) else 200))


def _delete(module, ids):
    results = g.org.delete_records(module, ids, user=g.user)
    answer = [per_record(r) if isinstance(r, RecordError) else
              {"code": "SUCCESS", "details": {"id": r}, "message": "record deleted", "status": "success"}
              for r in results]
    return json_response({"data": answer}, http.batch_status(results, 200))


@bp.delete("/<module_name>")
def delete_records(module_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "DELETE")
    http.require_write_permission()
    ids = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise http.required_param("ids")
    if len(ids) > MAX_RECORDS_PER_CALL:
        raise http.limit_exceeded("ids", MAX_RECORDS_PER_CALL)
    return _delete(module, ids)


@bp.delete("/<module_name>/<record_id>")
def delete_record(module_name, record_id):
    module = module_or_error(module_name)
    http.require_module_scope(module, "DELETE")
    http.require_write_permission()
    return _delete(module, [record_id])


# ---- deleted records -----------------------------------------------------------------------------
DELETED_TYPES = ("all", "recycle", "permanent")


@bp.get("/<module_name>/deleted")
def deleted_records(module_name):
    """Get Deleted Records: `type` all (default) | recycle | permanent, `page`, `per_page` (at most 200) and
    the `If-Modified-Since` header (deleted after it); newest deletion first; 204 when none
    (https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html;
    https://github.com/zoho/crm-oas/blob/main/v8.0/record/operations/getDeletedRecords/operation.md)."""
    module = module_or_error(module_name)
    http.require_module_scope(module, "READ")
    kind = request.args.get("type", "all")
    if kind not in DELETED_TYPES:
        # NB: this one error comes inside a `data` array (the OpenAPI file's example for this endpoint).
        return json_response({"data": [{"code": "PATTERN_NOT_MATCHED", "details": {"param_name": "type"},
                                        "message": "Please check whether the input values are correct",
                                        "status": "error"}]}, 400)
    per_page = parse_int("per_page", MAX_PER_PAGE, maximum=MAX_PER_PAGE)
    page = parse_int("page", 1)
    since = _modified_since()
    entries = [e for e in g.org.deleted_records(module)
               if (kind == "all" or e["type"] == kind) and (since is None or e["_deleted"] > since)]
    start = (page - 1) * per_page
    chunk = entries[start:start + per_page]
    if not chunk:
        return no_content()
    info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": start + per_page < len(entries)}
    return json_response({"data": [{k: v for k, v in e.items() if not k.startswith("_")} for e in chunk],
                          "info": info})


# ---- search --------------------------------------------------------------------------------------
def query_error(error):
    return ApiError(400, error.code, error.message, error.details)


@bp.get("/<module_name>/search")
def search_records(module_name):
    module = module_or_error(module_name)
    http.require_scope("ZohoSearch", "securesearch", "READ")  # documented as required (docs/outside-apis.md#crm-scopes)
    http.require_module_scope(module, "READ")
    args = request.args
    fields = parse_fields(module, required=False)
    per_page = parse_int("per_page", MAX_PER_PAGE, maximum=MAX_PER_PAGE)
    page = parse_int("page", 1)
    if page * per_page > SEARCH_LIMIT:
        raise ApiError(400, "LIMIT_REACHED", "search results exceed the limit", {"limit": SEARCH_LIMIT})
    # Precedence criteria > email > phone > word (docs/outside-apis.md#crm-search-and-coql).
    try:
        if args.get("criteria"):
            predicate = parse_criteria(module, args["criteria"])
        elif args.get("email") or args.get("phone") or args.get("word"):
            predicate = _simple_search(module, args)
        else:
            raise ApiError(400, "EXPECTED_PARAM_MISSING", "One of the expected parameter is missing",
                           {"expected_params": ["criteria", "email", "phone", "word"]})
    except QueryError as error:
        raise query_error(error) from None
    # NB: the real search index lags writes (docs/outside-apis.md#crm-search-and-coql); the sandbox is immediately
    # consistent.
    matches = ordered(module, "id", False, predicate)[:SEARCH_LIMIT]
    start = (page - 1) * per_page
    chunk = matches[start:start + per_page]
    if not chunk:
        return no_content()
    info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": start + per_page < len(matches)}
    return json_response({"data": [render(r, fields) for r in chunk], "info": info})


def _simple_search(module, args):
    kinds = {"email": ("email",), "phone": ("phone",), "word": ("text", "textarea", "email", "phone", "picklist")}
    for key in ("email", "phone", "word"):
        value = args.get(key)
        if value:
            break
    value = value.strip().lower()
    if len(value) < 2:
        raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": key})
    names = [n for n, f in module.fields.items() if f["data_type"] in kinds[key]]
    if key == "word":
        return lambda r: any(value in str(r.get(n) or "").lower() for n in names)
    return lambda r: any(value == str(r.get(n) or "").lower() for n in names)


# ---- COQL ----------------------------------------------------------------------------------------
@bp.post("/coql")
def coql():
    http.require_scope("ZohoCRM", "coql", "READ")
    body = request_json()
    text = body.get("select_query")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found",
                       {"api_name": "select_query", "json_path": "$.select_query"})
    try:
        query = CoqlQuery(text, g.org.module)
    except QueryError as error:
        raise query_error(error) from None
    http.require_module_scope(query.module, "READ")
    if not 1 <= query.limit <= 2000:
        raise ApiError(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": 2000, "clause": "limit"})
    if query.offset + query.limit > 100_000:
        raise ApiError(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": 100_000, "clause": "offset"})
    http.enter_heavy()
    # 1, 2 or 3 credits (docs/outside-apis.md#crm-search-and-coql)
    http.charge(0 if query.limit <= 200 else 1 if query.limit <= 1000 else 2)
    records = [r for r in g.org.module(query.module.api_name).records.values() if query.predicate(r)]
    for column, descending in reversed(query.order or [("id", False)]):
        name = column.split(".")[0]
        records.sort(key=lambda r, n=name: (r.get(n) is None, _sortable(r, n)), reverse=descending)
    chunk = records[query.offset:query.offset + query.limit]
    if not chunk:
        return no_content()
    data = []
    for record in chunk:
        row = {}
        for column in query.columns:
            name, _, sub = column.partition(".")
            value = record.get(name)
            if isinstance(value, dict):
                # NB: COQL shows a lookup as {"id"} only (docs/outside-apis.md#crm-record-json); `Lookup.Field` reads
                # the looked-up record.
                if sub and sub != "id":
                    target = g.org.module(query.module.fields[name]["lookup"]["module"]["api_name"]) \
                        if query.module.fields[name]["data_type"] == "lookup" else None
                    linked = target.records.get(value["id"]) if target else None
                    value = linked.get(sub) if linked else None
                else:
                    value = {"id": value["id"]}
            row[column] = value
        row["id"] = record["id"]
        data.append(row)
    more = query.offset + query.limit < len(records)
    return json_response({"data": data, "info": {"count": len(data), "more_records": more}})


def _sortable(record, name):
    value = record.get(name)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id"))
    if name in ("Created_Time", "Modified_Time"):
        return record["_created" if name == "Created_Time" else "_modified"]
    return value if value is not None else ""


# ---- record count --------------------------------------------------------------------------------
@bp.get("/<module_name>/actions/count")
def count_records(module_name):
    """Get Record Count (`GET /crm/v8/{module}/actions/count`, the SDK's `record_count`): `{"count": n}` for
    the module, or for the records a search would find (`criteria`, `email`, `phone` or `word`, same rules
    as search) (https://www.zoho.com/crm/developer/docs/api/v8/get-record-count.html;
    https://github.com/zoho/crm-oas/blob/main/v8.0/record_count/operations/getRecordCount/operation.md).
    Custom views (`cvid`) are not modelled: the sandbox has none."""
    module = module_or_error(module_name)
    http.require_module_scope(module, "READ")
    args = request.args
    searched = [key for key in ("criteria", "email", "phone", "word") if args.get(key)]
    if args.get("cvid") and searched:
        raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "ambiguity while processing the request",
                       {"ambiguity_due_to": ["cvid", searched[0]]})
    if not searched:
        return json_response({"count": len(module.records)})
    try:
        predicate = parse_criteria(module, args["criteria"]) if args.get("criteria") else _simple_search(module, args)
    except QueryError as error:
        raise query_error(error) from None
    return json_response({"count": sum(1 for r in module.records.values() if predicate(r))})


# ---- related records -----------------------------------------------------------------------------
@bp.get("/<module_name>/<record_id>/<related_name>")
def related_records(module_name, record_id, related_name):
    module = module_or_error(module_name)
    http.require_module_scope(module, "READ")
    _refuse_page_with_page_token()
    related = next((r for r in g.org.related_lists(module) if r["api_name"].lower() == related_name.lower()), None)
    if related is None:
        raise ApiError(400, "INVALID_DATA", "the related list name given seems to be invalid",
                       {"resource_path_index": 2})
    if record_id not in module.records:
        raise ApiError(400, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1})
    target, lookup = related["module"], related["field"]["api_name"]
    http.require_module_scope(target, "READ")
    fields = parse_fields(target)
    per_page = parse_int("per_page", MAX_PER_PAGE, maximum=MAX_PER_PAGE)
    records = ordered(target, "id", True, lambda r: (r.get(lookup) or {}).get("id") == record_id)
    bound = (target.api_name, tuple(fields or ()), module.api_name, record_id, related["api_name"])
    chunk, info = _page_of(records, bound, "id", True, per_page)
    if not chunk:
        return no_content()
    return json_response({"data": [render(r, fields) for r in chunk], "info": info})

