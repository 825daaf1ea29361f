"""The admin settings panel: connect Zoho CRM, authorize Zendesk (F5, F6); the sync wizard is wizard.py."""
from flask import g, make_response, redirect, render_template, request, url_for

from ..context import widget_view
from . import authorize, bp, status
from .forms import ZendeskSubdomainForm
from .sync_views import sync_context


def settings_panel(form=None, authorization_url=None):
    """The whole page, or only the panel partial for htmx requests (same partial either way). Only what
    is stored: each service's live status loads in a fragment of its own (`_live_part`)."""
    installation = g.installation
    form = form or ZendeskSubdomainForm(subdomain=installation.zendesk_subdomain)
    template = "settings/_panel.html" if request.htmx else "settings/index.html"
    body = render_template(template, form=form, authorization_url=authorization_url, context_token=g.context_token,
                           crm=status.stored_status(installation, "crm"),
                           zendesk=status.stored_status(installation, "zendesk"),
                           installation=installation, **sync_context())
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _live_part(service):
    """One service's part of the panel, its grant checked live (or from the short cache). A grant found
    revoked reloads the panel (from storage) without the sync part; a lifted pause refreshes the sync part."""
    installation = g.installation
    found, lifted = status.check_grant(installation, service)
    body = render_template(f"settings/_{service}.html", **{service: found}, installation=installation,
                           form=ZendeskSubdomainForm(subdomain=installation.zendesk_subdomain),
                           authorization_url=None, context_token=g.context_token)
    response = make_response(body)
    if found.state == "revoked":
        response.headers["HX-Trigger"] = "grant-revoked"
    elif lifted:
        response.headers["HX-Trigger"] = "sync-resumed"
    return response


@bp.get("/crm/status")
@widget_view(admin=True)
def crm_status():
    """The Zoho CRM part with its live status (the panel loads it by itself)."""
    return _live_part("crm")


@bp.get("/zendesk/status")
@widget_view(admin=True)
def zendesk_status():
    """The Zendesk part with its live status and plan (the panel loads it by itself)."""
    return _live_part("zendesk")


@bp.get("")
@widget_view(admin=True)
def index():
    """Whichever applies: connect the CRM, authorize Zendesk, or (later) sync settings and dashboard."""
    return settings_panel()


@bp.post("/zendesk")
@widget_view(admin=True)
def save_zendesk():
    """F6 "Save and Authorize": save the subdomain, then on to Zendesk's sign-in page in its own window."""
    form = ZendeskSubdomainForm()
    if not form.validate_on_submit():
        return settings_panel(form)  # 200, so htmx swaps it: the message sits next to the field
    authorize.save_subdomain(g.installation, form.subdomain.data)
    url = authorize.zendesk_authorization_url(g.installation, g.user)
    return settings_panel(form, authorization_url=url) if request.htmx else redirect(url, 303)


@bp.get("/zendesk/authorize")
@widget_view(admin=True)
def authorize_zendesk():
    """(Re-)authorize the saved subdomain: a link opened in its own window, straight to Zendesk."""
    if not g.installation.zendesk_subdomain:
        return redirect(url_for("settings.index", ctx=g.context_token), 303)
    return redirect(authorize.zendesk_authorization_url(g.installation, g.user), 303)


@bp.get("/crm/connect")
@widget_view(admin=True)
def connect_crm():
    """Connect Zoho CRM: a link opened in its own window, to the org's own data centre's consent page."""
    return redirect(authorize.crm_authorization_url(g.installation, g.user), 303)


@bp.get("/zendesk/callback")
def zendesk_callback():
    """Zendesk sends the admin back here; the signed state, not a widget context, says who it is."""
    return _callback("zendesk", authorize.finish_zendesk)


@bp.get("/crm/callback")
def crm_callback():
    """Zoho sends the admin back here; the signed state, not a widget context, says who it is."""
    return _callback("crm", authorize.finish_crm)


def _callback(service, finish):
    try:
        done = finish(request.args)
    except authorize.AuthorizeFailed as failed:
        return render_template("settings/callback.html", service=service, ok=False, message=failed.message,
                               retry_url=failed.retry_url), failed.status
    return render_template("settings/callback.html", service=service, ok=True, message=done.message,
                           warning=done.warning, back_url=done.back_url)
