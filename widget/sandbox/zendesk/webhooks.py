"""The Webhooks API (`/api/v2/webhooks...`), shaped as in recorded real traffic (docs/outside-apis.md#zendesk-webhooks).

Errors: this API is a separate Zendesk service and does not use the classic `{"error", "description"}`
envelope. No real error body of it is publicly recorded; the sandbox answers with the JSON:API-style
`{"errors": [{code, title, detail}]}` that Zendesk's OpenAPI declares as its `Errors` schema for its
newer services (docs/outside-apis.md#zendesk-errors). The codes below are the sandbox's choice.
"""
import base64
import binascii
import copy
from urllib.parse import urlencode

import requests
from flask import Blueprint, Response, g, request

from . import http
from .delivery import auth_headers, iso_nano, new_signing_secret, new_ulid
from .http import ApiError, json_response
from .state import iso

bp = Blueprint("webhooks", __name__, url_prefix="/api/v2/webhooks")

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUEST_FORMATS = ("json", "xml", "form_encoded")
STATUSES = ("active", "inactive")
AUTH_TYPES = ("basic_auth", "bearer_token", "api_key")
TRIGGER_CONNECTED = "conditional_ticket_events"
EVENT_PREFIX = "zen:event-type:"
WRITABLE = ("name", "description", "status", "subscriptions", "endpoint", "http_method", "request_format",
            "authentication", "custom_headers", "external_source")
PUBLIC_ORDER = ("id", "name", "description", "status", "subscriptions", "created_at", "created_by",
                "updated_at", "updated_by", "endpoint", "http_method", "request_format", "authentication",
                "custom_headers", "external_source")
PAGE_SIZE_MAX = 100


def _errors(status, code, title, detail):
    return ApiError(status, {"errors": [{"code": code, "title": title, "detail": detail}]})


def invalid(detail):
    return _errors(400, "InvalidInput", "Invalid input", detail)


def not_found(what="Webhook"):
    return _errors(404, "NotFound", "Not Found", f"{what} not found")


@bp.before_request
def authorize():
    """Webhooks need an admin and the `webhooks:read|write` (or broad `read|write`) scope
    (docs/outside-apis.md#zendesk-oauth)."""
    http.require_scope("webhooks", write=request.method != "GET")
    http.require_admin()


def _now():
    return http.state().clock.now()


def _hook(webhook_id):
    hook = g.account.webhooks.get(webhook_id)
    if hook is None:
        raise not_found()
    return hook


def render(hook):
    """The public webhook: no secret, no password or token (only a basic-auth username,
    docs/outside-apis.md#zendesk-webhooks)."""
    out = {key: hook[key] for key in PUBLIC_ORDER if hook.get(key) is not None}
    auth = hook.get("authentication")
    if auth:
        data = {"username": auth["data"]["username"]} if auth["type"] == "basic_auth" else {}
        out["authentication"] = {"type": auth["type"], "data": data, "add_position": auth.get("add_position", "header")}
    return out


def _validate(fields, existing=None):
    """The rules of docs/outside-apis.md#zendesk-webhooks, on the webhook as it would be after the write."""
    merged = {**(existing or {}), **fields}
    for key in ("name", "endpoint", "http_method", "request_format", "status"):
        if not merged.get(key):
            raise invalid(f"{key} is required")
    if not isinstance(merged["name"], str) or not isinstance(merged["endpoint"], str):
        raise invalid("name and endpoint must be strings")
    if not merged["endpoint"].startswith(("http://", "https://")):
        raise invalid("endpoint must be an http or https URL")
    if merged["http_method"] not in HTTP_METHODS:
        raise invalid(f"http_method must be one of {', '.join(HTTP_METHODS)}")
    if merged["request_format"] not in REQUEST_FORMATS:
        raise invalid(f"request_format must be one of {', '.join(REQUEST_FORMATS)}")
    if merged["status"] not in STATUSES:
        raise invalid("status must be active or inactive")
    subscriptions = merged.get("subscriptions") or []
    if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
        raise invalid("subscriptions must be an array of strings")
    events = [s for s in subscriptions if s != TRIGGER_CONNECTED]
    if TRIGGER_CONNECTED in subscriptions and events:
        raise invalid("conditional_ticket_events cannot be combined with event type subscriptions")
    unknown = [s for s in events if not s.startswith(EVENT_PREFIX)]
    if unknown:
        raise invalid(f"unknown subscription {unknown[0]}")
    if events and (merged["http_method"] != "POST" or merged["request_format"] != "json"):
        raise invalid("webhooks subscribed to Zendesk events must use POST and json")
    if existing is not None and "subscriptions" in fields:
        # NB: the connection method (trigger vs event subscription) cannot change later
        # (docs/outside-apis.md#zendesk-webhooks).
        was_trigger = TRIGGER_CONNECTED in (existing.get("subscriptions") or [])
        if existing.get("subscriptions") and was_trigger != (TRIGGER_CONNECTED in subscriptions):
            raise invalid("a webhook's connection method cannot be changed")
    auth = merged.get("authentication")
    if auth is not None:
        if not isinstance(auth, dict) or auth.get("type") not in AUTH_TYPES or not isinstance(auth.get("data"), dict):
            raise invalid(f"authentication.type must be one of {', '.join(AUTH_TYPES)} with a data object")
        if auth.get("add_position", "header") != "header":
            raise invalid("authentication.add_position must be header")
    headers = merged.get("custom_headers")
    if headers is not None and (not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())):
        raise invalid("custom_headers must be an object of strings")


def _webhook_body():
    data = http.request_json()
    fields = data.get("webhook")
    if not isinstance(fields, dict):
        raise invalid("webhook is required")
    return {key: copy.deepcopy(fields[key]) for key in WRITABLE if key in fields}


def _merge_authentication(fields, existing):
    """A write without credentials keeps the stored ones: they are never echoed back
    (docs/outside-apis.md#zendesk-webhooks)."""
    auth, old = fields.get("authentication"), existing.get("authentication")
    if auth and old and auth.get("type") == old["type"]:
        auth["data"] = {**old["data"], **(auth.get("data") or {})}


# ---- CRUD -----------------------------------------------------------------------------------------
@bp.post("")
def create():
    now = _now()
    clone_id = request.args.get("clone_webhook_id")
    with g.account.lock:
        if clone_id:
            source = _hook(clone_id)
            fields = {key: copy.deepcopy(source[key]) for key in WRITABLE if key in source}
            fields["name"] = f"{source['name']} (copy)"
        else:
            fields = _webhook_body()
        fields.setdefault("subscriptions", [])
        _validate(fields)
        hook = {"id": new_ulid(now), **fields, "created_at": iso(now), "created_by": str(g.user["id"]),
                "_secret": new_signing_secret(), "_invocations": []}
        g.account.webhooks[hook["id"]] = hook
        body = render(hook)
    # NB: only the create response carries nanoseconds in created_at ([ZENPY-CASS]).
    body["created_at"] = iso_nano(now)
    return json_response({"webhook": body}, 201, {"Location": http.api_url(f"webhooks/{hook['id']}")})


@bp.get("")
def index():
    name = request.args.get("filter[name_contains]")
    status = request.args.get("filter[status]")
    sort = request.args.get("sort", "")
    with g.account.lock:
        hooks = [h for h in g.account.webhooks.values()
                 if (not name or name.lower() in h["name"].lower()) and (not status or h["status"] == status)]
        if sort.lstrip("-") in ("name", "status"):
            hooks.sort(key=lambda h: (h[sort.lstrip("-")], h["id"]), reverse=sort.startswith("-"))
        else:
            hooks.sort(key=lambda h: h["id"])
        return _cursor_page("webhooks", [render(h) for h in hooks], "webhooks")


@bp.get("/<webhook_id>")
def show(webhook_id):
    with g.account.lock:
        return json_response({"webhook": render(_hook(webhook_id))})


@bp.put("/<webhook_id>")
@bp.patch("/<webhook_id>")
def update(webhook_id):
    """PUT replaces, PATCH merges; both answer 204 with no body (docs/outside-apis.md#zendesk-webhooks)."""
    fields = _webhook_body()
    with g.account.lock:
        hook = _hook(webhook_id)
        _merge_authentication(fields, hook)
        if request.method == "PUT":
            base = {key: hook[key] for key in ("subscriptions",) if key in hook}
            for key in ("description", "authentication", "custom_headers"):
                fields.setdefault(key, None)
        else:
            base = {key: hook[key] for key in WRITABLE if key in hook}
        _validate(fields, existing=base)
        hook.update(fields)
        hook["updated_at"], hook["updated_by"] = iso(_now()), str(g.user["id"])
    return Response(status=204)


@bp.delete("/<webhook_id>")
def delete(webhook_id):
    with g.account.lock:
        _hook(webhook_id)
        del g.account.webhooks[webhook_id]
    return Response(status=204)


# ---- signing secret --------------------------------------------------------------------------------
@bp.get("/<webhook_id>/signing_secret")
def show_secret(webhook_id):
    with g.account.lock:
        secret = _hook(webhook_id)["_secret"]
    return json_response({"signing_secret": {"secret": secret, "algorithm": "SHA256"}})


@bp.post("/<webhook_id>/signing_secret")
def reset_secret(webhook_id):
    with g.account.lock:
        hook = _hook(webhook_id)
        hook["_secret"] = new_signing_secret()
        secret = hook["_secret"]
    return json_response({"signing_secret": {"secret": secret, "algorithm": "SHA256"}}, 201)


# ---- test ------------------------------------------------------------------------------------------
@bp.post("/test")
def test():
    """Send one request now and report the endpoint's answer: 200 {"response": {headers, status_code,
    payload}} whatever the endpoint said ([ZENPY-CASS] testing-request-partial)."""
    target = dict((http.request_json().get("request") or {}))
    # NB: docs name the parameter webhook_id; zenpy 2.0.57 sends test_webhook_id.
    webhook_id = request.args.get("webhook_id") or request.args.get("test_webhook_id")
    headers = {}
    with g.account.lock:
        if webhook_id:
            hook = _hook(webhook_id)
            for key in ("endpoint", "http_method", "request_format"):
                target.setdefault(key, hook[key])
            headers.update(hook.get("custom_headers") or {})
            headers.update(auth_headers(hook.get("authentication")))
    if not target.get("endpoint"):
        raise invalid("request.endpoint is required")
    method = target.get("http_method") or "POST"
    if method not in HTTP_METHODS:
        raise invalid(f"http_method must be one of {', '.join(HTTP_METHODS)}")
    headers.update({h["key"]: h["value"] for h in target.get("headers") or [] if isinstance(h, dict)})
    headers.setdefault("User-Agent", "Zendesk Webhook")
    payload = target.get("payload") or ""
    try:
        answer = requests.request(method, target["endpoint"], data=payload.encode(), headers=headers, timeout=10)
    except requests.RequestException as error:
        return json_response({"response": {"headers": [], "status_code": 502, "payload": f"Error: {error}"}})
    return json_response({"response": {
        "headers": [{"key": k, "value": v} for k, v in answer.headers.items()],
        "status_code": answer.status_code, "payload": answer.text,
    }})


# ---- invocations and attempts -------------------------------------------------------------------
def _invocation_view(invocation):
    out = {"id": invocation["id"]}
    if invocation.get("status_code") is not None:
        out["status_code"] = invocation["status_code"]
    out["status"] = invocation["status"]
    out["latest_completed_at"] = invocation["latest_completed_at"]
    return out


@bp.get("/<webhook_id>/invocations")
def invocations(webhook_id):
    """Newest first by default (`sort=-latest_completed_at`), filters from docs
    (docs/outside-apis.md#zendesk-webhooks)."""
    status = request.args.get("filter[status]")
    from_ts, to_ts = request.args.get("filter[from_ts]"), request.args.get("filter[to_ts]")
    ascending = request.args.get("sort") == "latest_completed_at"
    with g.account.lock:
        items = [i for i in _hook(webhook_id)["_invocations"]
                 if (not status or i["status"] == status)
                 and (not from_ts or (i["latest_completed_at"] or "") >= from_ts)
                 and (not to_ts or (i["latest_completed_at"] or "") <= to_ts)]
        items.sort(key=lambda i: (i["created_at"], i["id"]), reverse=not ascending)
        return _cursor_page(f"webhooks/{webhook_id}/invocations", [_invocation_view(i) for i in items],
                            "invocations", "asc" if ascending else "desc")


@bp.get("/<webhook_id>/invocations/<invocation_id>/attempts")
def attempts(webhook_id, invocation_id):
    with g.account.lock:
        invocation = next((i for i in _hook(webhook_id)["_invocations"] if i["id"] == invocation_id), None)
        if invocation is None:
            raise not_found("Invocation")
        return json_response({"attempts": copy.deepcopy(invocation["attempts"])})


# ---- cursor pages --------------------------------------------------------------------------------
def _encode(item_id, direction):
    # Real invocation cursors decode to "<ULID>,desc" ([ZENPY-CASS]).
    return base64.b64encode(f"{item_id},{direction}".encode()).decode()


def _decode(cursor):
    try:
        return base64.b64decode(cursor, validate=True).decode().split(",")[0]
    except (binascii.Error, UnicodeDecodeError):
        raise invalid("page cursor is invalid") from None


def _cursor_page(path, items, key, direction="asc"):
    """`page[size]` (max 100), `page[after]`/`page[before]`; meta.after_cursor/before_cursor and
    links.next/prev appear only when relevant, as in recorded invocation lists (docs/outside-apis.md#zendesk-pagination,
    docs/outside-apis.md#zendesk-webhooks)."""
    try:
        size = min(max(int(request.args.get("page[size]", PAGE_SIZE_MAX)), 1), PAGE_SIZE_MAX)
    except ValueError:
        raise invalid("page[size] must be an integer") from None
    ids = [item["id"] for item in items]
    after, before = request.args.get("page[after]"), request.args.get("page[before]")
    start, end = 0, len(items)
    if after:
        anchor = _decode(after)
        start = ids.index(anchor) + 1 if anchor in ids else end
        end = min(start + size, len(items))
    elif before:
        anchor = _decode(before)
        end = ids.index(anchor) if anchor in ids else 0
        start = max(end - size, 0)
    else:
        end = min(size, len(items))
    page = items[start:end]
    meta, links = {"has_more": end < len(items)}, {}
    keep = {k: v for k, v in request.args.items() if not k.startswith("page[")}
    if page and end < len(items):
        meta["after_cursor"] = _encode(page[-1]["id"], direction)
        links["next"] = http.api_url(path) + "?" + urlencode({**keep, "page[after]": meta["after_cursor"], "page[size]": size})
    if page and start > 0:
        meta["before_cursor"] = _encode(page[0]["id"], direction)
        links["prev"] = http.api_url(path) + "?" + urlencode({**keep, "page[before]": meta["before_cursor"], "page[size]": size})
    body = {key: page, "meta": meta}
    if links:
        body["links"] = links
    headers = {"Link": f'<{links["next"]}>; rel="next"'} if "next" in links else None
    return json_response(body, headers=headers)
