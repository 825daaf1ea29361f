"""Connecting Zoho CRM over real HTTP: the consent page of the org's own data centre on the CRM
sandbox, the multi-DC redirect checked (`accounts-server`), the grant stored encrypted, and a grant
revoked in Zoho noticed when the panel loads."""
import pytest
import requests

from tests.helpers import install
from tests.settings.flows import Admin, crm_admin, crm_consent, query, soup, with_query, zendesk_consent
from widget.connections import crm_client
from widget.extensions import db
from widget.models import Installation
from widget.settings.authorize import CRM_SCOPES


@pytest.fixture
def admin(client, crm_sandbox):
    """The admin of the CRM sandbox's JP org, where the extension is installed."""
    org_id = crm_sandbox.org("jp").id
    return Admin(client, install(client, org_id=org_id, data_center="jp"), org_id=org_id,
                 user=crm_admin(crm_sandbox, "jp"))


def assert_failed(response, message):
    assert response.status_code in (400, 502)
    assert message in soup(response).select_one("#authorization-result .error").get_text()
    assert b"Traceback" not in response.data


def test_connect_goes_to_the_orgs_own_data_centre_and_stores_the_grant_encrypted(admin, crm_sandbox):
    authorization_url = admin.start_crm()
    assert authorization_url.startswith(f"{crm_sandbox.url}/accounts/jp/oauth/v2/auth?")
    params = query(authorization_url)
    assert params["redirect_uri"] == "http://localhost/settings/crm/callback"
    assert params["scope"] == ",".join(CRM_SCOPES) and params["access_type"] == "offline"

    location = crm_consent(authorization_url, dc="jp")
    assert query(location)["accounts-server"] == f"{crm_sandbox.url}/accounts/jp"
    response = admin.callback(location)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert soup(response).select_one("#authorization-result .ok").get_text() == "Zoho CRM is connected."
    assert soup(response).select_one("#authorization-result .error") is None  # the CRM side's set-up went well
    # ... done by the provisioning hook: the custom modules and the notification channel (F7,
    # docs/architecture.md#real-time).
    installation = admin.installation()
    assert set(installation["crm_modules"]) == {"tickets", "comments"} and installation["crm_channel_id"]
    # The edition sets how many calls the client keeps in flight (Enterprise: 20, docs/outside-apis.md#crm-api-limits).
    assert installation["crm_edition"] == "enterprise"
    with admin.client.application.app_context():
        row = db.session.scalar(db.select(Installation).filter_by(org_id=admin.org_id))
        assert crm_client(row).max_concurrency == 20

    grant = admin.grant("crm")
    assert grant["status"] == "active" and grant["account"] == "jp"
    assert grant["api_base"] == f"{crm_sandbox.url}/api/jp"
    token = grant["token"]
    assert token["access_token"] not in grant["ciphertext"] and token["refresh_token"] not in grant["ciphertext"]
    org = requests.get(f"{grant['api_base']}/crm/v8/org", timeout=10,
                       headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"})
    assert org.status_code == 200 and org.json()["org"][0]["id"] == admin.org_id

    page = soup(admin.page())
    assert page.select_one("#crm-connection .ok").get_text() == "Connected to this Zoho CRM account (JP data centre)."
    assert page.select_one("#connect-crm") is None


def test_a_user_of_another_data_centre_is_refused(admin):
    # Signing in on the JP server as a US user: Zoho sends the US accounts server back (multi-DC).
    location = crm_consent(admin.start_crm(), dc="us")
    assert query(location)["location"] == "us"
    assert_failed(admin.callback(location), "You signed in to a Zoho account in the US data centre, but this CRM "
                                            "account is in the JP data centre.")
    assert admin.grant("crm") is None


def test_an_unknown_accounts_server_gets_nothing(admin):
    location = with_query(crm_consent(admin.start_crm()), **{"accounts-server": "https://accounts.evil.example"})
    assert_failed(admin.callback(location), "Zoho sent you back from an accounts server we don't know.")
    assert admin.grant("crm") is None


def test_another_orgs_crm_account_is_refused_and_its_grant_revoked(client, crm_sandbox):
    # Installed for org-1 (JP), but the admin consents as a user of the sandbox's JP org, another account.
    admin = Admin(client, install(client, org_id="org-1", data_center="jp"))
    refresh_tokens = crm_sandbox.state.data_centres["jp"].refresh_tokens
    before = set(refresh_tokens)
    assert_failed(admin.callback(crm_consent(admin.start_crm())),
                  "You authorized a different Zoho CRM account than the one the extension is installed in.")
    assert admin.grant("crm") is None
    assert set(refresh_tokens) == before  # the refresh token Zoho issued to us is revoked again


def test_deny_lands_on_a_plain_message_with_try_again(admin, crm_sandbox):
    response = admin.callback(crm_consent(admin.start_crm(), decision="deny"))
    assert_failed(response, "Zoho CRM was not authorized: access was denied.")
    assert soup(response).select_one("#try-again")["href"].startswith(f"{crm_sandbox.url}/accounts/jp/oauth/v2/auth?")
    assert admin.grant("crm") is None


def test_a_reused_code_is_refused(admin):
    location = crm_consent(admin.start_crm())
    assert admin.callback(location).status_code == 200
    assert_failed(admin.callback(location), "Zoho CRM did not accept this sign-in")


def test_a_tampered_state_is_refused(admin):
    location = crm_consent(admin.start_crm())
    location = with_query(location, state=query(location)["state"] + "x")
    assert_failed(admin.callback(location), "This authorization link is not valid or has expired.")
    assert admin.grant("crm") is None


def test_a_grant_revoked_in_zoho_shows_reauthorize(admin, crm_sandbox):
    admin.callback(crm_consent(admin.start_crm()))
    refresh_token = admin.grant("crm")["token"]["refresh_token"]
    revoked = requests.post(f"{crm_sandbox.url}/accounts/jp/oauth/v2/token/revoke", params={"token": refresh_token},
                            timeout=10)
    assert revoked.json() == {"status": "success"}

    assert soup(admin.page()).select_one("#crm-connection .ok") is not None  # the panel itself makes no call
    live = admin.live("crm")
    assert live.headers["HX-Trigger"] == "grant-revoked"  # the panel reloads: no sync part without a grant
    for page in soup(live), soup(admin.page()):
        assert page.select_one("#crm-connection .error").get_text() == "Zoho CRM access was revoked — Re-authorize."
        assert page.select_one("#connect-crm").get_text(strip=True) == "Re-authorize"
    assert admin.grant("crm")["status"] == "revoked"
    assert admin.callback(crm_consent(admin.start_crm())).status_code == 200  # re-authorizing works
    assert admin.grant("crm")["status"] == "active"


def test_a_refreshed_crm_token_is_stored_in_place_of_the_old_one(admin, crm_sandbox):
    admin.callback(crm_consent(admin.start_crm()))
    before = admin.grant("crm")["token"]
    requests.post(f"{crm_sandbox.url}/_sandbox/clock", json={"advance": 3700}, timeout=10)  # access tokens live 1 h
    assert admin.live("crm").status_code == 200
    after = admin.grant("crm")
    assert after["status"] == "active"
    assert after["token"]["access_token"] != before["access_token"]
    assert after["token"]["refresh_token"] == before["refresh_token"]  # Zoho keeps the refresh token
    assert after["token"]["access_token"] not in after["ciphertext"]


def test_with_both_authorized_the_panel_leaves_the_place_for_the_sync_settings(admin):
    assert soup(admin.page()).select_one("#sync-settings") is None
    admin.callback(crm_consent(admin.start_crm()))
    assert soup(admin.page()).select_one("#sync-settings") is None  # Zendesk still to do
    admin.callback(zendesk_consent(admin.start_zendesk(), email=admin.user["email"]))
    page = soup(admin.page())
    assert page.select_one("#crm-connection .ok") and page.select_one("#zendesk-connection .ok")
    assert page.select_one("#sync-settings h2").get_text() == "Sync settings"


def test_the_callback_page_closes_its_window_after_a_success_and_keeps_a_way_back_without_an_opener(admin, crm_sandbox):
    page = soup(admin.callback(crm_consent(admin.start_crm())))
    assert not page.select("script:not([src])")  # no inline script (Content-Security-Policy): its own file
    source = page.select_one("script[src$='/authorization_callback.js']")["src"]
    script = admin.client.get(source).get_data(as_text=True)
    assert 'window.opener.postMessage("authorization-finished", window.location.origin);' in script
    assert script.index("postMessage") < script.index("window.close();")  # told first, then closed ...
    assert page.select_one("#authorization-result").has_attr("data-close-when-finished")  # ... after a success
    assert "if (!window.opener || !result) return;" in script  # opened in a tab of its own, it stays ...
    note = page.select_one("#close-window")  # ... with the note and a link back to the CRM
    assert "You can close this window and go back to the extension's settings in Zoho CRM." in note.get_text()
    assert note.select_one("#back-to-crm")["href"] == f"{crm_sandbox.url}/crm/"
    assert note.select_one("#back-to-crm").get_text() == "Back to Zoho CRM"

    failed = soup(admin.callback(crm_consent(admin.start_crm(), decision="deny")))
    assert not failed.select_one("#authorization-result").has_attr("data-close-when-finished")  # Try again stays
