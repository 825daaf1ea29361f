"""The Zendesk sandbox: a local Zendesk Support API (plus OAuth pages and a small agent UI).

`create_sandbox()` returns a `Sandbox` holding the in-memory state and a WSGI app that serves the API at
the root of its own port. Several accounts can live in one sandbox; a request reaches an account by
its Host subdomain (`acme.localhost`), else by its credentials, else the default account.
"""
import os

from flask import Flask, g, request

from . import http
from .apps import marketplace
from .http import ApiError, DroppedConnection
from .seed import seed_account, seed_company_account
from .state import RecordInvalid, SandboxState

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
CLIENT_ID = "zendesk_for_zoho_crm"
DATASETS = ("standard", "company")  # what the accounts are seeded with


class Sandbox:
    """A running sandbox's state and app, plus what an admin console would hand a developer."""

    def __init__(self, state, app):
        self.state, self.app = state, app

    def account(self, subdomain=None):
        return self.state.account(subdomain)

    def add_admin(self, name, email, password, subdomain=None):
        """Another administrator of an account, who can sign in on the OAuth pages: e.g. a CRM
        administrator under their CRM email, since the extension takes a Zendesk authorization only from
        the admin who started it (widget/settings/authorize.py)."""
        account = self.account(subdomain)
        user = account.create_user({"name": name, "email": email, "role": "admin", "verified": True}, notify=False)
        account.passwords[user["id"]] = password
        return user

    def publish_app(self, name, sidebar_url):
        """A marketplace app with a ticket sidebar at `sidebar_url` (signed URLs): what its developer
        publishes once, and accounts install by its id (apps.py)."""
        return marketplace(self.state).publish(name, sidebar_url)

    def credentials(self, base_url):
        """Subdomains, OAuth client, seeded admin and an API token, as a script needs them."""
        client = self.state.oauth_clients[CLIENT_ID]
        accounts = []
        for account in self.state.accounts.values():
            admin = next(u for u in account.users.values() if u["role"] == "admin")
            agents = [u for u in account.users.values() if u["role"] == "agent"]
            accounts.append({
                "subdomain": account.subdomain, "plan": account.plan,
                "admin_email": admin["email"], "admin_password": account.passwords[admin["id"]],
                "agent_emails": [a["email"] for a in agents],
                "agent_password": account.passwords[agents[0]["id"]] if agents else None,
                "api_token": next(iter(account.api_tokens)),
            })
        return {
            "base_url": base_url,
            "oauth_client_id": client.identifier,
            "oauth_client_secret": client.secret,
            "oauth_redirect_uris": "any http://127.0.0.1:* or http://localhost:* URL (loopback is open)",
            "authorize_url": f"{base_url}/oauth/authorizations/new",
            "token_url": f"{base_url}/oauth/tokens",
            "plan_url": f"{base_url}/api/v2/account/subscription.json",
            "agent_ui_url": f"{base_url}/agent",
            "apps": [{"id": app.id, "name": app.name, "url": app.sidebar_url}
                     for app in marketplace(self.state).apps.values()],
            "accounts": accounts,
        }


class _JsonSuffix:
    """Serve `/api/v2/x.json` and `/api/v2/x` alike (real clients use both;
    docs/outside-apis.md#zendesk-ids-and-urls)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/v2/") and path.endswith(".json"):
            environ["PATH_INFO"] = path[: -len(".json")]
        return self.wsgi_app(environ, start_response)


def create_sandbox(accounts=("acme",), plan="professional", seed_tickets=0, seed=1, dataset="standard"):
    """A sandbox with the given accounts, each seeded deterministically with `seed_tickets` tickets:
    random customers (dataset "standard"), or the demo's company (dataset "company", whose people are the
    CRM sandbox's company's: widget/sandbox/company.py)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    state = SandboxState()
    state.add_oauth_client(CLIENT_ID, "Zendesk for Zoho CRM")
    for index, subdomain in enumerate(accounts):
        seeder = seed_company_account if dataset == "company" else seed_account
        seeder(state.add_account(subdomain, plan), tickets=seed_tickets, seed=seed + index)
    return Sandbox(state, create_app(state))


def create_app(state):
    app = Flask(__name__, template_folder=TEMPLATES)
    app.config["SANDBOX_STATE"] = state
    app.config["SANDBOX_WINDOWS"] = {"account": http.MinuteWindow(), "incremental": http.MinuteWindow()}
    app.config["SECRET_KEY"] = os.urandom(16).hex()
    app.json.sort_keys = False

    from .api import bp as api_bp
    from .apps import bp as apps_bp
    from .apps import control_bp as apps_control_bp
    from .agent import bp as agent_bp
    from .control import bp as control_bp
    from .delivery import WebhookDelivery
    from .incremental import bp as incremental_bp
    from .memberships import bp as memberships_bp
    from .ticket_tags import bp as ticket_tags_bp
    from .oauth import bp as oauth_bp
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(agent_bp)
    app.register_blueprint(control_bp)
    app.register_blueprint(incremental_bp)
    app.register_blueprint(memberships_bp)
    app.register_blueprint(ticket_tags_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(apps_bp)
    app.register_blueprint(apps_control_bp)
    state.listeners.append(WebhookDelivery(state))

    @app.before_request
    def guard_api():
        if not request.path.startswith("/api/v2/"):
            return None
        http.inject_faults()
        http.authenticate()
        http.apply_limits(g.account, incremental=request.path.startswith("/api/v2/incremental/"))
        http.refuse_unpaid_plan(g.account)
        return None

    @app.after_request
    def standard_headers(response):
        return http.add_standard_headers(response) if request.path.startswith("/api/v2/") else response

    @app.errorhandler(ApiError)
    def api_error(error):
        return http.error_response(error)

    @app.errorhandler(RecordInvalid)
    def record_invalid(error):
        return http.error_response(http.record_invalid(error.details))

    @app.errorhandler(404)
    def unknown_path(error):
        if request.path.startswith("/api/v2/"):
            return http.error_response(ApiError(404, http.INVALID_ENDPOINT))
        return error

    @app.errorhandler(DroppedConnection)
    def drop(error):
        http.drop_connection()
        return http.error_response(ApiError(500, {"error": "InternalError", "description": "Connection dropped"}))

    app.wsgi_app = _JsonSuffix(app.wsgi_app)
    return app
