"""Incremental exports (`/api/v2/incremental/...`), as in docs/outside-apis.md#zendesk-incremental-exports.

- Cursor-based tickets and users: order (timestamp, id), cursor = base64("<ts>.0||<id>|").
- Time-based tickets, users, organizations and ticket_events: pages never split a second,
  `end_time` = last timestamp + 1, `next_page` starts at `end_time`.
- `start_time` must be at least a minute old, and changes of the last minute are left out.

Tickets are ordered by `generated_timestamp`; users and organizations by their `updated_at` second.
The 10-requests-a-minute limit is applied in `__init__.py` before these views run.
"""
import base64
import binascii
import copy
from urllib.parse import urlencode

from flask import Blueprint, g, request

from . import http, render
from .http import ApiError, json_response

bp = Blueprint("incremental", __name__, url_prefix="/api/v2/incremental")

PER_PAGE_MAX = 1000  # "up to 1,000, default 1,000" (docs/outside-apis.md#zendesk-incremental-exports)
MINUTE = 60
# resource -> the account's ExportIndex attribute (keys: (timestamp, id)), its objects, their renderer
RESOURCES = {
    "tickets": ("ticket_index", "exported_tickets", render.ticket),
    "users": ("user_index", "users", lambda account, user: render.user(user)),
    "organizations": ("org_index", "organizations", lambda account, org: render.organization(org)),
}


# ---- parameters ------------------------------------------------------------------------------------
def _authorize(kind):
    # Incremental exports are "Allowed for: Admins" (incremental_exports reference).
    http.require_scope(kind, write=False)
    http.require_admin()


def _per_page():
    # NB: out-of-range values are clamped, not refused (tap-zendesk treats 1..1000 as the valid range).
    try:
        return min(max(int(request.args.get("per_page", PER_PAGE_MAX)), 1), PER_PAGE_MAX)
    except ValueError:
        raise http.bad_request("per_page must be an integer") from None


def _start_time(now):
    """`start_time` is required and "must be at least one minute in the past" (OAS IncrementalUnixTime).

    NB: the too-recent body is the real one recorded by several public clients when the floor was five
    minutes: 422 {"error":"InvalidValue","description":"Too recent start_time. Use a start_time older
    than 5 minutes"} (e.g. treasure-data/embulk-input-zendesk); the sandbox says "1 minute" to match
    today's rule. No real body for a *missing* start_time is publicly recorded: the sandbox answers
    400 InvalidValue in the classic envelope.
    """
    raw = request.args.get("start_time")
    if raw is None or raw == "":
        raise http.bad_request("start_time is required")
    try:
        start = int(float(raw))
    except ValueError:
        raise http.bad_request("start_time must be a Unix epoch time in seconds") from None
    if start > int(now) - MINUTE:
        raise ApiError(422, {"error": "InvalidValue",
                             "description": "Too recent start_time. Use a start_time older than 1 minute"})
    return max(start, 0)


def _until(now):
    """Changes made in the last minute are excluded (support article 8143500919322, since 2024-10-28)."""
    return int(now) - MINUTE + 1


def _url(path, params):
    return http.api_url(path) + "?" + urlencode(params)


def _passthrough():
    """Parameters that next_page/after_url carry along (per_page as given, include)."""
    return {key: request.args[key] for key in ("per_page", "include") if key in request.args}


# ---- cursor-based ----------------------------------------------------------------------------------
def encode_cursor(key):
    return base64.b64encode(f"{key[0]}.0||{key[1]}|".encode()).decode()


def decode_cursor(cursor):
    """`MTY5NTA1MjY2My4wfHwyOXw=` = `1695052663.0||29|` ([ZENPY-CASS] TicketsIncrementalTest)."""
    try:
        ts, _, item_id, _ = base64.b64decode(cursor, validate=True).decode().split("|")
        return int(float(ts)), int(item_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        # NB: no real answer to a malformed cursor is recorded; the sandbox gives a classic 400.
        raise http.bad_request("cursor is invalid") from None


def _cursor_export(resource):
    index_name, objects_name, render_one = RESOURCES[resource]
    _authorize(resource)
    account, now, per_page = g.account, http.state().clock.now(), _per_page()
    if "cursor" in request.args:
        position = decode_cursor(request.args["cursor"])
    else:
        # (start_time, 0) sorts before every real id at start_time, so that second is included.
        position = (_start_time(now), 0)
    until = _until(now)
    with account.lock:
        index, objects = getattr(account, index_name), getattr(account, objects_name)
        keys = index.after(position, per_page, until)
        more = bool(keys) and bool(index.after(keys[-1], 1, until))
        records = [copy.deepcopy(render_one(account, objects[key[1]])) for key in keys]
        sideloads = _ticket_sideloads(account, records) if resource == "tickets" else {}
    path = f"incremental/{resource}/cursor.json"
    after_cursor = encode_cursor(keys[-1] if keys else position)
    before_cursor = encode_cursor(keys[0]) if keys else None
    return json_response({
        resource: records,
        **sideloads,
        "after_url": _url(path, {"cursor": after_cursor, **_passthrough()}),
        "after_cursor": after_cursor,
        "before_url": _url(path, {"cursor": before_cursor, **_passthrough()}) if before_cursor else None,
        "before_cursor": before_cursor,
        "end_of_stream": not more,
    })


def _ticket_sideloads(account, tickets):
    """`include=users,organizations` (the ticket cursor export takes ticket sideloads,
    docs/outside-apis.md#zendesk-incremental-exports): the users the page's tickets name (requester, submitter,
    assignee) and their organizations, each once. NB: other ticket sideloads (groups, metric_sets, ...) are not
    modelled; unknown names are ignored."""
    wanted = set(request.args.get("include", "").split(","))
    out = {}
    if "users" in wanted:
        ids = {t.get(key) for t in tickets for key in ("requester_id", "submitter_id", "assignee_id")}
        out["users"] = [copy.deepcopy(render.user(account.users[i])) for i in sorted(ids - {None}) if i in account.users]
    if "organizations" in wanted:
        ids = {t.get("organization_id") for t in tickets} - {None}
        out["organizations"] = [copy.deepcopy(render.organization(account.organizations[i]))
                                for i in sorted(ids) if i in account.organizations]
    return out


@bp.get("/tickets/cursor")
def tickets_cursor():
    return _cursor_export("tickets")


@bp.get("/users/cursor")
def users_cursor():
    return _cursor_export("users")


# ---- time-based ------------------------------------------------------------------------------------
def _whole_seconds(index, start, per_page, until):
    """At least `per_page` keys from `start` on, completed to the end of the last key's second."""
    keys = index.after((start, 0), per_page, until)
    if len(keys) == per_page:
        last_ts = keys[-1][0]
        while True:
            extra = [k for k in index.after(keys[-1], PER_PAGE_MAX, until) if k[0] == last_ts]
            if not extra:
                break
            keys.extend(extra)
    return keys


def _time_page(resource, key, records, count, start, last_ts, per_page):
    end_time = last_ts + 1 if last_ts is not None else start
    return json_response({
        key: records,
        "next_page": _url(f"incremental/{resource}.json", {**_passthrough(), "start_time": end_time}),
        "count": count,
        "end_of_stream": count < per_page,
        "end_time": end_time,
    })


def _time_export(resource):
    index_name, objects_name, render_one = RESOURCES[resource]
    _authorize(resource)
    now, per_page = http.state().clock.now(), _per_page()
    start = _start_time(now)
    with g.account.lock:
        index, objects = getattr(g.account, index_name), getattr(g.account, objects_name)
        keys = _whole_seconds(index, start, per_page, _until(now))
        records = [copy.deepcopy(render_one(g.account, objects[k[1]])) for k in keys]
    return _time_page(resource, resource, records, len(records), start, keys[-1][0] if keys else None, per_page)


@bp.get("/tickets")
def tickets():
    return _time_export("tickets")


@bp.get("/users")
def users():
    return _time_export("users")


@bp.get("/organizations")
def organizations():
    return _time_export("organizations")


def _child_event(child, with_comments):
    """A stored child event as the export gives it. A Comment child event comes whole only with
    `include=comment_events`; without it, "any comment present in the ticket update is described only by
    Boolean `comment_present` and `comment_public` object properties in the event's `child_events` array
    object. The comment itself is not included" (docs/outside-apis-zendesk-audit.md, ticket_events)."""
    event = dict(child, event_type=child.get("event_type", child["type"]))
    if child["type"] != "Comment" or with_comments:
        return event
    return {"id": child["id"], "comment_present": True, "comment_public": bool(child.get("public")),
            "event_type": "Comment"}


@bp.get("/ticket_events")
def ticket_events():
    """Ticket audits in time order; Comment child events whole only with `include=comment_events`
    (docs/outside-apis.md#zendesk-incremental-exports), else as their `comment_present` / `comment_public` flags."""
    _authorize("tickets")
    now, per_page = http.state().clock.now(), _per_page()
    start, until = _start_time(now), _until(now)
    with_comments = "comment_events" in request.args.get("include", "").split(",")
    with g.account.lock:
        events = sorted((e for e in g.account.ticket_events if start <= e["timestamp"] < until),
                        key=lambda e: (e["timestamp"], e["id"]))
        if len(events) > per_page:  # never split a second
            last_ts = events[per_page - 1]["timestamp"]
            events = [e for e in events if e["timestamp"] <= last_ts]
        records = []
        for event in events:
            record = copy.deepcopy(event)
            record["child_events"] = [_child_event(child, with_comments) for child in record["child_events"]]
            records.append(record)
    last_ts = events[-1]["timestamp"] if events else None
    return _time_page("ticket_events", "ticket_events", records, len(records), start, last_ts, per_page)
