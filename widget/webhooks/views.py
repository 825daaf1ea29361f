"""Real-time deliveries (F16; docs/architecture.md#routes, docs/architecture.md#real-time): Zendesk webhook events and
Zoho CRM change notifications.

Each delivery is verified, stored in the inbox (InboxEvent) and only then acknowledged with a 200;
processing happens off the request, in `widget.sync.inbox.drain`. Unknown installation key → 404,
failed verification → 401; nothing is stored for either.
"""
import hashlib
import hmac
import json
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request

from ..clients.zendesk import verify_webhook_signature
from sqlalchemy.exc import IntegrityError

from ..extensions import csrf, db
from ..sync import inbox
from .addresses import addresses

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # server-to-server posts, verified by signature or channel token, no browser form

# A signed Zendesk delivery older (or further in the future) than this is refused as a possible replay
# of a captured request. Zendesk signs every attempt afresh (its retries carry a new timestamp), so an
# honest delivery is seconds old; five minutes leaves room for clock skew, as the marketplace calls do.
MAX_SIGNATURE_AGE = 5 * 60


def _error(status, code, message):
    return jsonify(error=code, message=message), status


def _json_object(raw):
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _fresh(timestamp, now=None):
    """Is the signature timestamp (`2023-09-18T23:38:13Z`, docs/outside-apis.md#zendesk-webhook-signatures) within the
    window?"""
    try:
        signed_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return False
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return abs((now - signed_at).total_seconds()) <= MAX_SIGNATURE_AGE


def _verified(installation_key, verify):
    """The address of `installation_key` whose values pass `verify(address)`: (address, passed). Read
    again from the database when the remembered values don't pass (addresses.py)."""
    address = addresses().find(installation_key)
    if address is not None and not verify(address):
        address = addresses().find(installation_key, fresh=True)
    return address, address is not None and verify(address)


def _stored(installation_key, address, source, delivery_id, body, object_kind, object_id):
    try:
        created = inbox.store(address.installation_id, source, delivery_id, body, object_kind, object_id)
    except IntegrityError:  # the installation was removed since we remembered it
        db.session.rollback()
        addresses().forget(installation_key)
        return _error(404, "not_found", "No installation has this webhook address.")
    if created:
        inbox.trigger(address.installation_id)
    return jsonify(status="stored" if created else "duplicate"), 200


@bp.post("/zendesk/<installation_key>")
def zendesk(installation_key):
    raw = request.get_data(cache=False)
    timestamp = request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", "")
    signature = request.headers.get("X-Zendesk-Webhook-Signature", "")
    address, verified = _verified(installation_key, lambda known: verify_webhook_signature(
        known.zendesk_webhook_secret, timestamp, raw, signature))
    if address is None:
        return _error(404, "not_found", "No installation has this webhook address.")
    if not verified:
        return _error(401, "invalid_signature", "The webhook signature does not verify.")
    if not _fresh(timestamp):
        return _error(401, "stale_signature", "The webhook signature is too old.")
    body = _json_object(raw)
    if body is None or not isinstance(body.get("type"), str):
        return _error(400, "invalid_payload", "The body must be a Zendesk event (a JSON object with a type).")
    # The event's own `id` (a uuid, docs/outside-apis.md#zendesk-webhook-events) names the change: a retried attempt and
    # a second webhook of ours carry the same one. The invocation id is the fallback for a payload without it.
    delivery_id = str(body.get("id") or request.headers.get("X-Zendesk-Webhook-Invocation-Id") or "")
    if not delivery_id:
        return _error(400, "invalid_payload", "The event has no id.")
    kind, _, object_id = str(body.get("subject") or "").removeprefix("zen:").partition(":")  # zen:ticket:123
    return _stored(installation_key, address, "zendesk", delivery_id[:128], body, kind or None, object_id or None)


@bp.post("/crm/<installation_key>")
def crm(installation_key):
    body = _json_object(request.get_data(cache=False))
    token = body.get("token") if body else None
    # NB: the CRM signs nothing; the channel token we chose at enable time, echoed in every callback,
    # is the proof (docs/outside-apis.md#crm-notifications). Compared in constant time, with the channel id.
    address, verified = _verified(installation_key, lambda known: bool(
        known.crm_channel_token and isinstance(token, str)
        and hmac.compare_digest(token.encode(), known.crm_channel_token.encode())
        and str(body.get("channel_id")) == known.crm_channel_id))
    if address is None:
        return _error(404, "not_found", "No installation has this notification address.")
    if not verified:
        return _error(401, "invalid_token", "The notification's channel token does not match.")
    ids = body.get("ids")
    if not isinstance(body.get("module"), str) or not isinstance(ids, list):
        return _error(400, "invalid_payload", "The notification must name a module and record ids.")
    body = {key: value for key, value in body.items() if key != "token"}  # the secret is not kept
    # NB: a callback carries no delivery id (docs/outside-apis.md#crm-notifications). A redelivery repeats the body
    # exactly, so the hash of what identifies it (channel, module, operation, ids, server_time in ms) is its delivery
    # id. Two different notifications equal in all of these would only ask for the same re-read anyway.
    identity = [body.get("channel_id"), body["module"], body.get("operation"), sorted(map(str, ids)),
                body.get("server_time")]
    delivery_id = hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode()).hexdigest()
    object_id = str(ids[0]) if len(ids) == 1 else None
    return _stored(installation_key, address, "crm", delivery_id, body, body["module"], object_id)
