"""The settings panel driven as an admin's browser drives it: the extension through the Flask test
client (with the widget context, never a cookie), the providers' sign-in and consent pages through
`requests` over real HTTP, following their forms."""
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

from tests.helpers import ADMIN, context_for
from widget.extensions import db
from widget.models import Connection, Installation

CRM_USERS = {"jp": ("admin@jp.zylker.example", "jp-admin-pass"), "us": ("admin@us.zylker.example", "us-admin-pass")}
# The extension takes a Zendesk authorization only from the CRM admin who started it, by email: the
# Zendesk sandbox of these tests has an administrator under each CRM admin's email (conftest.py).
ZENDESK_ADMIN, ZENDESK_PASSWORD = ADMIN["email"], "zendesk-admin-pass"
ZENDESK_ADMIN_EMAILS = (ADMIN["email"],) + tuple(email for email, _password in CRM_USERS.values())
# The Zendesk account's own seeded administrator: someone else than any of our CRM admins.
SOMEONE_ELSE = ("admin@acme.example", "acme-admin-pass")


def soup(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


class Admin:
    """One CRM user of one installed org, looking at the settings panel."""

    def __init__(self, client, installed, org_id="org-1", user=ADMIN):
        self.client, self.installed, self.org_id, self.user = client, installed, org_id, user

    @property
    def ctx(self):
        return context_for(self.installed, user=self.user, org_id=self.org_id, entity=None, entity_id=None)

    def page(self, htmx=False):
        headers = {"X-Widget-Context": self.ctx}
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.get("/settings", headers=headers)

    def live(self, service):
        """The part of the panel that `service` ("crm" or "zendesk") loads by itself with its live status."""
        return self.client.get(f"/settings/{service}/status",
                               headers={"X-Widget-Context": self.ctx, "HX-Request": "true"})

    def form_token(self):
        return soup(self.page()).select_one("#zendesk-form input[name=csrf_token]")["value"]

    def save_subdomain(self, subdomain, token=None, htmx=True):
        """Press "Save and Authorize" as htmx does (the form fields plus the context header), or as a
        browser without JavaScript does (a plain form post, the context in its hidden field)."""
        data = {"subdomain": subdomain, "csrf_token": self.form_token() if token is None else token}
        if not htmx:
            return self.client.post("/settings/zendesk", data=dict(data, ctx=self.ctx))
        return self.client.post("/settings/zendesk", data=data,
                                headers={"X-Widget-Context": self.ctx, "HX-Request": "true"})

    def start_zendesk(self, subdomain="acme"):
        """The Zendesk sign-in URL the panel sends the authorization window to."""
        response = self.save_subdomain(subdomain)
        assert response.status_code == 200, response.get_data(as_text=True)
        link = soup(response).select_one("[data-authorization-url]")
        assert link is not None, response.get_data(as_text=True)
        return link["href"]

    def start_crm(self):
        response = self.client.get("/settings/crm/connect", query_string={"ctx": self.ctx})
        assert response.status_code == 303, response.get_data(as_text=True)
        return response.headers["Location"]

    def callback(self, location):
        """Follow the provider's redirect back to us (the test client serves http://localhost)."""
        parts = urlsplit(location)
        assert parts.hostname == "localhost", location
        return self.client.get(f"{parts.path}?{parts.query}")

    def installation(self):
        """The installation's columns as they are stored now (read in an app context of its own, so no
        request ever shares one with the test)."""
        with self.client.application.app_context():
            row = db.session.scalar(db.select(Installation).filter_by(org_id=self.org_id))
            return None if row is None else {
                "id": row.id, "key": row.installation_key, "zendesk_subdomain": row.zendesk_subdomain,
                "zendesk_webhook_id": row.zendesk_webhook_id, "zendesk_webhook_secret": row.zendesk_webhook_secret,
                "crm_modules": row.crm_modules, "crm_channel_id": row.crm_channel_id,
                "crm_edition": row.crm_edition}

    def grant(self, service):
        """The stored grant for `service` as {status, token, ciphertext, account, api_base}, or None."""
        with self.client.application.app_context():
            installation = db.session.scalar(db.select(Installation).filter_by(org_id=self.org_id))
            row = db.session.scalar(db.select(Connection).filter_by(installation_id=installation.id, service=service))
            return None if row is None else {"status": row.status, "token": row.token, "ciphertext": row.token_ciphertext,
                                             "account": row.account, "api_base": row.api_base}


def _form_fields(form):
    return {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}


def zendesk_consent(authorization_url, decision="allow", email=ZENDESK_ADMIN, password=ZENDESK_PASSWORD):
    """Sign in on the Zendesk sandbox's page and press Allow (or Deny); returns the redirect back."""
    browser = requests.Session()
    page = browser.get(authorization_url, timeout=10)
    assert page.status_code == 200, page.text
    form = BeautifulSoup(page.text, "html.parser").find("form")
    page = browser.post(urljoin(page.url, form["action"]),
                        data=dict(_form_fields(form), email=email, password=password), timeout=10)
    assert page.status_code == 200 and "Allow" in page.text, page.text
    form = BeautifulSoup(page.text, "html.parser").find("form")
    answer = browser.post(urljoin(page.url, form["action"]), data=dict(_form_fields(form), decision=decision),
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def crm_admin(crm_sandbox, dc="jp"):
    """The widget context's user for `dc`'s CRM admin, as the CRM signs it (the same id and email)."""
    user = crm_sandbox.org(dc).admin()
    return {"id": user["id"], "name": user["full_name"], "email": user["email"], "is_admin": True,
            "profile": "Administrator", "locale": "en_US"}


def crm_consent(authorization_url, dc="jp", decision="accept", email=None, password=None):
    """Sign in on the CRM sandbox's accounts server as `dc`'s admin (or as `email`) and Accept (or Deny)."""
    email, password = (email, password) if email else CRM_USERS[dc]
    browser = requests.Session()
    page = browser.get(authorization_url, timeout=10)
    form = BeautifulSoup(page.text, "html.parser").find("form")
    assert "signin" in form["action"], page.text
    page = browser.post(urljoin(page.url, form["action"]),
                        data=dict(_form_fields(form), email=email, password=password), timeout=10)
    assert "would like to access" in page.text, page.text
    form = BeautifulSoup(page.text, "html.parser").find("form")
    answer = browser.post(urljoin(page.url, form["action"]), data=dict(_form_fields(form), decision=decision),
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def query(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def with_query(url, **changes):
    parts = urlsplit(url)
    params = dict(query(url), **changes)
    return parts._replace(query="&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items())).geturl()
