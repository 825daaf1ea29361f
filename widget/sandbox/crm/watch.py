"""Notifications: `/crm/v8/actions/watch` (enable, list, update, disable; docs/outside-apis.md#crm-notifications) and
the delivery of callbacks to each channel's `notify_url` when watched records are created, edited or deleted.

Delivery runs on a background thread (never on the request thread), retries failed POSTs with backoff,
and keeps a log (`Notifier.log`) a UI or test can read.
"""
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import requests
from flask import g, request

from ..workers import IdleWorkers
from . import http
from .api import bp, parse_int
from .http import ApiError, api_domain, json_response, no_content, request_json
from .state import WATCH_DEFAULT_SECONDS, WATCH_MAX_SECONDS

OPERATIONS = ("create", "edit", "delete", "all")
# NB: the callback says "insert" for a create (v7 enable page); "update"/"delete" for the others are the
# likely values but unconfirmed (docs/outside-apis.md#crm-notifications, docs/outside-apis.md#crm-open-points).
CALLBACK_OPERATIONS = {"create": "insert", "edit": "update", "delete": "delete"}


def _error(code, index, key, message="invalid data"):
    return {"code": code, "details": {"api_name": key, "json_path": f"$.watch[{index}].{key}"},
            "message": message, "status": "error"}


def _validate(org, item, index, partial=False):
    """A channel dict from one `watch` element, or an error element."""
    if not isinstance(item, dict):
        return None, _error("INVALID_DATA", index, "watch")
    channel_id = item.get("channel_id")
    if channel_id in (None, ""):
        return None, _error("MANDATORY_NOT_FOUND", index, "channel_id", "required field not found")
    if not str(channel_id).isdigit():
        return None, _error("INVALID_DATA", index, "channel_id")
    channel = {"channel_id": str(channel_id)}
    events = item.get("events")
    if events is None and not partial:
        return None, _error("MANDATORY_NOT_FOUND", index, "events", "required field not found")
    if events is not None:
        if not isinstance(events, list) or not events:
            return None, _error("INVALID_DATA", index, "events")
        for position, event in enumerate(events):
            module_name, _, operation = str(event).partition(".")
            module = org.module(module_name)
            if module is None or operation not in OPERATIONS:
                return None, _error("INVALID_DATA", index, f"events[{position}]")
        channel["events"] = [f"{org.module(e.split('.')[0]).api_name}.{e.split('.')[1]}" for e in events]
    url = item.get("notify_url")
    if url is None and not partial:
        return None, _error("MANDATORY_NOT_FOUND", index, "notify_url", "required field not found")
    if url is not None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            return None, _error("INVALID_DATA", index, "notify_url")
        channel["notify_url"] = url
    if "token" in item:
        if item["token"] is not None and (not isinstance(item["token"], str) or len(item["token"]) > 50):
            # at most 50 characters (docs/outside-apis.md#crm-notifications)
            return None, _error("INVALID_DATA", index, "token")
        channel["token"] = item["token"]
    now = org.now()
    if "channel_expiry" in item or not partial:
        expiry = now + WATCH_DEFAULT_SECONDS
        if item.get("channel_expiry"):
            try:
                wanted = datetime.fromisoformat(str(item["channel_expiry"])).timestamp()
            except ValueError:
                return None, _error("INVALID_DATA", index, "channel_expiry")
            if wanted <= now:
                return None, _error("INVALID_DATA", index, "channel_expiry")
            # NB: more than a week (or absent) falls back to one hour (v6–v8 enable docs,
            # docs/outside-apis.md#crm-notifications).
            expiry = wanted if wanted - now <= WATCH_MAX_SECONDS else now + WATCH_DEFAULT_SECONDS
        channel["channel_expiry"] = expiry
    for key in ("return_affected_field_values", "notify_on_related_action"):
        if key in item:
            channel[key] = bool(item[key])
    return channel, None


def _details(org, channel):
    return {"events": [{"channel_expiry": org.iso(channel["channel_expiry"]),
                        "resource_uri": f"{channel['api_base']}/{event.split('.')[0]}",
                        "resource_id": org.module(event.split(".")[0]).meta["id"],
                        "resource_name": event.split(".")[0], "channel_id": channel["channel_id"]}
                       for event in channel["events"]]}


def _channel_json(org, channel):
    return {"channel_id": channel["channel_id"], "events": list(channel["events"]),
            "notify_url": channel["notify_url"], "token": channel.get("token"),
            "channel_expiry": org.iso(channel["channel_expiry"]),
            "return_affected_field_values": channel.get("return_affected_field_values", False),
            "notify_on_related_action": channel.get("notify_on_related_action", False),
            "resource_uri": f"{channel['api_base']}/{channel['events'][0].split('.')[0]}" if channel["events"] else None}


def _answer(results, success_status):
    failures = sum(r["status"] == "error" for r in results)
    status = success_status if not failures else 400 if failures == len(results) else 207
    return json_response({"watch": results}, status)


def _items():
    items = request_json().get("watch")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "watch", "json_path": "$.watch"})
    return items


def _subscribe(message, success_status):
    org, results = g.org, []
    for index, item in enumerate(_items()):
        channel, error = _validate(org, item, index)
        if error:
            results.append(error)
            continue
        channel.setdefault("token", None)
        channel["api_base"] = f"{api_domain(g.dc)}/crm/v8"
        with org.lock:
            org.channels[channel["channel_id"]] = channel
        results.append({"code": "SUCCESS", "details": _details(org, channel), "message": message, "status": "success"})
    return _answer(results, success_status)


@bp.post("/actions/watch")
def enable():
    http.require_scope("ZohoCRM", "notifications", "CREATE")
    return _subscribe("Successfully subscribed for actions-watch of the given module", 201)


@bp.put("/actions/watch")
def replace():
    http.require_scope("ZohoCRM", "notifications", "UPDATE")
    return _subscribe("Successfully updated the subscribe details", 200)


@bp.patch("/actions/watch")
def patch():
    """Update given keys of existing channels; with `_delete_events: true`, unsubscribe the listed events."""
    http.require_scope("ZohoCRM", "notifications", "UPDATE")
    org, results = g.org, []
    for index, item in enumerate(_items()):
        changes, error = _validate(org, item, index, partial=True)
        if error:
            results.append(error)
            continue
        channel = _live(org).get(changes["channel_id"])
        if channel is None:
            results.append({"code": "NOT_SUBSCRIBED", "details": {"channel_id": changes["channel_id"]},
                            "message": "not subscribed for actions-watch of the given module", "status": "error"})
            continue
        with org.lock:
            if item.get("_delete_events"):
                removed = set(changes.get("events") or [])
                channel["events"] = [e for e in channel["events"] if e not in removed]
                if not channel["events"]:
                    org.channels.pop(channel["channel_id"], None)
                message = "Successfully un-subscribed from actions-watch"
            else:
                channel.update(changes)
                message = "Successfully updated the subscribe details"
        results.append({"code": "SUCCESS", "details": _details(org, channel), "message": message, "status": "success"})
    return _answer(results, 200)


@bp.delete("/actions/watch")
def disable():
    http.require_scope("ZohoCRM", "notifications", "DELETE")
    ids = [i.strip() for i in request.args.get("channel_ids", "").split(",") if i.strip()]
    if not ids:
        raise http.required_param("channel_ids")
    org, results = g.org, []
    for channel_id in ids:
        with org.lock:
            channel = org.channels.pop(channel_id, None)
        if channel is None:
            results.append({"code": "NOT_SUBSCRIBED", "details": {"channel_id": channel_id},
                            "message": "not subscribed for actions-watch of the given module", "status": "error"})
        else:
            results.append({"code": "SUCCESS", "details": {"channel_id": channel_id},
                            "message": "Successfully removed the subscribe details", "status": "success"})
    return _answer(results, 200)


def _live(org):
    now = org.now()
    return {cid: c for cid, c in org.channels.items() if c["channel_expiry"] > now}


@bp.get("/actions/watch")
def list_channels():
    http.require_scope("ZohoCRM", "notifications", "READ")
    org = g.org
    channels = list(_live(org).values())
    if request.args.get("channel_id"):
        channels = [c for c in channels if c["channel_id"] == request.args["channel_id"]]
    if request.args.get("module"):
        wanted = request.args["module"].lower()
        channels = [c for c in channels if any(e.split(".")[0].lower() == wanted for e in c["events"])]
    per_page = parse_int("per_page", 200, maximum=200)
    page = parse_int("page", 1)
    chunk = channels[(page - 1) * per_page:page * per_page]
    if not chunk:
        return no_content()
    return json_response({"watch": [_channel_json(org, c) for c in chunk],
                          "info": {"per_page": per_page, "count": len(chunk), "page": page,
                                   "more_records": page * per_page < len(channels)}})


class Notifier:
    """State listener: turns record events into callback POSTs for every matching live channel."""

    def __init__(self, attempts=4, backoff=0.5, timeout=5):
        self.attempts, self.backoff, self.timeout = attempts, backoff, timeout
        self.jobs = IdleWorkers(self._deliver, name="crm-sandbox-notifier")
        self.log = []  # dicts: channel_id, url, body, attempts, status (HTTP code or error text), delivered

    def __call__(self, org, event):
        if event.get("type") != "records":
            return
        module, operation = event["module"], event["operation"]
        for channel in list(_live(org).values()):
            if not ({f"{module}.{operation}", f"{module}.all"} & set(channel["events"])):
                continue
            affected = []
            if operation == "edit" and channel.get("return_affected_field_values"):
                affected = [{record_id: fields} for record_id, fields in event["fields"].items()]
            body = {"server_time": int(org.now() * 1000),
                    "query_params": dict(parse_qsl(urlsplit(channel["notify_url"]).query)),
                    "module": module, "resource_uri": f"{channel['api_base']}/{module}", "ids": list(event["ids"]),
                    "affected_fields": affected, "operation": CALLBACK_OPERATIONS[operation],
                    "channel_id": channel["channel_id"], "token": channel.get("token")}
            self.jobs.put((channel["notify_url"], body))

    def _deliver(self, job):
        url, body = job
        entry = {"channel_id": body["channel_id"], "url": url, "body": body, "attempts": 0, "status": None,
                 "delivered": False}
        self.log.append(entry)
        for attempt in range(self.attempts):
            entry["attempts"] = attempt + 1
            try:
                response = requests.post(url, json=body, timeout=self.timeout)
                entry["status"] = response.status_code
                if 200 <= response.status_code < 300:
                    entry["delivered"] = True
                    break
            except requests.RequestException as error:
                entry["status"] = type(error).__name__
            time.sleep(self.backoff * (2 ** attempt))
