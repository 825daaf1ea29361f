"""Small helpers tests share: signed lifecycle calls and widget contexts, as the CRM side makes them."""
import json

import requests

from widget.security import marketplace_headers, mint_context

ADMIN = {"id": "u1", "name": "Aiko Admin", "email": "admin@example.jp", "is_admin": True,
         "profile": "Administrator", "locale": "en_US"}
REP = {"id": "u2", "name": "Ren Rep", "email": "rep@example.jp", "is_admin": False,
       "profile": "Sales Rep", "locale": "en_US"}


def lifecycle(client, action, body, secret=None, timestamp=None):
    raw = json.dumps(body).encode()
    secret = secret or client.application.config["MARKETPLACE_SECRET"]
    return client.post(f"/lifecycle/{action}", data=raw, headers=marketplace_headers(secret, raw, timestamp))


def install_body(org_id="org-1", data_center="jp", installer=ADMIN, scope=None):
    return {"org_id": org_id, "org_name": "Sakura Trading", "data_center": data_center, "installer": installer,
            "scope": scope or {"type": "admins"}}


def install(client, **kwargs):
    response = lifecycle(client, "install", install_body(**kwargs))
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def context_for(installed, user=ADMIN, org_id="org-1", entity="Contacts", entity_id="42", **kwargs):
    return mint_context(installed["context_secret"], org_id, user, entity, entity_id, **kwargs)


def zendesk_admin_session(sandbox, base_path="/api/v2"):
    """A requests session on a served Zendesk sandbox (`sandbox.url`), authenticated as the seeded admin
    with the API token; `.base` is its URL prefix."""
    creds = sandbox.credentials(sandbox.url)["accounts"][0]
    session = requests.Session()
    session.auth = (f"{creds['admin_email']}/token", creds["api_token"])
    session.base = f"{sandbox.url}{base_path}"
    return session


def wired_config(database_path, crm_sandbox, zendesk_sandbox, **extra):
    """Configuration of the extension wired to served sandboxes (`.url` set; the CRM's `.creds` too)."""
    zendesk = zendesk_sandbox.credentials(zendesk_sandbox.url)
    crm = getattr(crm_sandbox, "creds", None) or crm_sandbox.credentials(crm_sandbox.url)
    return {
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        "CRM_SANDBOX_URL": crm_sandbox.url, "CRM_CLIENT_ID": crm["client_id"], "CRM_CLIENT_SECRET": crm["client_secret"],
        "ZENDESK_BASE_URL": zendesk_sandbox.url, "ZENDESK_CLIENT_ID": zendesk["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk["oauth_client_secret"], **extra,
    }
