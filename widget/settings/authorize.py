"""Authorizing Zoho CRM and Zendesk from the settings panel, the OAuth flows (F2, F5, F6;
docs/architecture.md#authorizing-the-two-services, docs/architecture.md#real-time,
docs/architecture.md#errors-and-safety); each grant's status is status.py's.

Both OAuth flows run in a top-level window of their own: Zendesk's and Zoho's sign-in pages refuse to
be framed, and our panel lives in a cross-site iframe. The provider sends the admin back to our
callback without any widget context and without any cookie, so the callback is authorised by the
`state` alone: signed with SECRET_KEY (a salt per flow), bound to the installation and the admin who
started it (CRM user id and email), and short-lived.

Both flows use PKCE (S256). The verifier lives nowhere between the redirect and the callback: it is
derived from the signed state (HMAC-SHA256 under SECRET_KEY, `_pkce_verifier`), so only we can compute
it, only for a state we signed, with nothing stored for any worker to share and nothing of it in the
URL; a code from one flow can't be redeemed with another flow's state, nor by whoever intercepts it.

The callback then checks that the account which consented is the admin who started: for Zoho, the
token's own user (the CRM's current-user API) is the admin's CRM user; for Zendesk, the authorizing
user (`users/me`) has the admin's email. A consent link sent to someone else thus connects nothing:
their token is revoked again and nothing is stored.
"""
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from flask import current_app, g, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from requests_oauthlib import OAuth2Session

from ..agent.installing import install_sidebar
from ..clients import crm, zendesk
from ..clients.http import AuthenticationError, InvalidRequest, NetworkError, RetryPolicy, ServiceError
from ..connections import crm_data_centres, save_grant, zendesk_client
from ..extensions import db
from ..lifecycle.install import ProvisioningError, on_crm_connected
from ..models import Installation
from ..urls import external_root

STATE_MAX_AGE = 15 * 60  # seconds between "Authorize" and the provider's redirect back
ZENDESK_STATE = "settings-zendesk-oauth-state"
CRM_STATE = "settings-crm-oauth-state"
# Calls made while the admin waits for a page: a second try at most, never a long back-off.
PAGE_POLICY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0, timeout=10.0)

# What the sync needs: records, custom modules and fields, users and org, notifications, COQL and
# search (docs/outside-apis.md#crm-scopes).
CRM_SCOPES = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.READ", "ZohoCRM.org.READ",
              "ZohoCRM.notifications.ALL", "ZohoCRM.coql.READ", "ZohoSearch.securesearch.READ")

# F2: plans that may not use the extension. NB: a deny-list on purpose: paid plans carry many names
# (Team, Professional, Enterprise, Suite …, and "Trial", which counts as paid).
UNPAID_PLANS = ("expired", "free")

WEBHOOK_NAME = "Zendesk for Zoho CRM"
# Event-subscribed webhook (docs/outside-apis.md#zendesk-webhooks, docs/outside-apis.md#zendesk-webhook-events): tickets
# and their comments, end-users and organizations — everything the real-time sync listens to.
WEBHOOK_EVENTS = tuple(f"zen:event-type:{name}" for name in (
    "ticket.created", "ticket.status_changed", "ticket.priority_changed", "ticket.type_changed",
    "ticket.subject_changed", "ticket.tags_changed", "ticket.agent_assignment_changed",
    "ticket.group_assignment_changed", "ticket.requester_changed", "ticket.organization_changed",
    "ticket.external_id_changed", "ticket.comment_added",
    "user.created", "user.deleted", "user.name_changed", "user.external_id_changed", "user.tags_changed",
    "user.custom_field_changed",
    "organization.created", "organization.deleted", "organization.name_changed",
    "organization.external_id_changed", "organization.tags_changed", "organization.custom_field_changed",
))


class AuthorizeFailed(Exception):
    """An authorization ended without a grant. `message` is for the admin, in plain words; `retry_url`
    starts the same authorization again (None when we can't tell whose it was)."""

    def __init__(self, message, retry_url=None, status=400):
        super().__init__(message)
        self.message, self.retry_url, self.status = message, retry_url, status


@dataclass(frozen=True)
class Authorized:
    """A finished authorization: what to tell the admin, and a problem with the follow-up set-up."""

    message: str
    warning: str = ""
    back_url: str = ""  # the CRM's pages, for a window that can't close itself


# ---- URLs and state ------------------------------------------------------------------------------

def external_url(endpoint, **values):
    return external_root() + url_for(endpoint, **values)


def _serializer(salt):
    return URLSafeTimedSerializer(current_app.secret_key, salt=salt)


def sign_state(salt, installation, admin, **extra):
    """The state of a flow `admin` (the widget context's user: id and email) starts."""
    locale = getattr(g, "locale", None) or "en"
    # The nonce makes every authorization's state (and so its PKCE verifier) unique.
    return _serializer(salt).dumps({"installation": installation.id, "user": str(admin["id"]),
                                    "email": str(admin.get("email") or ""), "locale": locale,
                                    "nonce": secrets.token_urlsafe(8), **extra})


def state_admin(data):
    """The admin a state was signed for, as sign_state takes it (to start the same flow again)."""
    return {"id": data["user"], "email": data.get("email", "")}


def read_state(salt, value):
    """(installation, the state's data) of a genuine, fresh state; AuthorizeFailed otherwise."""
    try:
        data = _serializer(salt).loads(value or "", max_age=STATE_MAX_AGE)
    except BadSignature:  # tampered, missing, of the other flow, or expired
        data = None
    installation = db.session.get(Installation, data["installation"]) if data else None
    if installation is None or installation.status != "installed":
        raise AuthorizeFailed(_("This authorization link is not valid or has expired. Close this window and "
                                "start again from the extension's settings in Zoho CRM."))
    g.locale = data.get("locale") or "en"  # the callback has no widget context: answer in the admin's language
    return installation, data


def _pkce_verifier(state):
    """RFC 7636 verifier derived from the state: only we can compute it, and only for this state."""
    digest = hmac.new(current_app.secret_key.encode(), b"pkce:" + state.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _pkce_challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def crm_home(installation):
    """The CRM's own pages in the org's data centre."""
    return crm_data_centres()[installation.data_center].web + "/crm/"


# ---- Zoho CRM ------------------------------------------------------------------------------------

def crm_authorization_url(installation, admin):
    """The consent page on the org's own data centre's accounts server, for `admin` (the context's user)."""
    centre = crm_data_centres()[installation.data_center]
    state = sign_state(CRM_STATE, installation, admin)
    return crm.authorization_url(centre.accounts_server, current_app.config["CRM_CLIENT_ID"],
                                 external_url("settings.crm_callback"), CRM_SCOPES, state,
                                 code_challenge=_pkce_challenge(_pkce_verifier(state)))


def finish_crm(args):
    """The CRM callback: check the state and the data centre, exchange the code (with the PKCE
    verifier), check the org and that its user is the admin who started, store the grant and set up the
    CRM side. Returns Authorized; raises AuthorizeFailed."""
    state = args.get("state", "")
    installation, data = read_state(CRM_STATE, state)
    retry = crm_authorization_url(installation, state_admin(data))
    if args.get("error") or not args.get("code"):
        raise AuthorizeFailed(_("Zoho CRM was not authorized: access was denied."), retry)
    centres = crm_data_centres()
    try:
        # NB: `accounts-server` comes from the browser: our secret goes only to a server we know
        # (docs/outside-apis.md#crm-oauth).
        dc = crm.known_accounts_server(args.get("accounts-server", ""), centres)
    except InvalidRequest:
        raise AuthorizeFailed(_("Zoho sent you back from an accounts server we don't know. Try again."), retry) from None
    if dc != installation.data_center:
        raise AuthorizeFailed(_("You signed in to a Zoho account in the %(signed)s data centre, but this CRM account "
                                "is in the %(expected)s data centre. Sign in as a user of this CRM account.",
                                signed=dc.upper(), expected=installation.data_center.upper()), retry)
    config, accounts_server = current_app.config, centres[dc].accounts_server
    with requests.Session() as http:
        try:
            token = crm.exchange_code(http, accounts_server, args["code"], config["CRM_CLIENT_ID"],
                                      config["CRM_CLIENT_SECRET"], external_url("settings.crm_callback"),
                                      PAGE_POLICY, code_verifier=_pkce_verifier(state))
            client = crm.CrmClient(http, token["api_domain"], token, accounts_server=accounts_server,
                                   client_id=config["CRM_CLIENT_ID"], client_secret=config["CRM_CLIENT_SECRET"],
                                   policy=PAGE_POLICY)
            org = client.org() or {}
            consenting = client.current_user() or {}
        except AuthenticationError:
            raise AuthorizeFailed(_("Zoho CRM did not accept this sign-in: it has expired or was already used. "
                                    "Try again."), retry) from None
        except ServiceError as error:
            raise AuthorizeFailed(_unreachable("Zoho CRM", error), retry, status=502) from None
        if str(org.get("id")) != installation.org_id:
            _quietly(client.revoke_refresh_token)
            raise AuthorizeFailed(_("You authorized a different Zoho CRM account than the one the extension is "
                                    "installed in. Sign in as a user of this CRM account."), retry)
        if str(consenting.get("id")) != data["user"]:
            _quietly(client.revoke_refresh_token)
            raise AuthorizeFailed(_("This authorization was started by another Zoho CRM user, so nothing was "
                                    "connected. The administrator who started it must sign in to Zoho CRM as "
                                    "themselves."), retry)
    installation.crm_edition = str((org.get("license_details") or {}).get("paid_type") or "free").lower()
    save_grant(installation, "crm", token, account=dc, api_base=token["api_domain"])
    return Authorized(_("Zoho CRM is connected."), warning=_provision_crm(installation) or "",
                      back_url=crm_home(installation))


def _provision_crm(installation):
    """The CRM side's set-up (custom modules, notification channel); a problem in plain words, or None."""
    try:
        on_crm_connected(installation)
    except ProvisioningError as error:
        return error.message
    return None


# ---- Zendesk -------------------------------------------------------------------------------------

def _zendesk_session():
    return OAuth2Session(current_app.config["ZENDESK_CLIENT_ID"],
                         redirect_uri=external_url("settings.zendesk_callback"), scope=zendesk.SCOPES)


def _zendesk_base(subdomain):
    return zendesk.account_base_url(current_app.config["ZENDESK_BASE_URL"], subdomain)


def save_subdomain(installation, subdomain):
    installation.zendesk_subdomain = subdomain
    db.session.commit()


def zendesk_authorization_url(installation, admin):
    """Zendesk's sign-in page for the saved subdomain, with a signed state and a PKCE challenge, for
    `admin` (the context's user)."""
    subdomain = installation.zendesk_subdomain
    state = sign_state(ZENDESK_STATE, installation, admin, subdomain=subdomain)
    url, _state = zendesk.authorization_url(_zendesk_session(), _zendesk_base(subdomain), state=state)
    challenge = {"code_challenge": _pkce_challenge(_pkce_verifier(state)), "code_challenge_method": "S256"}
    return f"{url}&{urlencode(challenge)}"


def finish_zendesk(args):
    """The Zendesk callback: check the state, exchange the code, check that the Zendesk user who
    authorized has the admin's email, refuse unpaid plans (F2), store the grant and register the
    webhook. Returns Authorized; raises AuthorizeFailed."""
    state = args.get("state", "")
    installation, data = read_state(ZENDESK_STATE, state)
    retry = zendesk_authorization_url(installation, state_admin(data))
    if args.get("error") or not args.get("code"):
        raise AuthorizeFailed(_("Zendesk was not authorized: access was denied."), retry)
    config, base_url = current_app.config, _zendesk_base(data["subdomain"])
    with _zendesk_session() as oauth, OAuth2Session(config["ZENDESK_CLIENT_ID"]) as api:
        try:
            token = zendesk.exchange_code(oauth, base_url, args["code"], config["ZENDESK_CLIENT_SECRET"],
                                          timeout=PAGE_POLICY.timeout, code_verifier=_pkce_verifier(state))
            client = zendesk.ZendeskClient(api, base_url, token=token,
                                           client_id=config["ZENDESK_CLIENT_ID"],
                                           client_secret=config["ZENDESK_CLIENT_SECRET"], policy=PAGE_POLICY)
            consenting = str(client.current_user().get("email") or "")
            plan = client.account_plan()
        except AuthenticationError:
            raise AuthorizeFailed(_("Zendesk did not accept this sign-in: it has expired or was already used. "
                                    "Try again."), retry) from None
        except ServiceError as error:
            raise AuthorizeFailed(_unreachable("Zendesk", error), retry, status=502) from None
        if not data.get("email") or consenting.lower() != data["email"].lower():
            _quietly(client.revoke_current_token)
            raise AuthorizeFailed(_("This authorization was started by another person: you signed in to Zendesk "
                                    "as %(email)s, so nothing was connected. The Zoho CRM administrator who "
                                    "started it must sign in to Zendesk with their own account, under the same "
                                    "email address as in Zoho CRM.", email=consenting or "?"), retry)
        if plan.lower() in UNPAID_PLANS:
            _quietly(client.revoke_current_token)  # nothing of an unpaid account is kept
            raise AuthorizeFailed(_("This Zendesk account is on the %(plan)s plan. Zendesk for Zoho CRM needs a "
                                    "paid Zendesk plan (a trial counts). Upgrade the plan, then try again.",
                                    plan=plan), retry)
    installation.zendesk_subdomain = data["subdomain"]
    grant = save_grant(installation, "zendesk", token, account=data["subdomain"], api_base=base_url, plan=plan)
    client = zendesk_client(installation, grant, policy=PAGE_POLICY)
    problems = [register_webhook(installation, client), install_sidebar(installation, client)]
    warning = " ".join(problem for problem in problems if problem)
    return Authorized(_("Zendesk is authorized as %(subdomain)s (plan %(plan)s).", subdomain=data["subdomain"],
                        plan=plan), warning=warning or "", back_url=crm_home(installation))


def zendesk_webhook_url(installation):
    # The webhooks blueprint serves POST /webhooks/zendesk/<installation_key> (docs/architecture.md#routes).
    return f"{external_root()}/webhooks/zendesk/{installation.installation_key}"


def register_webhook(installation, client):
    """The event-subscribed webhook real-time sync listens to (docs/architecture.md#real-time), its id and signing
    secret stored (the secret encrypted). A re-authorization replaces the previous webhook. Returns a problem
    in plain words, or None."""
    try:
        if installation.zendesk_webhook_id:
            client.delete_webhook(installation.zendesk_webhook_id)  # False when already gone: fine
            installation.zendesk_webhook_id = installation.zendesk_webhook_secret = None
            db.session.commit()
        webhook = client.create_webhook(WEBHOOK_NAME, zendesk_webhook_url(installation), WEBHOOK_EVENTS)
        installation.zendesk_webhook_id = str(webhook["id"])
        db.session.commit()  # the id first: uninstall can delete it even if the next call fails
        installation.zendesk_webhook_secret = client.webhook_signing_secret(webhook["id"])
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        return _("Zendesk is authorized, but real-time updates could not be set up (%(reason)s). "
                 "Re-authorize to try again.", reason=_reason("Zendesk", error))
    return None


# ---- plain words -----------------------------------------------------------------------------------

def _reason(service, error):
    if isinstance(error, NetworkError):
        return _("%(service)s could not be reached", service=service)
    return _("%(service)s answered: %(detail)s", service=service, detail=str(error))


def _unreachable(service, error):
    if isinstance(error, NetworkError):
        return _("%(service)s could not be reached. Check your connection and try again in a few minutes.",
                 service=service)
    return _("%(service)s answered with an error (%(detail)s). Try again in a few minutes.",
             service=service, detail=str(error))


def _quietly(action):
    """Best-effort clean-up of a grant we won't keep: a failure leaves a token that expires by itself."""
    try:
        action()
    except ServiceError:
        pass

