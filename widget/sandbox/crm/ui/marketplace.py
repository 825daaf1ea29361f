"""Settings → Marketplace: install (terms → scope → confirm), authorize, change permissions, uninstall.

Each action calls the extension's lifecycle URL, signed with the marketplace secret (docs/architecture.md#lifecycle).
The UI hides install/uninstall from non-admins, but never decides for the extension: whatever it refuses
(not an admin, unsupported data centre, ...) is shown to the person in its own words (`message`).
The install answer carries the context secret, sent once: installing again (say, after this sandbox
restarted and forgot) answers a new one, which replaces ours.
"""
import json

import requests
from flask import g, redirect, render_template, request, url_for

from ..signing import marketplace_headers
from . import Install, bp, login_required, settings
from .records import widget_context

EXTENSION = {"slug": "zendesk", "name": "Zendesk for Zoho CRM", "vendor": "Zendesk",
             "summary": "See Zendesk tickets on Leads, Contacts, Accounts and Deals, create tickets from the CRM, "
                        "and sync people and companies both ways."}
SCOPE_LABELS = {"admins": "Install for admins only", "all": "Install for all users",
                "profiles": "Choose profiles"}
LIFECYCLE_TIMEOUT = 15  # seconds


class LifecycleFailed(Exception):
    """The extension refused or could not be reached; `message` is for the person."""


def call_lifecycle(action, body):
    """POST a signed lifecycle call to the extension; the JSON answer, or LifecycleFailed."""
    config = settings()
    raw = json.dumps(body).encode()
    url = f"{config.extension_url}/lifecycle/{action}"
    try:
        response = requests.post(url, data=raw, headers=marketplace_headers(config.marketplace_secret, raw),
                                 timeout=LIFECYCLE_TIMEOUT)
    except requests.RequestException:
        raise LifecycleFailed(f"{EXTENSION['name']} could not be reached at {config.extension_url}. "
                              "Try again in a moment.") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.ok and isinstance(answer, dict):
        return answer
    if isinstance(answer, dict) and answer.get("message"):
        raise LifecycleFailed(answer["message"])  # docs/architecture.md#lifecycle: every error is {"error", "message"}
    raise LifecycleFailed(f"{EXTENSION['name']} answered with an unexpected error (HTTP {response.status_code}).")


def _person():
    user = g.user
    return {"id": user["id"], "name": user["full_name"], "email": user["email"], "is_admin": g.is_admin,
            "profile": user["profile"]["name"]}


def _scope_from_form():
    scope_type = request.form.get("scope_type", "")
    profiles = request.form.getlist("profiles") if scope_type == "profiles" else []
    return {"type": scope_type, "profiles": profiles}


def _choosable_profiles():
    """Profiles an installer can pick; administrators always have access, so they aren't listed."""
    return [p["name"] for p in g.org.profiles.values() if not p["_admin"]]


# ---- listing ------------------------------------------------------------------------------------
@bp.get("/crm/settings/marketplace")
@login_required
def marketplace():
    return render_template("ui/marketplace.html", tab="all", extension=EXTENSION)


@bp.get("/crm/settings/marketplace/installed")
@login_required
def installed():
    return render_template("ui/marketplace.html", tab="installed", extension=EXTENSION, scope_labels=SCOPE_LABELS)


# ---- install ------------------------------------------------------------------------------------
@bp.route("/crm/settings/marketplace/zendesk/install", methods=["GET", "POST"])
@login_required
def install():
    """Step 1 terms, step 2 scope, then Confirm calls /lifecycle/install."""
    step = request.form.get("step") if request.method == "POST" else "terms"
    if step == "terms" and request.method == "POST":
        if request.form.get("agree") != "yes":
            return _install_page("terms", error="Agree to the terms of service to continue.")
        return _install_page("scope")
    if step != "confirm":
        return _install_page("terms")
    scope = _scope_from_form()
    body = {"org_id": g.org.id, "org_name": g.org.company_name, "data_center": g.org.dc, "installer": _person(),
            "scope": scope}
    try:
        answer = call_lifecycle("install", body)
    except LifecycleFailed as failed:
        return _install_page("scope", error=str(failed), scope=scope)
    settings().installs[g.org.id] = Install(
        installation_id=answer["installation_id"], context_secret=answer["context_secret"],
        scope_type=answer["scope"]["type"], scope_profiles=answer["scope"]["profiles"],
        installed_by=g.user["full_name"])
    return redirect(url_for("crm_ui.installed_done"))


def _install_page(step, error=None, scope=None):
    return render_template("ui/install.html", step=step, error=error, extension=EXTENSION, labels=SCOPE_LABELS,
                           profiles=_choosable_profiles(), scope=scope or {"type": "admins", "profiles": []}), \
        (422 if error else 200)


@bp.get("/crm/settings/marketplace/zendesk/installed")
@login_required
def installed_done():
    """Installed: authorize now, or later from the Installed tab (F5)."""
    if g.install is None:
        return redirect(url_for("crm_ui.marketplace"))
    return render_template("ui/install.html", step="done", extension=EXTENSION)


# ---- settings (authorize, sync settings, dashboard: the extension's own page in an iframe) -------
@bp.get("/crm/settings/marketplace/zendesk/settings")
@login_required
def extension_settings():
    if g.install is None:
        return redirect(url_for("crm_ui.marketplace"))
    src = f"{settings().extension_url}/settings?ctx={widget_context()}"
    return render_template("ui/extension_settings.html", extension=EXTENSION, src=src)


# ---- the extension's web tab (as Zoho CRM shows an extension's web tab): its dashboard ----------
@bp.get("/crm/extension/zendesk")
@login_required
def extension_tab():
    if g.install is None or not g.install.allows(g.org, g.user):
        return redirect(url_for("crm_ui.home"))
    src = f"{settings().extension_url}/dashboard?ctx={widget_context()}"
    return render_template("ui/extension_tab.html", extension=EXTENSION, src=src)


# ---- change permissions -------------------------------------------------------------------------
@bp.route("/crm/settings/marketplace/zendesk/permissions", methods=["GET", "POST"])
@login_required
def permissions():
    if g.install is None:
        return redirect(url_for("crm_ui.marketplace"))
    error, scope = None, {"type": g.install.scope_type, "profiles": g.install.scope_profiles}
    if request.method == "POST":
        scope = _scope_from_form()
        try:
            answer = call_lifecycle("permissions", {"org_id": g.org.id, "changed_by": _person(), "scope": scope})
        except LifecycleFailed as failed:
            error = str(failed)
        else:
            g.install.scope_type, g.install.scope_profiles = answer["scope"]["type"], answer["scope"]["profiles"]
            return redirect(url_for("crm_ui.installed"))
    return render_template("ui/permissions.html", extension=EXTENSION, labels=SCOPE_LABELS, error=error,
                           profiles=_choosable_profiles(), scope=scope), (422 if error else 200)


# ---- uninstall ----------------------------------------------------------------------------------
@bp.route("/crm/settings/marketplace/zendesk/uninstall", methods=["GET", "POST"])
@login_required
def uninstall():
    """A confirm dialog saying what goes (docs/architecture.md#uninstall), then OK calls /lifecycle/uninstall."""
    if g.install is None:
        return redirect(url_for("crm_ui.marketplace"))
    error = None
    if request.method == "POST":
        try:
            call_lifecycle("uninstall", {"org_id": g.org.id, "uninstaller": _person()})
        except LifecycleFailed as failed:
            error = str(failed)
        else:
            settings().installs.pop(g.org.id, None)
            return redirect(url_for("crm_ui.marketplace", uninstalled=1))
    return render_template("ui/uninstall.html", extension=EXTENSION, error=error), (422 if error else 200)
