"""Signed webhook delivery: every change the state emits becomes a POST to each active webhook
subscribed to its event type, off the request thread, with retries, recorded as invocations and
attempts for the Webhooks API (docs/outside-apis.md#zendesk-webhooks).

Only event-subscribed webhooks (`zen:event-type:*`) receive deliveries here; trigger-connected
webhooks (`conditional_ticket_events`) are driven by triggers, which the sandbox does not model.
"""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

import requests

from ..workers import IdleWorkers
from .state import iso

EVENT_VERSION = "2022-11-06"  # as in a real recorded delivery ([ZENPY-CASS]; docs examples say 2022-06-20)
USER_AGENT = "Zendesk Webhook"  # real delivery attempt headers ([ZENPY-CASS])
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# ---- small formats shared with the Webhooks API ------------------------------------------------
def new_ulid(now):
    """A ULID (48-bit milliseconds + 80 random bits, Crockford base32): webhook and invocation ids
    look like `01HANAHHBNJDDW768TX5J4YFX7` in real Zendesk (docs/outside-apis.md#zendesk-ids-and-urls)."""
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def iso_nano(now):
    """RFC 3339 with nanoseconds and trailing zeros trimmed, as Go prints it (`...56.93870131Z`)."""
    nanos = int(round((now % 1) * 1e9)) % 1_000_000_000
    fraction = f".{nanos:09d}".rstrip("0").rstrip(".")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + fraction + "Z"


def signature(secret, timestamp, body):
    """base64(HMAC-SHA256(key=secret bytes, msg=timestamp + body)) (docs/outside-apis.md#zendesk-webhook-signatures).
    NB: current docs order is TIMESTAMP+BODY; an older doc example only verifies as BODY+TIMESTAMP
    (docs/outside-apis.md#zendesk-open-points). The sandbox follows the current docs."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def new_signing_secret():
    """Real secrets are 32 random bytes in base64, e.g. `wMZJU7Dlw7pd...n7zs=`
    (docs/outside-apis.md#zendesk-webhooks)."""
    return base64.b64encode(os.urandom(32)).decode()


def auth_headers(authentication):
    """Headers for a webhook's `authentication` object (basic_auth, bearer_token, api_key)."""
    if not authentication:
        return {}
    kind, data = authentication.get("type"), authentication.get("data") or {}
    if kind == "basic_auth":
        pair = f"{data.get('username', '')}:{data.get('password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    if kind == "bearer_token":
        return {"Authorization": f"Bearer {data.get('token', '')}"}
    if kind == "api_key":
        return {data.get("name", ""): data.get("value", "")}
    return {}


def recorded_headers(headers, secret_names):
    """Headers as the attempts API lists them; credentials show as `[SCRUBBED]` ([ZENPY-CASS])."""
    return [{"key": key, "value": "[SCRUBBED]" if key in secret_names else value} for key, value in headers.items()]


# ---- the payload ----------------------------------------------------------------------------------
def _id(value, none="0"):
    """Ids inside `detail` are strings; a user's missing organization is "0" (real delivery,
    docs/outside-apis.md#zendesk-webhook-events)."""
    return none if value is None else str(value)


def _upper(value):
    # NB: ticket event payloads give status/priority/type upper-case ("OPEN") in the ticket-events
    # docs examples; unverified against recorded traffic (docs/outside-apis.md#zendesk-open-points).
    return value.upper() if isinstance(value, str) else value


def ticket_detail(ticket, actor_id):
    """The ticket `detail` properties listed on the ticket-events docs page
    (docs/outside-apis.md#zendesk-webhook-events)."""
    return {
        "actor_id": _id(actor_id, None), "assignee_id": _id(ticket.get("assignee_id"), None),
        "brand_id": _id(ticket.get("brand_id"), None), "created_at": ticket["created_at"],
        "custom_status": _id(ticket.get("custom_status_id"), None), "description": ticket.get("description"),
        "external_id": ticket.get("external_id"), "form_id": _id(ticket.get("ticket_form_id"), None),
        "group_id": _id(ticket.get("group_id"), None), "id": str(ticket["id"]),
        "is_public": ticket.get("is_public", True), "organization_id": _id(ticket.get("organization_id"), None),
        "priority": _upper(ticket.get("priority")), "requester_id": _id(ticket.get("requester_id"), None),
        "status": _upper(ticket.get("status")), "subject": ticket.get("subject"),
        "submitter_id": _id(ticket.get("submitter_id"), None), "tags": list(ticket.get("tags") or []),
        "type": _upper(ticket.get("type")), "updated_at": ticket["updated_at"],
        "via": {"channel": ticket.get("via", {}).get("channel", "api")},
    }


def user_detail(user):
    """The user `detail` properties listed on the user-events docs page
    (docs/outside-apis.md#zendesk-webhook-events)."""
    return {
        "created_at": user["created_at"], "email": user.get("email"), "external_id": user.get("external_id"),
        "default_group_id": _id(user.get("default_group_id")), "id": str(user["id"]),
        "organization_id": _id(user.get("organization_id")), "role": user.get("role"),
        "updated_at": user["updated_at"],
    }


def organization_detail(org):
    return {
        "created_at": org["created_at"], "external_id": org.get("external_id"),
        "group_id": _id(org.get("group_id")), "id": str(org["id"]), "name": org["name"],
        "shared_comments": org.get("shared_comments", False), "shared_tickets": org.get("shared_tickets", False),
        "updated_at": org["updated_at"],
    }


def _change_event(account, event_type, previous, current):
    """`event` is {} for create/delete and {current, previous} for changes
    (docs/outside-apis.md#zendesk-webhook-events)."""
    if not current:
        return {}
    if "comment" in current:
        comment = current["comment"]
        author = account.users.get(comment["author_id"], {})
        return {"comment": {"id": str(comment["id"]), "body": comment["body"], "is_public": comment["public"],
                            "author": {"id": str(comment["author_id"]), "name": author.get("name"),
                                       "is_staff": author.get("role") in ("agent", "admin")}}}
    (key, new), = current.items()
    old = (previous or {}).get(key)
    if key == "tags":
        # NB: tags_changed reports what was added and removed (event-types docs).
        return {"tags_added": sorted(set(new or []) - set(old or [])),
                "tags_removed": sorted(set(old or []) - set(new or []))}
    if key.endswith("_id"):
        return {"current": _id(new, None), "previous": _id(old, None)}
    if event_type.startswith("zen:event-type:ticket.") and key in ("status", "priority", "type"):
        return {"current": _upper(new), "previous": _upper(old)}
    return {"current": new, "previous": old}


def _last_updater(account, ticket_id):
    for audit in reversed(account.ticket_events):
        if audit["ticket_id"] == ticket_id:
            return audit["updater_id"]
    return None


def envelope(account, event_type, kind, obj, previous, current, now):
    """The fixed event-subscribed payload: {type, account_id, id, time, zendesk_event_version,
    subject, detail, event} (docs/outside-apis.md#zendesk-webhook-events)."""
    if kind == "ticket":
        detail = ticket_detail(obj, _last_updater(account, obj["id"]))
    elif kind == "user":
        detail = user_detail(obj)
    else:
        detail = organization_detail(obj)
    return {
        "type": event_type, "account_id": account.id, "id": str(uuid.uuid4()), "time": iso_nano(now),
        "zendesk_event_version": EVENT_VERSION, "subject": f"zen:{kind}:{obj['id']}",
        "detail": detail, "event": _change_event(account, event_type, previous, current),
    }


# ---- delivery -------------------------------------------------------------------------------------
class WebhookDelivery:
    """A state listener that queues one invocation per subscribed active webhook and delivers it
    from daemon worker threads, so the API call that caused the event never waits.

    `retry_delays` are the waits before each retry (len + 1 attempts in all); tests shorten them.
    """

    def __init__(self, state, retry_delays=(2.0, 10.0, 30.0), timeout=10.0, workers=4):
        self.state = state
        self.retry_delays = tuple(retry_delays)
        # seconds; real webhooks time out after 10 s (secondary sources, docs/outside-apis.md#zendesk-webhook-events)
        self.timeout = timeout
        self.jobs = IdleWorkers(lambda job: self._attempt(*job), name="zendesk-webhooks", workers=workers)

    def __call__(self, account, event_type, kind, obj, previous, current):
        with account.lock:
            hooks = [hook for hook in account.webhooks.values()
                     if hook["status"] == "active" and event_type in hook["subscriptions"]]
            if not hooks:
                return
            now = self.state.clock.now()
            # Serialised now: later changes to `obj` must not leak into this event's payload.
            body = json.dumps(envelope(account, event_type, kind, obj, previous, current, now)).encode()
            for hook in hooks:
                invocation = {"id": new_ulid(now), "status": "accepted", "latest_completed_at": None,
                              "attempts": [], "created_at": now}
                hook["_invocations"].append(invocation)
                self.jobs.put((account, hook["id"], invocation, body, 1))

    def _attempt(self, account, hook_id, invocation, body, number):
        with account.lock:
            hook = account.webhooks.get(hook_id)
            if hook is None:  # deleted meanwhile: nothing more to send
                return
            endpoint, secret = hook["endpoint"], hook["_secret"]
            extra = dict(hook.get("custom_headers") or {})
            credentials = auth_headers(hook.get("authentication"))
        timestamp = iso(self.state.clock.now())
        headers = {
            "X-Zendesk-Webhook-Signature": signature(secret, timestamp, body),
            "Content-Type": "application/json; charset=utf-8",
            "X-Zendesk-Webhook-Id": hook_id,
            "X-Zendesk-Webhook-Invocation-Id": invocation["id"],
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "User-Agent": USER_AGENT,
            "X-Zendesk-Account-Id": str(account.id),
            **extra, **credentials,
        }
        status_code, status, response_headers, response_payload = self._send(endpoint, headers, body)
        retry = status != "success" and number <= len(self.retry_delays)
        with account.lock:
            completed = self.state.clock.now()
            invocation["attempts"].append({
                # NB: a recorded attempt's `id` equals its webhook's id ([ZENPY-CASS]); the sandbox
                # gives each attempt its own ULID so clients can tell them apart.
                "id": new_ulid(completed), "invocation_id": invocation["id"], "status_code": status_code,
                "status": status,
                "request": {"headers": recorded_headers(headers, set(credentials)), "payload": body.decode()},
                "response": {"headers": response_headers, "payload": response_payload},
                "completed_at": iso(completed),
            })
            invocation["status"] = "accepted" if retry else status
            invocation["status_code"] = status_code
            invocation["latest_completed_at"] = iso(completed)
        if retry:
            timer = threading.Timer(self.retry_delays[number - 1], self.jobs.put,
                                    args=((account, hook_id, invocation, body, number + 1),))
            timer.daemon = True
            timer.start()

    def _send(self, endpoint, headers, body):
        """One HTTP attempt -> (status_code, status, response headers, response payload)."""
        try:
            response = requests.post(endpoint, data=body, headers=headers, timeout=self.timeout,
                                     allow_redirects=False)
        except requests.Timeout:
            return None, "timeout", [], ""
        except requests.RequestException as error:
            # NB: real Zendesk reports an unreachable host as status 502 with a text/plain
            # "Error: ..." payload from its proxy ([ZENPY-CASS] attempts).
            return 502, "failed", [{"key": "Content-Type", "value": "text/plain; charset=utf-8"}], f"Error: {error}"
        code = response.status_code
        status = "success" if 200 <= code < 300 else "client error" if code < 500 else "server error"
        headers = [{"key": key, "value": value} for key, value in response.headers.items()]
        return code, status, headers, response.text[:10000]
