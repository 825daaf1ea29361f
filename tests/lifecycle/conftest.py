"""Both sandboxes over real HTTP, an extension app wired to them, and installations whose grants were
obtained the way the product obtains them (OAuth sign-in pages for Zendesk; the CRM's token endpoint)."""
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from requests_oauthlib import OAuth2Session

from tests.helpers import install, wired_config
from widget import create_app
from widget.clients import crm as crm_api
from widget.clients import zendesk as zd
from widget.connections import save_grant, zendesk_client
from widget.extensions import db
from widget.models import Installation
from widget.sandbox import crm as crm_sandbox
from widget.sandbox import zendesk as zendesk_sandbox

REDIRECT = "http://127.0.0.1:9/settings/zendesk/callback"
ZENDESK_ACCOUNTS = ("acme", "globex")


@pytest.fixture
def crm(serve):
    """The CRM sandbox with one org in JP and one in US (two tenants), on a free port."""
    sandbox = serve(crm_sandbox.create_sandbox(data_centres=("jp", "us")))
    sandbox.creds = sandbox.credentials(sandbox.url)
    return sandbox


@pytest.fixture
def zendesk_server(serve):
    """The Zendesk sandbox with two accounts (5 tickets each); `.server` can be stopped and `.restart()` brings it back
    on the same port with the same state."""
    sandbox = serve(zendesk_sandbox.create_sandbox(accounts=ZENDESK_ACCOUNTS, seed_tickets=5))
    sandbox.restart = lambda: serve(sandbox, port=sandbox.server.port)
    return sandbox


@pytest.fixture
def wired(tmp_path, crm, zendesk_server, monkeypatch):
    """The extension app configured for both sandboxes."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http sandboxes (connections.py)
    app = create_app(wired_config(tmp_path / "test.db", crm, zendesk_server, EXTENSION_URL="http://127.0.0.1:9"))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


# The scopes the settings ask for (widget/settings/authorize.py), search among them (the agent sidebar).
CRM_SCOPES = ["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.notifications.ALL", "ZohoCRM.users.READ",
              "ZohoCRM.org.READ", "ZohoCRM.coql.READ", "ZohoSearch.securesearch.READ"]


def _submit(browser, page, **fields):
    form = BeautifulSoup(page.text, "html.parser").find("form")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    data.update(fields)
    return browser.post(urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=5)


def crm_token(crm, dc):
    """A CRM grant of its own, as the product gets it: the org admin signs in on the accounts server,
    accepts, and the code is exchanged where the redirect says (docs/outside-apis.md#crm-oauth)."""
    centre, creds = crm_api.data_centres(crm.url)[dc], crm.creds
    admin = creds["data_centres"][dc]["users"][0]
    redirect_uri = "http://127.0.0.1:9/settings/crm/callback"
    url = crm_api.authorization_url(centre.accounts_server, creds["client_id"], redirect_uri, CRM_SCOPES)
    browser = requests.Session()
    signin = browser.get(url, timeout=5)
    signed_in = _submit(browser, signin, email=admin["email"], password=admin["password"])
    consent = browser.get(urljoin(signin.url, signed_in.headers["Location"]), timeout=5)
    redirect = _submit(browser, consent, decision="accept")
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["Location"]).query).items()}
    return crm_api.exchange_code(requests.Session(), query["accounts-server"], query["code"], creds["client_id"],
                                 creds["client_secret"], redirect_uri)


def crm_api_session(crm, dc):
    """An independent look into the CRM org of `dc` (the sandbox's Self-Client refresh token, not the
    installation's grant, so it still works after uninstall); `.base` is `{api_domain}/crm/v8`."""
    centre = crm.creds["data_centres"][dc]
    token = crm_api.refresh_token(requests.Session(), centre["accounts_url"], {"refresh_token": centre["refresh_token"]},
                                  centre["client_id"], centre["client_secret"])
    session = requests.Session()
    session.headers["Authorization"] = f"Zoho-oauthtoken {token['access_token']}"
    session.base = f"{token['api_domain']}/crm/v8"
    return session


def zendesk_token(sandbox, subdomain):
    """What the admin's browser does on Zendesk: sign in, press Allow; then the code exchange."""
    account = next(a for a in sandbox.credentials(sandbox.url)["accounts"] if a["subdomain"] == subdomain)
    session = OAuth2Session(zendesk_sandbox.CLIENT_ID, redirect_uri=REDIRECT, scope=list(zd.SCOPES))
    url, _ = zd.authorization_url(session, sandbox.url)
    browser = requests.Session()
    page = browser.get(url, timeout=5)
    form = BeautifulSoup(page.text, "html.parser").find("form")
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    fields.update(email=account["admin_email"], password=account["admin_password"])
    consent = browser.post(urljoin(page.url, form["action"]), data=fields, timeout=5)
    form = BeautifulSoup(consent.text, "html.parser").find("form")
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    button = form.find("button", {"value": "allow"})
    fields[button["name"]] = button["value"]
    answer = browser.post(urljoin(consent.url, form["action"]), data=fields, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    secret = sandbox.state.oauth_clients[zendesk_sandbox.CLIENT_ID].secret
    return zd.exchange_code(session, sandbox.url, code, secret)


@dataclass
class Tenant:
    org_id: str
    dc: str
    subdomain: str
    installed: dict  # the install answer (context_secret ...)
    crm_token: dict
    zendesk_token: dict


def connect_tenant(app, crm, zendesk_server, org_id, dc, subdomain, webhook=True):
    """Install for `org_id`, store both grants, register a Zendesk webhook (as settings will)."""
    client = app.test_client()
    installed = install(client, org_id=org_id, data_center=dc)
    crm_grant, zendesk_grant = crm_token(crm, dc), zendesk_token(zendesk_server, subdomain)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        centre = crm_api.data_centres(crm.url)[dc]
        save_grant(installation, "crm", crm_grant, account=centre.accounts_server, api_base=crm_grant["api_domain"])
        installation.zendesk_subdomain = subdomain
        save_grant(installation, "zendesk", zendesk_grant, account=subdomain)
        if webhook:
            hook = zendesk_client(installation).create_webhook(
                "Zendesk for Zoho CRM", f"http://127.0.0.1:9/webhooks/zendesk/{installation.installation_key}",
                ["zen:event-type:ticket.created"])
            installation.zendesk_webhook_id = hook["id"]
            db.session.commit()
    return Tenant(org_id, dc, subdomain, installed, crm_grant, zendesk_grant)
