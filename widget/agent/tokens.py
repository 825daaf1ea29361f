"""Who may see the agent sidebar: the framework's signed first request, then a short-lived token of ours.

Zendesk opens our iframe with a POST whose form field `token` is a JWT signed RS256 with our app's key
(docs/agent-app.md): `iss` is `{subdomain}.zendesk.com`, `aud` is
`https://{subdomain}.zendesk.com/api/v2/apps/installations/{id}.json`, with `iat` and `exp`. We find the
installation whose Zendesk account and app installation these name, verify the token with the public key
Zendesk published for our app (kept when the app was installed: widget/agent/installing.py), and accept
it once per iframe: the token and the request's `app_guid` are remembered until the token expires (table
`used_signature`), so the same request sent again is refused, even inside the token's life; after its
life the token is expired anyway. NB: not once per token alone: the token names no ticket nor iframe and
has no nonce, so two tickets opened within one second get the same token, each in its own iframe.

Later requests (htmx) carry a token of ours in `X-Agent-Token`: HS256 under a key derived from SECRET_KEY
and the installation's own key, naming the installation, its Zendesk account and the app installation.
The signed request names no ticket: the page learns it in the browser from Zendesk's apps framework
(ZAF) client, as every ZAF app does, so the page's token names none either (a "page token") and is
exchanged once, by the panel's first request, for a token bound to that ticket for AGENT_TOKEN_LIFETIME.
The ticket the browser names is read from the Zendesk account the signed request named, with our grant:
the browser can choose a ticket of that account, never another account's. No cookie: the iframe is
third-party in the agent's browser.
"""
import hashlib
import hmac
import re
import secrets
import time
from datetime import datetime, timezone

import jwt
from flask import current_app

from ..extensions import db
from ..lifecycle.replay import remember_once
from ..models import Installation
from ..security import SIGNATURE_MAX_SKEW

# The framework's tokens live minutes; one living longer than this is not one it signed for an iframe.
FRAMEWORK_TOKEN_MAX_LIFETIME = 15 * 60
AGENT_TOKEN_LIFETIME = 15 * 60  # seconds; then the agent reopens the ticket (a new signed request)
# The page asks the ZAF client, then our server, at once (the SDK gives up on an answer after 5 s).
PAGE_TOKEN_LIFETIME = 2 * 60
AUDIENCE = re.compile(r"^https://([a-z0-9][a-z0-9-]{0,62})\.zendesk\.com/api/v2/apps/installations/(\d{1,20})\.json$")
OUR_ISSUER = "zendesk-for-zoho-crm/agent-sidebar"


class TokenRefused(Exception):
    """A signed request or token we do not accept; `reason` is for logs and tests, never shown as is."""

    def __init__(self, reason, status=401):
        super().__init__(reason)
        self.reason, self.status = reason, status


def verify_framework_token(token, app_guid, now=None):
    """The installation a framework token opens the panel for, once for the iframe `app_guid`. Raises
    TokenRefused."""
    try:
        unverified = jwt.decode(token or "", options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRefused("malformed token") from None
    match = AUDIENCE.match(str(unverified.get("aud", "")))
    if match is None:
        raise TokenRefused("audience is not a Zendesk app installation")
    subdomain, app_installation = match.groups()
    installation = db.session.scalar(db.select(Installation).filter_by(
        zendesk_subdomain=subdomain, zendesk_app_installation_id=app_installation))
    if installation is None or not installation.zendesk_app_public_key:
        raise TokenRefused("no installation has this Zendesk app installation")
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(token, installation.zendesk_app_public_key, algorithms=["RS256"],
                            audience=match.group(0), issuer=f"{subdomain}.zendesk.com", leeway=SIGNATURE_MAX_SKEW,
                            options={"require": ["iss", "aud", "iat", "exp"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.PyJWTError as error:
        raise TokenRefused(f"token not valid: {error}") from None
    if not all(isinstance(claims[name], int) and not isinstance(claims[name], bool) for name in ("iat", "exp")):
        raise TokenRefused("token times are not numbers")
    if now >= claims["exp"] + SIGNATURE_MAX_SKEW or claims["iat"] > now + SIGNATURE_MAX_SKEW:
        raise TokenRefused("token expired or not valid yet")
    if claims["exp"] - claims["iat"] > FRAMEWORK_TOKEN_MAX_LIFETIME:
        raise TokenRefused("token lives too long")
    if installation.status != "installed":
        raise TokenRefused("installation is being uninstalled", status=410)
    digest = "zaf:" + hashlib.sha256(f"{token}|{app_guid}".encode()).hexdigest()
    if not remember_once(digest, datetime.fromtimestamp(claims["exp"] + SIGNATURE_MAX_SKEW, timezone.utc)):
        raise TokenRefused("token used before")
    return installation


def _key(installation):
    return hmac.new(current_app.secret_key.encode(), b"agent-sidebar:" + installation.installation_key.encode(),
                    hashlib.sha256).hexdigest()


def mint_page_token(installation, now=None):
    """The token of the page the signed request answers: it names no ticket yet (see bind_page_token)."""
    return _mint(installation, {"ticket": None, "jti": secrets.token_urlsafe(16)}, PAGE_TOKEN_LIFETIME, now)


def mint_agent_token(installation, ticket_id, locale, now=None):
    """A token bound to one ticket, in the agent's locale."""
    return _mint(installation, {"ticket": int(ticket_id), "locale": locale}, AGENT_TOKEN_LIFETIME, now)


def _mint(installation, claims, lifetime, now):
    now = int(time.time() if now is None else now)
    claims = {"iss": OUR_ISSUER, "sub": str(installation.id), "zendesk": installation.zendesk_subdomain,
              "app_installation": installation.zendesk_app_installation_id, **claims,
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, _key(installation), algorithm="HS256")


def bind_page_token(claims):
    """Accept a page token's claims once (the panel's first request binds the page to its ticket); False
    when it was exchanged before, so a page token never opens a second ticket."""
    jti = claims.get("jti")
    if claims.get("ticket") is not None or not isinstance(jti, str) or not jti:
        return False
    digest = "agent-page:" + hashlib.sha256(jti.encode()).hexdigest()
    return remember_once(digest, datetime.fromtimestamp(claims["exp"], timezone.utc))


def verify_agent_token(token, now=None):
    """(installation, claims) of one of our tokens, still bound to the same Zendesk account and app
    installation; claims["ticket"] is None for a page token. Raises TokenRefused."""
    try:
        unverified = jwt.decode(token or "", options={"verify_signature": False})
        installation = db.session.get(Installation, int(unverified.get("sub", "")))
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenRefused("malformed agent token") from None
    if installation is None:
        raise TokenRefused("no such installation")
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(token, _key(installation), algorithms=["HS256"], issuer=OUR_ISSUER,
                            options={"require": ["iss", "sub", "iat", "exp"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.PyJWTError as error:
        raise TokenRefused(f"agent token not valid: {error}") from None
    if not isinstance(claims["exp"], int) or now >= claims["exp"]:
        raise TokenRefused("agent token expired")
    if "ticket" not in claims:
        raise TokenRefused("agent token names no ticket nor page")
    if (claims.get("zendesk"), claims.get("app_installation")) != (installation.zendesk_subdomain,
                                                                   installation.zendesk_app_installation_id):
        raise TokenRefused("agent token of another Zendesk account or app installation")
    if installation.status != "installed":
        raise TokenRefused("installation is being uninstalled", status=410)
    return installation, claims
