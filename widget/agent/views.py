"""The agent sidebar in Zendesk's ticket page (docs/agent-app.md): thin views over tokens.py and panel.py.

`POST /zendesk/sidebar` is the framework's signed first request: it answers the page at once with a page
token of ours. The page's script (static/js/agent_sidebar.js) asks Zendesk's apps framework client which
ticket is open and the agent's locale, then loads the panel by htmx (`GET .../tickets/<id>?locale=`), so a
slow CRM never holds the agent's page. That first panel request exchanges the page token, once, for one
bound to the ticket (answered in `X-Agent-Token`); every later request carries it. No cookie, no form
token: a cross-site form can't send that header, and nothing else authorises.
"""
import functools

from flask import Blueprint, g, make_response, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _

from ..extensions import csrf
from . import panel
from .tokens import (TokenRefused, bind_page_token, mint_agent_token, mint_page_token, verify_agent_token,
                     verify_framework_token)

HEADER = "X-Agent-Token"
COMPANY_MAX = 200  # the CRM's Company field length

bp = Blueprint("agent", __name__, url_prefix="/zendesk/sidebar")
csrf.exempt(bp)  # authorised by the signed token or our header, never by a cookie


@bp.app_template_filter("format_amount")
def format_amount(value):
    return format_decimal(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _locale(value):
    return "ja" if str(value or "").lower().startswith("ja") else "en"


def _expired():
    return _("This panel's sign-in has expired or is not valid. Reopen the ticket in Zendesk to see it again.")


@bp.post("")
def open_sidebar():
    """The signed first request: verify Zendesk's token, answer the page with a page token of ours. The
    agent's own locale comes later, from the ZAF client: until then the browser's language."""
    g.locale = _locale(request.accept_languages.best_match(["en", "ja"]))
    try:
        installation = verify_framework_token(request.form.get("token", ""), request.args.get("app_guid", ""))
    except TokenRefused as refused:
        message = (_("Zendesk for Zoho CRM is being uninstalled from this CRM account.") if refused.status == 410
                   else _("This panel could not be opened: Zendesk's signed request was not valid. Reload the ticket."))
        return render_template("refused.html", message=message), refused.status
    return render_template("agent/sidebar.html", agent_token=mint_page_token(installation))


def agent_view(binds=False):
    """The view runs for a valid token of ours, for the ticket in the URL. With `binds`, the page's token
    is accepted too, once: the answer carries a token bound to this ticket in `X-Agent-Token`."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(ticket_id, **kwargs):
            g.locale = _locale(request.args.get("locale"))
            try:
                g.installation, claims = verify_agent_token(request.headers.get(HEADER, ""))
            except TokenRefused as refused:
                return _message(_expired(), refused.status)
            bound = None
            if claims["ticket"] is None and binds:
                if not bind_page_token(claims):
                    return _message(_expired(), 401)
                bound = mint_agent_token(g.installation, ticket_id, g.locale)
            else:
                g.locale = _locale(claims.get("locale"))
                if claims["ticket"] != ticket_id:
                    return _message(_expired(), 403)
            response = make_response(view(ticket_id, **kwargs))
            if bound:
                response.headers[HEADER] = bound
            return response
        return wrapper
    return decorate


@bp.get("/tickets/<id:ticket_id>")
@agent_view(binds=True)
def ticket_panel(ticket_id):
    # `fresh`: the requester changed in Zendesk (the ZAF event): read it there, not from our local copy.
    return _panel(ticket_id, fresh=request.args.get("fresh") == "1")


@bp.post("/tickets/<id:ticket_id>/lead")
@agent_view()
def create_lead(ticket_id):
    """Create Lead in Zoho CRM for the requester no record matches; the panel then shows it."""
    company = request.form.get("company", "").strip()
    if len(company) > COMPANY_MAX:
        return _panel(ticket_id, company=company, status=422,
                      problem=_("The company name can have at most %(max)d characters.", max=COMPANY_MAX))
    return _panel(ticket_id, company=company, create=True)


def _panel(ticket_id, company="", create=False, problem=None, status=200, fresh=False):
    values = {"ticket_id": ticket_id, "company": company, "problem": problem}
    try:
        requester = panel.requester_of(g.installation, ticket_id, fresh=fresh)
        if requester is None:
            return _message(_("This ticket was not found in the Zendesk account."), 404)
        values.update(requester=requester, other_tickets=panel.other_tickets(g.installation, requester, ticket_id))
        if create and problem is None:
            values["customer"], values["created"] = panel.create_lead(g.installation, requester, company), True
        else:
            values["customer"] = panel.customer_of(g.installation, requester)
    except panel.CrmUnavailable as unavailable:
        values["unavailable"] = unavailable.kind
    return make_response(render_template("agent/_panel.html", **values), status)


def _message(message, status):
    return render_template("agent/_message.html", message=message), status
