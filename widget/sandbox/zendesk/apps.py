"""Zendesk apps in the sandbox: marketplace apps with their key pairs, the Apps API an integration uses
to install one into an account, and the signed first request of a sidebar app's iframe.

What the real framework does, and the sandbox models (https://developer.zendesk.com/documentation/apps/
build-an-app/building-a-server-side-app/part-5-secure-the-app/):
- An app whose manifest says `"signedUrls": true` is opened by a POST to its location URL, with
  `?origin=<the Zendesk origin>&app_guid=<the iframe's id>` in the query and a form field `token`: a JWT
  signed RS256 with the app's private key. Its claims name the account (`iss`: `{subdomain}.zendesk.com`)
  and the app installation (`aud`: `https://{subdomain}.zendesk.com/api/v2/apps/installations/{id}.json`),
  with `iat` and `exp` (a few minutes later).
- The app's public key is published by the Apps API (`GET /api/v2/apps/{app_id}/public_key.pem`).
- `POST /api/v2/apps/installations` installs an app (`app_id`, `settings.name`); `DELETE
  /api/v2/apps/installations/{id}` removes it (https://developer.zendesk.com/api-reference/ticketing/
  apps/apps/).
- The app's page then learns the open ticket and the agent's locale in the browser, from the ZAF client
  (Zendesk's SDK, speaking postMessage to the agent page): `client.get(['ticket.id', 'currentUser.locale'])`.
  The agent UI's ticket page plays that host side with its own script (static/zaf_host.js; the messages
  are described there and in docs/agent-app.md), from what `sidebar_frames` gives each frame.

Marketplace apps are the sandbox's own (`Sandbox.publish_app` or `POST /_sandbox/apps`): a developer
publishes an app once, and every account installs it by its id.
"""
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Response, g, request

from . import http
from .http import json_response, state

TOKEN_LIFETIME = 300  # seconds; the framework's tokens are short-lived (NB: Zendesk publishes no figure)

bp = Blueprint("apps", __name__, url_prefix="/api/v2/apps")
control_bp = Blueprint("apps_control", __name__, url_prefix="/_sandbox")


@dataclass
class MarketplaceApp:
    id: int
    name: str
    sidebar_url: str  # the manifest's ticket_sidebar location URL
    private_key: object
    public_key_pem: str


@dataclass
class Marketplace:
    """Apps published to the sandbox's marketplace, and each account's installations of them."""

    apps: dict = field(default_factory=dict)  # app id -> MarketplaceApp
    installations: dict = field(default_factory=dict)  # subdomain -> {installation id -> installation dict}
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: object = field(default_factory=lambda: itertools.count(360_000_001))

    def publish(self, name, sidebar_url):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        with self.lock:
            app = MarketplaceApp(next(self._ids), name, sidebar_url, key, pem)
            self.apps[app.id] = app
        return app

    def install(self, account, app, name):
        with self.lock:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(account.now()))
            installation = {"id": next(self._ids), "app_id": app.id, "product": "support",
                            "settings": {"name": name, "title": name}, "enabled": True,
                            "created_at": now, "updated_at": now}
            self.installations.setdefault(account.subdomain, {})[installation["id"]] = installation
        return installation

    def of_account(self, account):
        with self.lock:
            return list(self.installations.get(account.subdomain, {}).values())

    def sidebar_apps(self, account):
        """(installation, app) of every enabled installation with a ticket sidebar."""
        return [(inst, self.apps[inst["app_id"]]) for inst in self.of_account(account)
                if inst["enabled"] and inst["app_id"] in self.apps]


def marketplace(sandbox_state):
    """The sandbox's marketplace (created with the state's first use of it)."""
    with _create_lock:
        if not hasattr(sandbox_state, "marketplace"):
            sandbox_state.marketplace = Marketplace()
    return sandbox_state.marketplace


_create_lock = threading.Lock()


def signed_token(account, installation, app, now=None, lifetime=TOKEN_LIFETIME, key=None):
    """The JWT the framework POSTs as the form field `token` when it opens the app's iframe. Signed at the
    wall clock's time, not the sandbox's: its clock is moved by tests (exports, token expiry), and the app
    checks the token with its own clock, as it would check real Zendesk's."""
    now = int(time.time() if now is None else now)
    claims = {"iss": f"{account.subdomain}.zendesk.com",
              "aud": f"https://{account.subdomain}.zendesk.com/api/v2/apps/installations/{installation['id']}.json",
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, key or app.private_key, algorithm="RS256")


def sidebar_frames(account, user, ticket, origin):
    """What the agent UI's ticket page needs to open each sidebar app: its form's action (only `origin` and
    `app_guid` in the query, as the framework sends), its token, and what the page's ZAF host script
    answers the app (`zaf`: the app's origin, its guid, the registration's metadata and context, and the
    values of the paths the app may `get`)."""
    requester = account.users.get(ticket.get("requester_id")) or {}
    frames = []
    for installation, app in marketplace(state()).sidebar_apps(account):
        guid = secrets.token_hex(8)
        separator = "&" if "?" in app.sidebar_url else "?"
        action = f"{app.sidebar_url}{separator}{urlencode({'origin': origin, 'app_guid': guid})}"
        zaf = {"origin": _origin_of(app.sidebar_url), "appGuid": guid,
               "metadata": {"appId": app.id, "installationId": installation["id"], "name": app.name,
                            "settings": installation["settings"]},
               "context": {"product": "support", "location": "ticket_sidebar",
                           "instanceGuid": guid, "account": {"subdomain": account.subdomain},
                           "ticketId": ticket["id"]},
               "data": {"ticket.id": ticket["id"], "ticket.subject": ticket.get("subject"),
                        "ticket.requester.email": requester.get("email"),
                        "currentAccount.subdomain": account.subdomain, "currentUser.id": user["id"],
                        "currentUser.email": user.get("email"), "currentUser.locale": user.get("locale") or "en-US"}}
        frames.append({"name": installation["settings"]["name"], "frame": f"app-{installation['id']}",
                       "action": action, "token": signed_token(account, installation, app), "zaf": zaf})
    return frames


def _origin_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# ---- the Apps API --------------------------------------------------------------------------------

@bp.before_request
def _authorize():
    """Installing and removing apps needs an admin and the apps (or broad) scope."""
    http.require_scope("apps", write=request.method != "GET")
    if request.method != "GET" or request.path.endswith("/installations"):
        http.require_admin()


def _installation_or_404(installation_id):
    found = next((inst for inst in marketplace(state()).of_account(g.account) if inst["id"] == installation_id), None)
    if found is None:
        raise http.not_found()
    return found


@bp.get("/<int:app_id>/public_key.pem")
def public_key(app_id):
    app = marketplace(state()).apps.get(app_id)
    if app is None:
        raise http.not_found()
    return Response(app.public_key_pem, mimetype="application/x-pem-file")


@bp.get("/installations")
def installations():
    return json_response({"installations": marketplace(state()).of_account(g.account)})


@bp.post("/installations")
def install():
    body = http.request_json()
    app_id = body.get("app_id")
    name = (body.get("settings") or {}).get("name") if isinstance(body.get("settings"), dict) else None
    app = marketplace(state()).apps.get(int(app_id)) if str(app_id or "").isdigit() else None
    if app is None:
        raise http.bad_request("app_id: the app does not exist or is not installable")
    if not isinstance(name, str) or not name.strip():
        raise http.record_invalid({"settings.name": [{"description": "Name: cannot be blank", "error": "BlankValue"}]})
    # NB: the sandbox lets an app be installed more than once, as private apps can be; an integration
    # that wants one installation looks for its own first.
    return json_response(marketplace(state()).install(g.account, app, name.strip()), 201)


@bp.get("/installations/<int:installation_id>")
def show_installation(installation_id):
    return json_response(_installation_or_404(installation_id))


@bp.delete("/installations/<int:installation_id>")
def remove_installation(installation_id):
    _installation_or_404(installation_id)
    market = marketplace(state())
    with market.lock:
        market.installations[g.account.subdomain].pop(installation_id, None)
    return Response(status=204)


# ---- sandbox-only: publishing an app -------------------------------------------------------------

@control_bp.post("/apps")
def publish():
    """Publish a marketplace app with a ticket sidebar (`name`, `url`); answers its id and public key."""
    body = request.get_json(silent=True) or {}
    name, url = body.get("name"), body.get("url")
    if not isinstance(name, str) or not name.strip() or not isinstance(url, str) \
            or not url.startswith(("http://", "https://")):
        return json_response({"error": "invalid", "message": "name and an http(s) url are required"}, 400)
    app = marketplace(state()).publish(name.strip(), url)
    return json_response({"app": {"id": app.id, "name": app.name, "url": app.sidebar_url,
                                   "public_key": app.public_key_pem}}, 201)

