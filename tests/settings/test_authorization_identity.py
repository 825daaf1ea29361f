"""Both authorizations belong to the admin who started them, over real HTTP against the sandboxes: the
callback checks who consented (Zoho: the token's user, GET /crm/v8/users?type=CurrentUser; Zendesk:
GET /api/v2/users/me, by email), so a consent link sent to someone else connects nothing; and the Zoho
flow, like Zendesk's, uses PKCE (S256), its verifier derived from the signed state."""
import pytest
import requests

from tests.helpers import install
from tests.settings.flows import (SOMEONE_ELSE, ZENDESK_PASSWORD, Admin, crm_admin, crm_consent, query, soup,
                                  zendesk_consent)


@pytest.fixture
def crm_admin_page(client, crm_sandbox):
    """The JP CRM org's admin, on the settings of the extension installed in that org."""
    org_id = crm_sandbox.org("jp").id
    return Admin(client, install(client, org_id=org_id, data_center="jp"), org_id=org_id,
                 user=crm_admin(crm_sandbox, "jp"))


def assert_refused(response, message):
    assert response.status_code == 400
    assert message in soup(response).select_one("#authorization-result .error").get_text()
    assert b"Traceback" not in response.data


# ---- Zoho CRM ---------------------------------------------------------------------------------------

def test_the_crm_authorization_asks_with_a_pkce_challenge(crm_admin_page):
    params = query(crm_admin_page.start_crm())
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert query(crm_admin_page.start_crm())["code_challenge"] != params["code_challenge"]  # one per state


def test_an_intercepted_crm_code_is_worthless_without_the_verifier(crm_admin_page, crm_sandbox, app):
    location = crm_consent(crm_admin_page.start_crm())
    creds = crm_sandbox.credentials(crm_sandbox.url)
    stolen = requests.post(f"{query(location)['accounts-server']}/oauth/v2/token", timeout=10, data={
        "grant_type": "authorization_code", "code": query(location)["code"], "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "redirect_uri": "http://localhost/settings/crm/callback"})
    assert stolen.json() == {"error": "invalid_code"}


def test_a_crm_code_cannot_be_redeemed_with_another_states_verifier(crm_admin_page):
    code = query(crm_consent(crm_admin_page.start_crm()))["code"]
    other = crm_consent(crm_admin_page.start_crm())  # another flow's genuine state (and its own code)
    response = crm_admin_page.callback(other.replace(query(other)["code"], code))
    assert_refused(response, "Zoho CRM did not accept this sign-in")
    assert crm_admin_page.grant("crm") is None


def test_a_crm_consent_given_by_someone_else_connects_nothing(crm_admin_page, crm_sandbox):
    refresh_tokens = crm_sandbox.state.data_centres["jp"].refresh_tokens
    before = set(refresh_tokens)
    # The admin's consent link, opened by another user of the same CRM account.
    location = crm_consent(crm_admin_page.start_crm(), email="manager@jp.zylker.example", password="jp-rep-pass")
    response = crm_admin_page.callback(location)
    assert_refused(response, "This authorization was started by another Zoho CRM user")
    assert crm_admin_page.grant("crm") is None
    assert crm_admin_page.installation()["crm_modules"] == {}  # nothing set up in the CRM either
    assert set(refresh_tokens) == before  # the grant Zoho gave for them is revoked again


def test_the_admin_who_started_connects_the_crm(crm_admin_page):
    response = crm_admin_page.callback(crm_consent(crm_admin_page.start_crm()))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert crm_admin_page.grant("crm")["status"] == "active"


# ---- Zendesk ----------------------------------------------------------------------------------------

@pytest.fixture
def admin(client):
    return Admin(client, install(client))


def test_a_zendesk_consent_given_by_someone_else_connects_nothing(admin, zendesk_sandbox):
    email, password = SOMEONE_ELSE  # the Zendesk account's administrator, not the CRM admin who started
    response = admin.callback(zendesk_consent(admin.start_zendesk(), email=email, password=password))
    assert_refused(response, "This authorization was started by another person")
    assert email in soup(response).select_one("#authorization-result .error").get_text()
    assert admin.grant("zendesk") is None
    assert admin.installation()["zendesk_webhook_id"] is None
    assert zendesk_sandbox.account().grants == {}  # the token Zendesk gave is revoked again
    assert zendesk_sandbox.account().webhooks == {}


def test_the_zendesk_admin_under_the_crm_admins_email_authorizes(admin, zendesk_sandbox):
    response = admin.callback(zendesk_consent(admin.start_zendesk(), email=admin.user["email"].upper(),
                                              password=ZENDESK_PASSWORD))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert admin.grant("zendesk")["status"] == "active"
