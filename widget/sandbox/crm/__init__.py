"""The Zoho CRM sandbox: the accounts server of every data centre and the `/crm/v8` API, in one WSGI app.

`*.localhost` host names don't resolve for Python clients, so data centres are told apart by path prefix:

    accounts server of DC `dc`:  {base}/accounts/{dc}      (e.g. .../accounts/jp/oauth/v2/token)
    API domain of DC `dc`:       {base}/api/{dc}           (e.g. .../api/jp/crm/v8/Leads)

with dc in us, eu, in, au, jp, cn, ca, sa. The token endpoint's `api_domain` and the consent redirect's
`accounts-server` use these URLs, so a client that follows them (as the real multi-DC flow requires)
stays inside the sandbox. For the official Python SDK (docs/outside-apis.md#crm-python-sdk):

    DataCenter.Environment(url="{base}/api/{dc}", accounts_url="{base}/accounts/{dc}/oauth/v2/token",
                           file_upload_url="{base}/api/{dc}")

Each DC keeps its own orgs and tokens: a token from one DC is `INVALID_TOKEN` on another.
Sandbox-only control endpoints live under `/_sandbox/` (control.py).
"""
import os

from flask import Flask, request

from . import http
from .http import ApiError
from .seed import seed_company_org, seed_org
from .state import ALL_SCOPES, DATA_CENTRES, SandboxState
from .ui import DEFAULT_EXTENSION_URL, DEFAULT_MARKETPLACE_SECRET, init_ui

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
CLIENT_ID = "1000.ZENDESKFORZOHOCRMSANDBOXCLIENT"
CLIENT_NAME = "Zendesk for Zoho CRM"
DATASETS = ("standard", "company")  # what the orgs are seeded with


class Sandbox:
    """A sandbox's state and app, plus what Zoho's Self Client would hand a developer."""

    def __init__(self, state, app, refresh_tokens):
        self.state, self.app = state, app
        self.refresh_tokens = refresh_tokens  # dc -> the seeded admin's all-scopes refresh token

    def org(self, dc="us"):
        return self.state.data_centres[dc].org()

    def credentials(self, base_url):
        """Per data centre: accounts and API URLs, the client, a refresh token, and sign-in passwords."""
        client = self.state.clients[CLIENT_ID]
        centres = {}
        for dc, token in self.refresh_tokens.items():
            org = self.org(dc)
            accounts = f"{base_url}/accounts/{dc}"
            centres[dc] = {
                "accounts_url": accounts, "authorize_url": f"{accounts}/oauth/v2/auth",
                "token_url": f"{accounts}/oauth/v2/token", "api_domain": f"{base_url}/api/{dc}",
                "api_base_url": f"{base_url}/api/{dc}/crm/v8",
                "client_id": client["client_id"], "client_secret": client["client_secret"],
                "refresh_token": token, "scope": ALL_SCOPES,
                "org_id": org.id, "company_name": org.company_name, "edition": org.edition,
                "users": [{"email": u["email"], "password": org.passwords[u["id"]], "name": u["full_name"],
                           "profile": u["profile"]["name"], "role": u["role"]["name"]} for u in org.users.values()],
            }
        return {
            "base_url": base_url, "client_id": client["client_id"], "client_secret": client["client_secret"],
            "redirect_uris": "any http://127.0.0.1:* or http://localhost:* URL (loopback is open)",
            "web_ui_url": f"{base_url}/", "data_centres": centres,
        }


def create_sandbox(data_centres=tuple(DATA_CENTRES), edition="enterprise", seed_records=0, seed=1,
                   extension_url=DEFAULT_EXTENSION_URL, marketplace_secret=DEFAULT_MARKETPLACE_SECRET,
                   dataset="standard"):
    """A sandbox with one seeded org in each of `data_centres`: about `seed_records` records at random
    (dataset "standard"), or the demo's company (dataset "company", widget/sandbox/company.py; its own
    size). The web UI's marketplace calls the extension at `extension_url`, signing with `marketplace_secret`."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    state = SandboxState()
    state.add_client(CLIENT_ID, CLIENT_NAME)
    from .seed import COMPANIES

    refresh_tokens = {}
    for index, dc in enumerate(data_centres):
        org = state.add_org(dc, COMPANIES[dc], edition)
        if dataset == "company":
            admin = seed_company_org(org)
        else:
            admin = seed_org(org, records=seed_records, seed=seed + index)
        refresh_tokens[dc] = state.issue_refresh_token(org, admin, CLIENT_ID, ALL_SCOPES.replace(",", " "))
    return Sandbox(state, create_app(state, extension_url, marketplace_secret), refresh_tokens)


def blueprints():
    """The app's blueprints; the CRM web UI adds its own here."""
    from . import metadata, watch  # noqa: F401  (they add their routes to api.bp)
    from .accounts import bp as accounts_bp
    from .api import bp as api_bp
    from .control import bp as control_bp

    return [accounts_bp, api_bp, control_bp]


def create_app(state, extension_url=DEFAULT_EXTENSION_URL, marketplace_secret=DEFAULT_MARKETPLACE_SECRET):
    from .watch import Notifier

    app = Flask(__name__, template_folder=TEMPLATES)
    app.config["SANDBOX_STATE"] = state
    app.config["SECRET_KEY"] = os.urandom(16).hex()
    # Every local service shares the host 127.0.0.1, and cookies ignore ports: use our own cookie name.
    app.config["SESSION_COOKIE_NAME"] = "zoho_crm_sandbox_session"
    app.json.sort_keys = False
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    init_ui(app, extension_url, marketplace_secret)  # the CRM web UI (ui/)
    notifier = Notifier()
    app.config["SANDBOX_NOTIFIER"] = notifier
    state.listeners.append(notifier)

    def in_api():
        return request.path.startswith("/api/")

    @app.errorhandler(ApiError)
    def api_error(error):
        return http.json_response(error.body(), error.status)

    @app.errorhandler(404)
    def unknown_path(error):
        return http.json_response(http.invalid_url().body(), 404) if in_api() else error

    @app.errorhandler(405)
    def wrong_method(error):
        if not in_api():
            return error
        return http.json_response(ApiError(400, "INVALID_REQUEST_METHOD",
                                           "The http request method type is not a valid one").body(), 400)

    @app.after_request
    def credit_headers(response):
        return http.add_credit_headers(response) if in_api() else response

    return app
