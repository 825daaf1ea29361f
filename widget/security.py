"""Request authentication: marketplace lifecycle signatures and the signed widget context."""
import hashlib
import hmac
import threading
import time

import jwt

SIGNATURE_MAX_AGE = 300  # seconds (DESIGN §4: older than 5 minutes → 401)
# A timestamp ahead of our clock: a little clock skew, not a call signed to be replayed later.
SIGNATURE_MAX_SKEW = 30
CONTEXT_MAX_LIFETIME = 15 * 60  # seconds (DESIGN §4: `exp` at most 15 minutes after `iat`)
# A CRM page left open keeps working: we sign its context again while it is in use, but no longer than
# this after the CRM signed it (`auth_time`); then the page asks for a reload.
CONTEXT_RENEW_LIMIT = 12 * 3600
ENTITIES = ("Leads", "Contacts", "Accounts", "Deals")
# The widget context's user, each claim of one JSON type: a string "false" is not false, and is not true.
USER_CLAIM_TYPES = {"name": str, "email": str, "profile": str, "locale": str, "time_zone": str}


def marketplace_signature(secret, timestamp, body):
    """`sha256=` + hex HMAC-SHA256 of `timestamp + "." + raw body` (DESIGN §4)."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


_sent = {}  # (timestamp, body) -> True, of this process's recent calls (marketplace_headers)
_sent_lock = threading.Lock()


def marketplace_headers(secret, body, timestamp=None):
    """The headers the marketplace (the CRM sandbox, tests) sends with a lifecycle call. Each call is a
    request of its own: two with the same body in the same second get different timestamps, since the
    extension refuses a signature it has seen (widget/lifecycle/replay.py)."""
    if timestamp is None:
        with _sent_lock:
            timestamp = int(time.time())
            while (timestamp, body) in _sent:
                timestamp -= 1
            _sent[(timestamp, body)] = True
            for old in [key for key in _sent if key[0] < timestamp - SIGNATURE_MAX_AGE]:
                del _sent[old]
    return {"X-Marketplace-Timestamp": str(timestamp),
            "X-Marketplace-Signature": marketplace_signature(secret, timestamp, body),
            "Content-Type": "application/json"}


def verify_marketplace_request(secret, headers, body, now=None):
    """True when the lifecycle request is signed with `secret`, at most 5 minutes old and at most
    SIGNATURE_MAX_SKEW seconds ahead. (Whether it was used before: widget/lifecycle/replay.py.)"""
    timestamp, signature = headers.get("X-Marketplace-Timestamp", ""), headers.get("X-Marketplace-Signature", "")
    if not timestamp.isdigit() or not signature:
        return False
    now = time.time() if now is None else now
    if not -SIGNATURE_MAX_SKEW <= now - int(timestamp) <= SIGNATURE_MAX_AGE:
        return False
    return hmac.compare_digest(marketplace_signature(secret, timestamp, body), signature)


class ContextError(Exception):
    """The widget context is missing, forged, expired or malformed."""


def mint_context(secret, org_id, user, entity=None, entity_id=None, lifetime=CONTEXT_MAX_LIFETIME, now=None):
    """Sign a widget context as the CRM side does (DESIGN §4)."""
    now = int(time.time() if now is None else now)
    claims = {"iss": str(org_id), "sub": str(user["id"]), "iat": now, "exp": now + lifetime,
              "user": user, "entity": entity, "entity_id": None if entity_id is None else str(entity_id)}
    return jwt.encode(claims, secret, algorithm="HS256")


def renew_context(claims, secret, now=None):
    """The verified `claims` signed again for another CONTEXT_MAX_LIFETIME (the same user, org and
    record), or None once the CRM signed the original more than CONTEXT_RENEW_LIMIT ago."""
    now = int(time.time() if now is None else now)
    signed_by_crm = int(claims.get("auth_time", claims["iat"]))
    if now - signed_by_crm > CONTEXT_RENEW_LIMIT:
        return None
    renewed = {**claims, "iat": now, "exp": now + CONTEXT_MAX_LIFETIME, "auth_time": signed_by_crm}
    return jwt.encode(renewed, secret, algorithm="HS256")


def read_context_claims(token):
    """The unverified claims (to find the installation whose secret verifies them)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ContextError("malformed widget context") from exc


def verify_context(token, secret, org_id):
    """Verify signature, issuer, expiry and the 15-minute lifetime; return the claims."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=str(org_id),
                            options={"require": ["iss", "sub", "iat", "exp"]})
    except jwt.PyJWTError as exc:
        raise ContextError(str(exc)) from exc
    if claims["exp"] - claims["iat"] > CONTEXT_MAX_LIFETIME:
        raise ContextError("widget context lives longer than 15 minutes")
    user = claims.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), (str, int)) or isinstance(user["id"], bool) \
            or str(user["id"]) != claims["sub"]:
        raise ContextError("widget context has no matching user")
    if type(user.get("is_admin")) is not bool:  # JSON true or false, nothing merely truthy
        raise ContextError("widget context's is_admin is not a boolean")
    if any(name in user and not isinstance(user[name], kind) for name, kind in USER_CLAIM_TYPES.items()):
        raise ContextError("widget context's user has a claim of the wrong type")
    if claims.get("entity") not in (None,) + ENTITIES:
        raise ContextError("unknown entity in widget context")
    if claims.get("entity_id") is not None and not isinstance(claims["entity_id"], str):
        raise ContextError("widget context's entity_id is not a string")
    return claims
