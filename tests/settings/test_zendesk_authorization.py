"""F6 and F2 over real HTTP: the admin saves the subdomain, signs in on the Zendesk sandbox's own page,
presses Allow, and lands on our callback; the grant is stored encrypted and the webhook registered.
Every way it can go wrong ends on a plain message with a way to try again, and stores nothing."""
import pytest
import requests

from tests.helpers import ADMIN, install, zendesk_admin_session
from tests.settings.flows import Admin, query, soup, with_query, zendesk_consent
from widget.sandbox.serving import free_port
from widget.settings import authorize
from widget.settings.authorize import WEBHOOK_EVENTS


@pytest.fixture
def admin(client):
    return Admin(client, install(client))


def authorize_zendesk(admin, subdomain="acme"):
    """The whole happy path; returns the callback's response."""
    return admin.callback(zendesk_consent(admin.start_zendesk(subdomain)))


def sandbox_webhooks(sandbox):
    session = zendesk_admin_session(sandbox)
    return session.get(f"{session.base}/webhooks", timeout=10).json()["webhooks"]


def set_plan(sandbox, plan):
    answer = requests.post(f"{sandbox.url}/_sandbox/accounts/acme/plan", json={"plan": plan}, timeout=10)
    assert answer.status_code == 200, answer.text


def advance_clock(sandbox, seconds):
    assert requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": seconds}, timeout=10).status_code == 200


def assert_failed(response, message, retry=True):
    assert response.status_code in (400, 502)
    page = soup(response)
    assert message in page.select_one("#authorization-result .error").get_text()
    assert b"Traceback" not in response.data
    assert (page.select_one("#try-again") is not None) == retry


def test_authorize_stores_the_grant_encrypted_and_registers_the_webhook(admin, zendesk_sandbox):
    authorization_url = admin.start_zendesk("acme")
    params = query(authorization_url)
    assert params["redirect_uri"] == "http://localhost/settings/zendesk/callback"
    assert params["scope"] == "read write" and params["code_challenge_method"] == "S256"

    response = admin.callback(zendesk_consent(authorization_url))
    assert response.status_code == 200
    assert soup(response).select_one("#authorization-result .ok").get_text() == \
        "Zendesk is authorized as acme (plan Professional)."
    assert soup(response).select_one("script[src$='/authorization_callback.js']")  # tells the settings page

    grant = admin.grant("zendesk")
    assert grant["status"] == "active" and grant["account"] == "acme"
    access_token = grant["token"]["access_token"]
    assert access_token in zendesk_sandbox.account().grants  # the very token Zendesk issued
    assert access_token not in grant["ciphertext"] and grant["token"]["refresh_token"] not in grant["ciphertext"]

    installation = admin.installation()
    [webhook] = sandbox_webhooks(zendesk_sandbox)
    assert webhook["endpoint"] == f"http://localhost/webhooks/zendesk/{installation['key']}"
    assert webhook["status"] == "active" and webhook["http_method"] == "POST"
    assert set(webhook["subscriptions"]) == set(WEBHOOK_EVENTS)
    for event in ("ticket.created", "ticket.comment_added", "user.created", "organization.created"):
        assert f"zen:event-type:{event}" in webhook["subscriptions"]
    assert installation["zendesk_webhook_id"] == str(webhook["id"])
    session = zendesk_admin_session(zendesk_sandbox)
    secret = session.get(f"{session.base}/webhooks/{webhook['id']}/signing_secret", timeout=10).json()
    assert installation["zendesk_webhook_secret"] == secret["signing_secret"]["secret"]

    page = soup(admin.page())
    assert page.select_one("#zendesk-connection .ok").get_text(strip=True) == \
        "Authorized as acme (plan Professional)."
    assert page.select_one("#zendesk-form") is None


@pytest.mark.parametrize("plan, name", [("trial", "Trial"), ("team", "Team"), ("professional", "Professional"),
                                        ("enterprise", "Enterprise")])
def test_paid_plans_and_trials_are_accepted(admin, zendesk_sandbox, plan, name):
    set_plan(zendesk_sandbox, plan)
    response = authorize_zendesk(admin)
    assert response.status_code == 200
    assert f"(plan {name})" in soup(response).select_one("#authorization-result .ok").get_text()
    assert admin.grant("zendesk")["status"] == "active"


@pytest.mark.parametrize("plan, name", [("expired", "Expired"), ("free", "Free")])
def test_expired_and_free_plans_are_refused_and_nothing_is_kept(admin, zendesk_sandbox, plan, name):
    set_plan(zendesk_sandbox, plan)
    response = authorize_zendesk(admin)
    assert_failed(response, f"This Zendesk account is on the {name} plan. Zendesk for Zoho CRM needs a paid "
                            "Zendesk plan (a trial counts).")
    assert admin.grant("zendesk") is None
    assert zendesk_sandbox.account().grants == {}  # the token we were given is revoked
    assert zendesk_sandbox.account().webhooks == {}  # (the API is closed to an unpaid account)


def test_deny_lands_on_a_plain_message_with_try_again(admin, zendesk_sandbox):
    authorization_url = admin.start_zendesk()
    location = zendesk_consent(authorization_url, decision="deny")
    assert query(location)["error"] == "access_denied"
    response = admin.callback(location)
    assert_failed(response, "Zendesk was not authorized: access was denied.")
    retry = soup(response).select_one("#try-again")["href"]
    assert retry.startswith(f"{zendesk_sandbox.url}/oauth/authorizations/new?")
    assert query(retry)["state"] != query(authorization_url)["state"]  # a fresh state
    assert admin.callback(zendesk_consent(retry)).status_code == 200  # and trying again works
    assert admin.grant("zendesk")["status"] == "active"


@pytest.mark.parametrize("tamper", ["flipped", "missing", "crm_flow"])
def test_a_tampered_state_is_refused(admin, client, tamper):
    location = zendesk_consent(admin.start_zendesk())
    state = query(location)["state"]
    if tamper == "flipped":
        location = with_query(location, state=state[:-2] + ("AA" if not state.endswith("AA") else "BB"))
    elif tamper == "missing":
        location = with_query(location, state="")
    else:  # a genuine state of the CRM flow, not of this one
        location = with_query(location, state=query(admin.start_crm())["state"])
    response = admin.callback(location)
    assert_failed(response, "This authorization link is not valid or has expired.", retry=False)
    assert admin.grant("zendesk") is None


def test_an_expired_state_is_refused(admin, monkeypatch):
    location = zendesk_consent(admin.start_zendesk())
    monkeypatch.setattr(authorize, "STATE_MAX_AGE", -1)  # the state is older than allowed
    assert_failed(admin.callback(location), "This authorization link is not valid or has expired.", retry=False)
    assert admin.grant("zendesk") is None


def test_a_code_cannot_be_redeemed_with_another_installations_state(client, zendesk_sandbox):
    org_a = Admin(client, install(client, org_id="org-a"), org_id="org-a")
    org_b = Admin(client, install(client, org_id="org-b"), org_id="org-b")
    code_of_a = query(zendesk_consent(org_a.start_zendesk()))["code"]
    state_of_b = query(org_b.start_zendesk())["state"]
    # B's genuine state with A's code: the PKCE verifier derived from B's state doesn't match A's challenge.
    response = org_b.callback(f"http://localhost/settings/zendesk/callback?code={code_of_a}&state={state_of_b}")
    assert_failed(response, "Zendesk did not accept this sign-in")
    assert org_a.grant("zendesk") is None and org_b.grant("zendesk") is None


def test_an_expired_code_is_refused(admin, zendesk_sandbox):
    location = zendesk_consent(admin.start_zendesk())
    advance_clock(zendesk_sandbox, 121)  # codes live 120 s
    assert_failed(admin.callback(location), "Zendesk did not accept this sign-in: it has expired or was already used.")
    assert admin.grant("zendesk") is None


def test_a_reused_code_is_refused_and_zendesk_revokes_what_it_gave(admin, zendesk_sandbox):
    location = zendesk_consent(admin.start_zendesk())
    assert admin.callback(location).status_code == 200
    assert_failed(admin.callback(location), "Zendesk did not accept this sign-in: it has expired or was already used.")
    # RFC 6749 §4.1.2: the first grant is revoked too, and the panel's live check says so.
    page = soup(admin.live("zendesk"))
    assert page.select_one("#zendesk-connection .error").get_text() == "Zendesk access was revoked — Re-authorize."
    assert admin.grant("zendesk")["status"] == "revoked"


def test_zendesk_unreachable_is_said_in_plain_words(admin, app):
    location = zendesk_consent(admin.start_zendesk())
    app.config["ZENDESK_BASE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    response = admin.callback(location)
    assert response.status_code == 502
    assert_failed(response, "Zendesk could not be reached. Check your connection and try again in a few minutes.")
    assert admin.grant("zendesk") is None


def test_an_authorized_zendesk_that_is_unreachable_stays_authorized(admin, app):
    authorize_zendesk(admin)
    app.config["ZENDESK_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    page = soup(admin.live("zendesk"))
    assert page.select_one("#zendesk-connection .ok").get_text(strip=True) == \
        "Authorized as acme (plan Professional)."  # the plan last seen
    assert page.select_one("#zendesk-connection .error").get_text() == \
        "Zendesk could not be reached. The status will be checked again in a minute."
    assert page.select_one("#zendesk-connection")["hx-trigger"] == "load delay:60s"
    assert admin.grant("zendesk")["status"] == "active"


def test_a_grant_revoked_in_zendesk_shows_reauthorize_and_reauthorizing_replaces_the_webhook(admin, zendesk_sandbox):
    authorize_zendesk(admin)
    first_webhook = admin.installation()["zendesk_webhook_id"]
    token = admin.grant("zendesk")["token"]["access_token"]
    revoked = requests.delete(f"{zendesk_sandbox.url}/api/v2/oauth/tokens/current",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert revoked.status_code == 204

    page = soup(admin.live("zendesk"))
    assert page.select_one("#zendesk-connection .error").get_text() == "Zendesk access was revoked — Re-authorize."
    assert page.select_one("#zendesk-form button").get_text(strip=True) == "Re-authorize"
    assert page.select_one("#zendesk-form input[name=subdomain]")["value"] == "acme"
    assert admin.grant("zendesk")["status"] == "revoked"

    assert authorize_zendesk(admin).status_code == 200
    assert admin.grant("zendesk")["status"] == "active"
    [webhook] = sandbox_webhooks(zendesk_sandbox)  # the old one is gone, not duplicated
    assert str(webhook["id"]) == admin.installation()["zendesk_webhook_id"] != first_webhook


def test_a_refreshed_token_is_stored_encrypted_in_place_of_the_old_one(admin, zendesk_sandbox):
    authorize_zendesk(admin)
    before = admin.grant("zendesk")
    advance_clock(zendesk_sandbox, 1900)  # access tokens live 1800 s: the next call refreshes

    assert admin.live("zendesk").status_code == 200
    after = admin.grant("zendesk")
    assert after["status"] == "active"
    assert after["token"]["access_token"] != before["token"]["access_token"]
    assert after["token"]["refresh_token"] != before["token"]["refresh_token"]  # rotated
    assert after["token"]["access_token"] in zendesk_sandbox.account().grants
    assert after["token"]["access_token"] not in after["ciphertext"]
    # The rotated-out refresh token is dead at Zendesk: only the stored one can refresh from now on.
    assert before["token"]["refresh_token"] not in zendesk_sandbox.account().refresh_tokens


def test_the_reauthorize_link_opens_zendesk_for_the_saved_subdomain(admin, zendesk_sandbox):
    authorize_zendesk(admin)
    link = soup(admin.page()).select_one("#reauthorize-zendesk")
    assert link["target"] == "authorization"
    response = admin.client.get(link["href"])
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{zendesk_sandbox.url}/oauth/authorizations/new?")


def test_the_callback_answers_in_the_language_of_the_admin_who_started(client, zendesk_sandbox):
    japanese = Admin(client, install(client), user=dict(ADMIN, locale="ja_JP"))
    response = japanese.callback(zendesk_consent(japanese.start_zendesk()))
    page = soup(response)
    assert page.html["lang"] == "ja"
    assert page.select_one("#authorization-result .ok").get_text() == \
        "Zendesk を acme として認証しました（プラン: Professional）。"
