"""Authorising iframe requests from the signed widget context (docs/architecture.md#widget-context) — no cookies
involved.

The CRM opens our pages with `?ctx=<JWT>`; pages put it into `hx-headers`, so every HTMX request
carries it as `X-Widget-Context`. Every request is authorised from it: valid signature, the user
inside the install scope (F4), an admin for settings.

A context lives 15 minutes, but CRM pages stay open for hours: once a context is CONTEXT_RENEW_AFTER
seconds old, the answer carries it signed again (`X-Widget-Context-Renewed`, and in the links and
forms it renders), and static/js/widget.js swaps it in; an idle page asks for a renewal every few
minutes. A renewal carries the same org, user and record; `is_admin` only when the CRM confirms it
again (widget/admins.py), else the admin pages say to reopen them from the CRM.

An open page keeps working while its user uses it: up to security.CONTEXT_ABSOLUTE_LIMIT after the CRM
signed it, and until its user has done nothing for security.CONTEXT_IDLE_LIMIT. Requests the page makes
by itself don't count as the user's: the idle page's renewal (/context/renew) and polling, which send
`X-Widget-Background: 1` (static/js/widget.js sends it for the renewal and for every element marked
`data-widget-background`, such as the sync progress in settings/_sync.html).
"""
import functools
import time
from typing import NamedTuple

from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from flask.ctx import _AppCtxGlobals
from flask_babel import gettext as _

from . import local_copy
from .admins import confirmed_admin
from .crypto import decrypt_json_kept
from .extensions import PreparedSelect, db
from .models import Installation, in_scope
from .security import (ACTIVITY_STEP, ContextError, read_context_claims, renew_context, session_times,
                       touch_context, verify_context)

HEADER = "X-Widget-Context"
RENEWED_HEADER = "X-Widget-Context-Renewed"
# Sent by requests the page makes by itself (renewal pings, polling): not the user's activity.
BACKGROUND_HEADER = "X-Widget-Background"
bp = Blueprint("context", __name__)
clock = time.time  # the server's clock (tests move it)


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def current_context():
    """Verify the request's context; set g.installation (loaded when first used), g.installation_key,
    g.local_copy_version, g.user, g.claims, g.context_token and g.locale."""
    token = token_sent()
    now = clock()
    checked = checked_context(token, now)
    signer, claims = checked.signer, checked.claims
    g.installation_id, g.installation_key, g.local_copy_version = signer.id, signer.installation_key, signer.version
    g.claims, g.user, g.context_token, g.locale = claims, claims["user"], token, checked.language
    if not admits(signer, claims):  # after g.locale: the refusal speaks the user's language
        raise _turned_away(signer, claims)
    g.context_token = signed_again(checked.secret, claims, now) or token


class CheckedContext(NamedTuple):
    signer: tuple  # what _signer reads: the installation's id, status, scope, key and local copy version
    claims: dict
    secret: str
    language: str  # "ja" or "en", from the user's CRM locale


def checked_context(token, now):
    """The request's context checked at `now` against its installation (no Flask request needed, so the
    kept lists' answers use it too: record/kept_answers.py). Raises Refused for a missing or invalid
    context or an unknown org; whether the installation lets its user in is `admits`."""
    if not token:
        raise Refused(401, _("Open this page from Zoho CRM: it needs the CRM's signed context."))
    try:
        org_id = str(read_context_claims(token).get("iss", ""))
        signer = _signer(org_id)
        if signer is None:
            raise Refused(401, _("Zendesk for Zoho CRM is not installed in this CRM account."))
        secret = decrypt_json_kept(signer.context_secret_ciphertext)
        claims = verify_context(token, secret, org_id, now=now)
    except ContextError:
        raise Refused(401, _("This page's sign-in has expired or is not valid. Reload the CRM page.")) from None
    language = "ja" if str(claims["user"].get("locale", "")).lower().startswith("ja") else "en"
    return CheckedContext(signer, claims, secret, language)


def admits(signer, claims):
    """Whether the installation lets the context's user in: installed (not being uninstalled) and the
    user inside the install scope (F4)."""
    return signer.status == "installed" and in_scope(signer.scope_type, signer.scope_profiles, claims["user"])


def _turned_away(signer, claims):
    if signer.status != "installed":  # uninstalling (docs/architecture.md#uninstall): refuse at once
        return Refused(410, _("Zendesk for Zoho CRM is being uninstalled from this CRM account."))
    if claims.get("admin_unconfirmed"):  # out of scope as a mere user: the CRM did not confirm the admin
        return Refused(403, admin_unconfirmed_message())
    return Refused(403, _("Your CRM profile does not have access to Zendesk for Zoho CRM. "
                          "Ask your CRM administrator."))


def _signer(org_id):
    """What checking a context needs of the org's installation, with its local copy's version: a row read
    on a connection of its own, not an ORM object in the session (a kept related list needs nothing
    else: README "Benchmarks"). The views load the Installation itself when they use it (g.installation)."""
    return _SIGNER.first(org_id=org_id)


_SIGNER = PreparedSelect(db.select(  # built once: it runs on every widget request
    Installation.id, Installation.status, Installation.scope_type, Installation.scope_profiles,
    Installation.context_secret_ciphertext, Installation.installation_key, local_copy.version_of(Installation.id)
).where(Installation.org_id == db.bindparam("org_id")))


class WidgetGlobals(_AppCtxGlobals):
    """Flask's `g`, whose `installation` is the ORM object of `installation_id`, loaded when first used."""

    @property
    def installation(self):
        if "_installation" not in self.__dict__:
            if self.__dict__.get("installation_id") is None:
                raise AttributeError("installation")
            self.__dict__["_installation"] = db.session.get(Installation, self.installation_id)
        return self.__dict__["_installation"]

    @installation.setter
    def installation(self, value):
        self.__dict__["_installation"] = value


def signed_again(secret, claims, now):
    """The context the answer hands back (what the pages render into their links and forms from now
    on), or None to keep the one sent: renewed once it is CONTEXT_RENEW_AFTER old, or with the user's
    activity recorded when it is behind by ACTIVITY_STEP."""
    active = request.headers.get(BACKGROUND_HEADER) != "1" and request.endpoint != "context.renew"
    if renewal_due(claims, now):
        keep_admin = claims["user"]["is_admin"] and confirmed_admin(g.installation, claims["user"]["id"], now)
        return renew_context(claims, secret, now=now, active=active, keep_admin=keep_admin)
    return touched(secret, claims, now, active)


def renewal_due(claims, now):
    return now - claims["iat"] >= current_app.config["CONTEXT_RENEW_AFTER"]


def touched(secret, claims, now, active):
    """The context with its user's activity recorded when `active` and it is ACTIVITY_STEP behind, else None."""
    if active and now - session_times(claims)[1] >= ACTIVITY_STEP:
        return touch_context(claims, secret, now=now)
    return None


def admin_unconfirmed_message():
    return _("Your administrator rights could not be confirmed with Zoho CRM. Reopen this page from Zoho CRM.")


def widget_view(admin=False, record=False):
    """Decorator: the view runs only for a verified context inside the install scope (and admin). With
    `record`, the view's `entity` and `record_id` must be the record the CRM signed the context for: the
    install scope lets a user open the widget, not read every record's tickets by changing the URL."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                current_context()
                if admin and not g.user.get("is_admin"):
                    if g.claims.get("admin_unconfirmed"):
                        raise Refused(403, admin_unconfirmed_message())
                    raise Refused(403, _("Only a CRM administrator can change these settings."))
                if record:
                    require_entity(kwargs["entity"])
                    if (g.claims.get("entity"), g.claims.get("entity_id")) != (kwargs["entity"], kwargs["record_id"]):
                        raise Refused(403, _("This page belongs to another CRM record. Open it from that record."))
            except Refused as refused:
                return render_template("refused.html", message=refused.message), refused.status
            response = make_response(view(*args, **kwargs))
            if g.context_token != token_sent():
                response.headers[RENEWED_HEADER] = g.context_token
            return response
        return wrapper
    return decorate


def token_sent():
    return request.headers.get(HEADER) or request.args.get("ctx") or request.form.get("ctx")


@bp.get("/context/renew")
@widget_view()
def renew():
    """Asked for by an idle page (static/js/widget.js): nothing but the renewed context's header. Never
    the user's activity, whatever the request says."""
    return "", 204


def require_entity(entity):
    if entity not in ("Leads", "Contacts", "Accounts", "Deals"):
        abort(404)
