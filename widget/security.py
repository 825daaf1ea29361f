"""Request authentication: marketplace lifecycle signatures and the signed widget context."""
import base64
import functools
import hashlib
import hmac
import json
import time

import jwt

SIGNATURE_MAX_AGE = 300  # seconds (docs/architecture.md#lifecycle: older than 5 minutes → 401)
# A timestamp ahead of our clock (a lifecycle call's, a context's `iat`): a little clock skew, not a
# call signed to be replayed later.
SIGNATURE_MAX_SKEW = 30
CONTEXT_MAX_LIFETIME = 15 * 60  # seconds (docs/architecture.md#widget-context: `exp` at most 15 minutes after `iat`)
# A CRM page left open keeps working while it is used: we sign its context again (renew_context), up to
# a working day after the CRM signed it (`auth_time`), and while its user acted within the last hour
# (`active_at`: their own requests, not the page's automatic renewals and polling). Then the page asks
# for a reload, which gets a context the CRM signs afresh. A leaked context dies with them.
CONTEXT_ABSOLUTE_LIMIT = 8 * 3600
CONTEXT_IDLE_LIMIT = 3600
# A user's request re-signs a context whose recorded activity is older than this (touch_context), so
# activity between renewals counts.
ACTIVITY_STEP = 60
ENTITIES = ("Leads", "Contacts", "Accounts", "Deals")
# The widget context's user, each claim of one JSON type: a string "false" is not false, and is not true.
USER_CLAIM_TYPES = {"name": str, "email": str, "profile": str, "locale": str, "time_zone": str}


def marketplace_signature(secret, timestamp, body):
    """`sha256=` + hex HMAC-SHA256 of `timestamp + "." + raw body` (docs/architecture.md#lifecycle)."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


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


def renew_context(claims, secret, now=None, active=False, keep_admin=False):
    """Verified `claims` signed again for another CONTEXT_MAX_LIFETIME: the same org, user and record,
    nothing else of the old claims, and `is_admin` only if `keep_admin` (the CRM confirmed it just now:
    widget/admins.py). `active`: this renewal comes with a user's own request. None once the CRM signed
    the original CONTEXT_ABSOLUTE_LIMIT ago or its user has been idle CONTEXT_IDLE_LIMIT."""
    now = int(time.time() if now is None else now)
    signed_by_crm, active_at = session_times(claims)
    active_at = now if active else active_at
    if now - signed_by_crm >= CONTEXT_ABSOLUTE_LIMIT or now - active_at >= CONTEXT_IDLE_LIMIT:
        return None
    renewed = _our_claims(claims, iat=now, exp=now + CONTEXT_MAX_LIFETIME, active_at=active_at)
    if renewed["user"]["is_admin"] and not keep_admin:
        renewed["user"] = {**renewed["user"], "is_admin": False}
        renewed["admin_unconfirmed"] = True  # its admin pages say to reopen them from the CRM
    return jwt.encode(renewed, secret, algorithm="HS256")


def touch_context(claims, secret, now=None):
    """`claims` with the user's activity moved to `now`, signed again; nothing else changes (the same
    expiry: no rights outlive what was signed)."""
    now = int(time.time() if now is None else now)
    touched = _our_claims(claims, iat=claims["iat"], exp=claims["exp"], active_at=now)
    return jwt.encode(touched, secret, algorithm="HS256")


def _our_claims(claims, iat, exp, active_at):
    """What we sign: the org, user and record the CRM signed, its signing time, and no other claim."""
    ours = {"iss": claims["iss"], "sub": claims["sub"], "iat": iat, "exp": exp,
            "auth_time": session_times(claims)[0], "active_at": active_at, "user": claims["user"],
            "entity": claims.get("entity"), "entity_id": claims.get("entity_id")}
    if claims.get("admin_unconfirmed"):
        ours["admin_unconfirmed"] = True
    return ours


def session_times(claims):
    """(when the CRM signed the context's first ancestor, when its user last acted)."""
    signed_by_crm = claims.get("auth_time", claims["iat"])
    return signed_by_crm, claims.get("active_at", signed_by_crm)


def read_context_claims(token):
    """The unverified claims (to find the installation whose secret verifies them: verify_context then
    checks all of the token). NB: read with the standard library, as PyJWT's unverified decode checks the
    token character by character in Python, a tenth of a millisecond on every widget request."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError) as exc:  # binascii.Error and JSON's errors are ValueErrors
        raise ContextError("malformed widget context") from exc
    if not isinstance(claims, dict):
        raise ContextError("malformed widget context")
    return claims


def verify_context(token, secret, org_id, now=None):
    """Verify signature, issuer, expiry (at `now`), the 15-minute lifetime and the session's limits
    (CONTEXT_ABSOLUTE_LIMIT, CONTEXT_IDLE_LIMIT); return the claims (not to be changed: shared)."""
    now = time.time() if now is None else now
    claims = _signed_claims(token, secret, str(org_id))
    # NB: the CRM's clock may run a little ahead of ours; a context it signed "in a second" is fine.
    if not claims["iat"] <= now + SIGNATURE_MAX_SKEW or now >= claims["exp"]:
        raise ContextError("widget context is expired or not valid yet")
    signed_by_crm, active_at = session_times(claims)
    if now - signed_by_crm >= CONTEXT_ABSOLUTE_LIMIT or now - active_at >= CONTEXT_IDLE_LIMIT:
        raise ContextError("widget context's session has ended")
    return claims


@functools.lru_cache(maxsize=2048)
def _signed_claims(token, secret, org_id):
    """The claims of a context signed with `secret` by `org_id`, of the right types, whatever the time.
    Remembered per process: a page sends the same context with every request until it is renewed, and
    checking a signature is most of the cost of a widget request served from kept lists (README
    "Benchmarks"). A failure raises, and is not remembered."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=org_id,
                            options={"require": ["iss", "sub", "iat", "exp"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.PyJWTError as exc:
        raise ContextError(str(exc)) from exc
    times = [claims["iat"], claims["exp"]] + [claims[name] for name in ("auth_time", "active_at") if name in claims]
    if any(not isinstance(moment, (int, float)) or isinstance(moment, bool) for moment in times):
        raise ContextError("widget context's times are not numbers")  # JWT NumericDate
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
    if type(claims.get("admin_unconfirmed", False)) is not bool:
        raise ContextError("widget context's admin_unconfirmed is not a boolean")
    return claims
