"""The CRM sandbox's web UI: what a person clicks in the demo.

Sign in as a seeded user, browse and edit Leads, Contacts, Accounts, Deals and custom modules, and
use Settings → Marketplace to install, authorize, re-scope and uninstall "Zendesk for Zoho CRM".
Record pages host the extension's widgets in iframes with a signed context (`?ctx=`,
docs/architecture.md#widget-context).

The UI is a blueprint inside the CRM sandbox app and changes records only through the state's `Org`
methods, exactly as the API does, so notification channels fire for UI edits too.

Its session is a first-party signed cookie (shared with the accounts server's sign-in); every form
carries a CSRF token bound to it (Flask-WTF's, used without CSRFProtect so the API stays unaffected).
"""
import functools
import os
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, ValidationError, generate_csrf, validate_csrf

from ..accounts import sign_in, signed_in_user
from ..http import state as sandbox_state

CRM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The extension's public development defaults (README "Configuration", `flask --app wsgi demo`), so the demo
# needs no settings.
DEFAULT_EXTENSION_URL = "http://127.0.0.1:5000"
DEFAULT_MARKETPLACE_SECRET = "dev-only-marketplace-secret"

bp = Blueprint("crm_ui", __name__, template_folder=os.path.join(CRM_DIR, "templates"),
               static_folder=os.path.join(CRM_DIR, "static"), static_url_path="/crm/ui-static")


@dataclass
class Install:
    """What the marketplace keeps about one org's installation of the extension."""

    installation_id: int
    context_secret: str  # signs the widget contexts of this org (docs/architecture.md#widget-context); never shown
    scope_type: str  # admins | all | profiles
    scope_profiles: list = field(default_factory=list)
    installed_by: str = ""

    def allows(self, org, user):
        """F4, the same rule the extension enforces: admins always, else by scope."""
        if org.is_admin(user) or self.scope_type == "all":
            return True
        return self.scope_type == "profiles" and user["profile"]["name"] in self.scope_profiles


@dataclass
class UiSettings:
    extension_url: str
    marketplace_secret: str
    installs: dict = field(default_factory=dict)  # org id -> Install


def init_ui(app, extension_url=DEFAULT_EXTENSION_URL, marketplace_secret=DEFAULT_MARKETPLACE_SECRET):
    """Register the UI on the CRM sandbox app. `extension_url` is where our extension is served."""
    from . import marketplace, records  # noqa: F401  (they add their views to `bp`)

    app.extensions["crm_ui"] = UiSettings(extension_url.rstrip("/"), marketplace_secret)
    app.register_blueprint(bp)


def settings():
    return current_app.extensions["crm_ui"]


# ---- session ------------------------------------------------------------------------------------
def signed_in():
    """(org, user) of the session, or (None, None). The sign-in is the accounts server's, so signing in
    here also signs in on the consent page, as one Zoho sign-in does."""
    org, user = signed_in_user()
    if user is None or user.get("status") != "active":
        return None, None
    return org, user


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.org, g.user = signed_in()
        if g.user is None:
            return redirect(url_for("crm_ui.signin", next=request.full_path.rstrip("?")))
        g.is_admin = g.org.is_admin(g.user)
        g.install = settings().installs.get(g.org.id)
        return view(*args, **kwargs)
    return wrapper


@bp.before_request
def check_csrf():
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(error.args[0]) from None


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    return render_template("ui/message.html", title="Form expired",
                           message="This form has expired or did not come from this page. Go back, reload and "
                                   "try again."), 400


@bp.context_processor
def ui_globals():
    return {"csrf_token": generate_csrf, "nav_modules": nav_modules}


def nav_modules():
    """Tabs of the left navigation: the modules the signed-in user's profile may see."""
    org, user = g.get("org"), g.get("user")
    if org is None:
        return []
    return [m for m in org.modules.values() if can_see_module(org, user, m)]


def can_see_module(org, user, module):
    if not module.meta.get("show_as_tab", True) or module.meta.get("status") != "visible":
        return False
    profile_ids = {p["id"] for p in module.meta.get("profiles") or []}
    return org.is_admin(user) or not profile_ids or user["profile"]["id"] in profile_ids


# ---- sign-in ------------------------------------------------------------------------------------
@bp.route("/crm/signin", methods=["GET", "POST"])
def signin():
    state, error = sandbox_state(), None
    email = request.form.get("email", "")
    if request.method == "POST":
        org, user = state.find_user(email)
        if user is None or org.passwords.get(user["id"]) != request.form.get("password", ""):
            error = "Wrong email or password."
        elif user.get("status") != "active":
            error = "This user is not active."
        else:
            sign_in(org, user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("ui/signin.html", error=error, email=email, demo_users=_demo_users(state)), (
        401 if error else 200)


def _safe_next(target):
    """Only same-site paths, never another host (open-redirect guard)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("crm_ui.home")


def _demo_users(state):
    """Every seeded user with its password: this is a sandbox, the list is the demo's login sheet."""
    rows = []
    for centre in state.data_centres.values():
        for org in centre.orgs.values():
            for user in org.users.values():
                rows.append({"email": user["email"], "password": org.passwords[user["id"]],
                             "name": user["full_name"], "profile": user["profile"]["name"],
                             "org": org.company_name, "dc": org.dc.upper()})
    return rows


@bp.post("/crm/signout")
def signout():
    session.pop("crm_user", None)  # the accounts server's sign-in (accounts.py)
    return redirect(url_for("crm_ui.signin"))


@bp.get("/")
@bp.get("/crm/")
@login_required
def home():
    first = next(iter(nav_modules()), None)
    if first is None:
        abort(404)
    return redirect(url_for("crm_ui.record_list", module_name=first.api_name))
