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
