"""Authorising iframe requests from the signed widget context (DESIGN §4) — no cookies involved.

The CRM opens our pages with `?ctx=<JWT>`; pages put it into `hx-headers`, so every HTMX request
carries it as `X-Widget-Context`. Every request is authorised from it: valid signature, the user
inside the install scope (F4), an admin for settings.

A context lives 15 minutes, but CRM pages stay open for hours: once a context is CONTEXT_RENEW_AFTER
seconds old, the answer carries it signed again (`X-Widget-Context-Renewed`, and in the links and
forms it renders), and static/js/widget.js swaps it in; an idle page asks for a renewal every few
minutes. So an open page keeps working, up to security.CONTEXT_RENEW_LIMIT after the CRM signed it.
"""
import functools
import time

from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from flask_babel import gettext as _

from .extensions import db
from .models import Installation
from .security import ContextError, read_context_claims, renew_context, verify_context

HEADER = "X-Widget-Context"
RENEWED_HEADER = "X-Widget-Context-Renewed"
bp = Blueprint("context", __name__)


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def current_context():
    """Verify the request's context; set g.installation, g.user, g.claims, g.context_token, g.locale."""
    token = token_sent()
    if not token:
        raise Refused(401, _("Open this page from Zoho CRM: it needs the CRM's signed context."))
    try:
        org_id = str(read_context_claims(token).get("iss", ""))
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        if installation is None:
            raise Refused(401, _("Zendesk for Zoho CRM is not installed in this CRM account."))
        claims = verify_context(token, installation.context_secret, installation.org_id)
    except ContextError:
        raise Refused(401, _("This page's sign-in has expired or is not valid. Reload the CRM page.")) from None
    g.installation, g.claims, g.user, g.context_token = installation, claims, claims["user"], token
    g.locale = "ja" if str(claims["user"].get("locale", "")).lower().startswith("ja") else "en"
    if installation.status != "installed":  # uninstalling (DESIGN §7): refuse at once
        raise Refused(410, _("Zendesk for Zoho CRM is being uninstalled from this CRM account."))
    if not installation.allows(claims["user"]):
        raise Refused(403, _("Your CRM profile does not have access to Zendesk for Zoho CRM. "
                             "Ask your CRM administrator."))
    if time.time() - claims["iat"] >= current_app.config["CONTEXT_RENEW_AFTER"]:
        renewed = renew_context(claims, installation.context_secret)
        if renewed is not None:
            g.context_token = renewed  # what the pages render into their links and forms from now on


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
    """Asked for by an idle page (static/js/widget.js): nothing but the renewed context's header."""
    return "", 204


def require_entity(entity):
    if entity not in ("Leads", "Contacts", "Accounts", "Deals"):
        abort(404)
