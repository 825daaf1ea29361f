"""What the CRM side signs for the extension, written from the contract (README "How it is built"), never
with the extension's code: a signing mistake on either side must show up as a refused call.

- Lifecycle calls: `X-Marketplace-Timestamp` (Unix seconds) and `X-Marketplace-Signature`, `sha256=` and
  the hex HMAC-SHA256, keyed with the marketplace secret, of `timestamp + "." + raw body`.
- Widget contexts: an HS256 JWT keyed with the installation's context secret: `iss` the org id, `sub`
  the user id, `iat`/`exp` (at most 15 minutes apart), `user` (id, name, email, profile, is_admin,
  locale, time zone) and the record (`entity`, `entity_id`) the widget is shown on.
"""
import hashlib
import hmac
import threading
import time

import jwt

CONTEXT_LIFETIME = 15 * 60  # seconds: the longest the extension accepts
_sent = {}  # (timestamp, body) -> True, this process's calls of the last minutes (marketplace_headers)
_sent_lock = threading.Lock()
_SENT_KEPT = 600  # seconds: longer than the extension remembers a signature


def mint_context(secret, org_id, user, entity=None, entity_id=None, lifetime=CONTEXT_LIFETIME, now=None):
    """A widget context, signed as the CRM signs it for a page it frames."""
    now = int(time.time() if now is None else now)
    claims = {"iss": str(org_id), "sub": str(user["id"]), "iat": now, "exp": now + lifetime, "user": user,
              "entity": entity, "entity_id": None if entity_id is None else str(entity_id)}
    return jwt.encode(claims, secret, algorithm="HS256")


def marketplace_headers(secret, body, timestamp=None):
    """The headers of a signed lifecycle call with the raw `body`. Each call is a request of its own: two
    with the same body in the same second get different timestamps, as the extension accepts a
    signature once."""
    if timestamp is None:
        with _sent_lock:
            timestamp = int(time.time())
            while (timestamp, body) in _sent:
                timestamp -= 1
            _sent[(timestamp, body)] = True
            for old in [key for key in _sent if key[0] < timestamp - _SENT_KEPT]:
                del _sent[old]
    message = str(timestamp).encode() + b"." + body
    return {"X-Marketplace-Timestamp": str(timestamp),
            "X-Marketplace-Signature": "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}
