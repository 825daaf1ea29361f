"""Authorising iframe requests from the signed widget context (DESIGN §4) — no cookies involved.

The CRM opens our pages with `?ctx=<JWT>`; pages put it into `hx-headers`, so every HTMX request
carries it as `X-Widget-Context`. Every request is authorised from it: valid signature, the user
inside the install scope (F4), an admin for settings.
"""
import functools

from flask import abort, g, render_template, request
from flask_babel import gettext as _

from .extensions import db
from .models import Installation
from .security import ContextError, read_context_claims, verify_context

HEADER = "X-Widget-Context"


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def current_context():
    """Verify the request's context; set g.installation, g.user, g.claims, g.context_token, g.locale."""
    token = request.headers.get(HEADER) or request.args.get("ctx") or request.form.get("ctx")
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


def widget_view(admin=False):
    """Decorator: the view runs only for a verified context inside the install scope (and admin)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                current_context()
                if admin and not g.user.get("is_admin"):
                    raise Refused(403, _("Only a CRM administrator can change these settings."))
            except Refused as refused:
                return render_template("refused.html", message=refused.message), refused.status
            return view(*args, **kwargs)
        return wrapper
    return decorate


def require_entity(entity):
    if entity not in ("Leads", "Contacts", "Accounts", "Deals"):
        abort(404)
