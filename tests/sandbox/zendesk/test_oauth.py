"""The sandbox's OAuth over real HTTP: sign-in and consent pages, the token endpoint, rotation, expiry,
scopes, revocation (docs/outside-apis.md#zendesk-oauth)."""
import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from requests_oauthlib import OAuth2Session

from widget.sandbox.zendesk import CLIENT_ID, create_sandbox

REDIRECT = "http://127.0.0.1:5999/settings/zendesk/callback"
ADMIN, ADMIN_PASSWORD = "admin@acme.example", "acme-admin-pass"


def hidden(response, name):
    field = BeautifulSoup(response.text, "html.parser").find("input", {"name": name})
    assert field is not None, response.text
    return field["value"]


def sign_in(base, email=ADMIN, password=ADMIN_PASSWORD, headers=None, **params):
    """Open the authorize URL and submit the sign-in form; returns the response (consent page or error)."""
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read write",
             "state": "st-123", **params}
    session = requests.Session()
    page = session.get(f"{base}/oauth/authorizations/new", params=query, headers=headers)
    assert page.status_code == 200, page.text
    return session.post(f"{base}/oauth/authorizations/sign_in", headers=headers, data={
        "request_token": hidden(page, "request_token"), "email": email, "password": password})


def authorize(base, decision="allow", headers=None, **kwargs):
    """The whole browser part of the flow; returns the redirect's query parameters."""
    consent = sign_in(base, headers=headers, **kwargs)
    assert consent.status_code == 200, consent.text
    answer = requests.post(f"{base}/oauth/authorizations/decide", allow_redirects=False, headers=headers,
                           data={"consent_token": hidden(consent, "consent_token"), "decision": decision})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def exchange(sandbox, code, **overrides):
    body = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID,
            "client_secret": sandbox.state.oauth_clients[CLIENT_ID].secret, "redirect_uri": REDIRECT, **overrides}
    return requests.post(f"{sandbox.url}/oauth/tokens", json={k: v for k, v in body.items() if v is not None})


def tokens_for(sandbox, **kwargs):
    response = exchange(sandbox, authorize(sandbox.url, **kwargs)["code"])
    assert response.status_code == 201, response.text
    return response.json()


def api(sandbox, path, token, method="GET", **kwargs):
    return requests.request(method, f"{sandbox.url}/api/v2/{path}", headers={"Authorization": f"Bearer {token}"},
                            **kwargs)


def advance(sandbox, seconds):
    assert requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance": seconds}).status_code == 200


def test_code_flow_issues_tokens_in_zendesk_shape(zendesk):
    params = authorize(zendesk.url)
    assert params["state"] == "st-123" and params["code"]
    response = exchange(zendesk, params["code"])
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token",
                         "refresh_token_expires_in"}
    assert body["token_type"] == "bearer" and body["scope"] == "read write"
    assert body["expires_in"] == 1800 and body["refresh_token_expires_in"] == 30 * 86400

    current = api(zendesk, "oauth/tokens/current.json", body["access_token"])
    assert current.status_code == 200
    token = current.json()["token"]
    admin = zendesk.account().find_user(email=ADMIN)
    assert token["user_id"] == admin["id"] and token["scopes"] == ["read", "write"]
    assert token["token"] == body["access_token"][:10]
    assert token["url"] == f"{zendesk.url}/api/v2/oauth/tokens/{token['id']}.json"
    expires = time.mktime(time.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 1800)) < 5
    me = api(zendesk, "users/me.json", body["access_token"])
    assert me.status_code == 200 and me.json()["user"]["email"] == ADMIN


def test_requests_oauthlib_client_works_unchanged(zendesk, monkeypatch):
    """requests-oauthlib sends a form body and HTTP Basic client credentials by default."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox is plain http on loopback
    client = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT, scope=["read", "write"])
    url, state = client.authorization_url(f"{zendesk.url}/oauth/authorizations/new")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    params = authorize(zendesk.url, state=state, scope=query["scope"])
    token = client.fetch_token(f"{zendesk.url}/oauth/tokens", code=params["code"],
                               client_secret=zendesk.state.oauth_clients[CLIENT_ID].secret)
    assert token["token_type"] == "bearer" and token["refresh_token"]
    assert client.get(f"{zendesk.url}/api/v2/tickets.json").status_code == 200
    refreshed = client.refresh_token(f"{zendesk.url}/oauth/tokens", client_id=CLIENT_ID,
                                     client_secret=zendesk.state.oauth_clients[CLIENT_ID].secret)
    assert refreshed["access_token"] != token["access_token"]


def test_wrong_password_re_renders_the_form_with_an_error(zendesk):
    response = sign_in(zendesk.url, password="not-it")
    assert response.status_code == 401
    assert "Invalid email or password." in response.text
    assert hidden(response, "request_token")  # the form is there to try again
    assert sign_in(zendesk.url, email="customer1@org2.example.com", password="x").status_code == 401


def test_agents_can_sign_in_too(zendesk):
    params = authorize(zendesk.url, email="agent2@acme.example", password="acme-agent-pass")
    token = exchange(zendesk, params["code"]).json()["access_token"]
    assert api(zendesk, "users/me", token).json()["user"]["email"] == "agent2@acme.example"


def test_deny_redirects_with_access_denied_and_state(zendesk):
    params = authorize(zendesk.url, decision="deny")
    assert params["error"] == "access_denied" and params["error_description"] and params["state"] == "st-123"
    assert "code" not in params


@pytest.mark.parametrize("override", [{"client_id": "someone_else"},
                                      {"redirect_uri": "https://evil.example/callback"},
                                      {"redirect_uri": "http://127.0.0.1.evil.example/cb"},
                                      {"redirect_uri": ""}])
def test_unknown_client_or_foreign_redirect_shows_an_error_page_without_redirecting(zendesk, override):
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read",
             "state": "s", **override}
    response = requests.get(f"{zendesk.url}/oauth/authorizations/new", params=query, allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Something went wrong" in response.text


def test_any_loopback_redirect_uri_is_accepted(zendesk):
    for uri in ("http://localhost:8080/anything?x=1", "http://127.0.0.1:1/cb"):
        query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": uri, "scope": "read"}
        assert requests.get(f"{zendesk.url}/oauth/authorizations/new", params=query).status_code == 200


def test_tampered_sign_in_form_is_refused(zendesk):
    response = requests.post(f"{zendesk.url}/oauth/authorizations/sign_in",
                             data={"request_token": "forged", "email": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 400 and "expired or was changed" in response.text
    response = requests.post(f"{zendesk.url}/oauth/authorizations/decide",
                             data={"consent_token": "forged", "decision": "allow"}, allow_redirects=False)
    assert response.status_code == 400 and "Location" not in response.headers


def test_code_expires_after_120_seconds(zendesk):
    code = authorize(zendesk.url)["code"]
    advance(zendesk, 121)
    response = exchange(zendesk, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_code_is_single_use_and_reuse_revokes_the_first_token(zendesk):
    code = authorize(zendesk.url)["code"]
    first = exchange(zendesk, code)
    assert first.status_code == 201
    again = exchange(zendesk, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert api(zendesk, "users/me", first.json()["access_token"]).status_code == 401


@pytest.mark.parametrize("override, error, status", [
    ({"redirect_uri": "http://127.0.0.1:5999/other"}, "invalid_grant", 400),
    ({"client_secret": "wrong"}, "invalid_client", 401),
    ({"client_id": "nobody"}, "invalid_client", 401),
    ({"client_secret": None}, "invalid_client", 401),
    ({"code": None}, "invalid_request", 400),
    ({"grant_type": "password"}, "unsupported_grant_type", 400),
])
def test_token_endpoint_errors_are_oauth_json(zendesk, override, error, status):
    code = authorize(zendesk.url)["code"]
    response = exchange(zendesk, **{"code": code, **override})
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]


def test_refresh_rotates_and_kills_old_access_and_refresh_tokens(zendesk):
    first = tokens_for(zendesk)
    secret = zendesk.state.oauth_clients[CLIENT_ID].secret
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": CLIENT_ID,
               "client_secret": secret}
    response = requests.post(f"{zendesk.url}/oauth/tokens", json=refresh)
    assert response.status_code == 201
    second = response.json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "read write"

    assert api(zendesk, "users/me", second["access_token"]).status_code == 200
    old_access = api(zendesk, "users/me", first["access_token"])
    assert old_access.status_code == 401 and old_access.json()["error"] == "invalid_token"
    reused = requests.post(f"{zendesk.url}/oauth/tokens", json=refresh)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_refresh_token_expires(zendesk):
    first = tokens_for(zendesk)
    advance(zendesk, 30 * 86400 + 1)
    response = requests.post(f"{zendesk.url}/oauth/tokens", json={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": CLIENT_ID,
        "client_secret": zendesk.state.oauth_clients[CLIENT_ID].secret})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_access_token_gets_401_invalid_token(zendesk):
    token = tokens_for(zendesk)["access_token"]
    assert api(zendesk, "tickets.json", token).status_code == 200
    advance(zendesk, 1801)
    response = api(zendesk, "tickets.json", token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token" and response.json()["error_description"]


@pytest.mark.parametrize("asked, granted", [(60, 300), (3600, 3600), (999_999, 172_800)])
def test_requested_expires_in_is_clamped_to_documented_bounds(zendesk, asked, granted):
    code = authorize(zendesk.url)["code"]
    response = exchange(zendesk, code, expires_in=asked)
    assert response.json()["expires_in"] == granted


def test_scopes_are_enforced(zendesk):
    token = tokens_for(zendesk, scope="tickets:read")["access_token"]
    assert api(zendesk, "tickets.json", token).status_code == 200
    write = api(zendesk, "tickets.json", token, "POST",
                json={"ticket": {"subject": "x", "comment": {"body": "y"}}})
    assert write.status_code == 403 and write.json()["error"] == "Forbidden"
    assert api(zendesk, "users.json", token).status_code == 403
    # The token's own introspection needs no scope (tap-zendesk reads it to plan refreshes).
    assert api(zendesk, "oauth/tokens/current.json", token).json()["token"]["scopes"] == ["tickets:read"]


def test_pkce_public_client_needs_the_verifier_not_the_secret(zendesk):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = authorize(zendesk.url, code_challenge=challenge, code_challenge_method="S256")["code"]
    wrong = exchange(zendesk, code, client_secret=None, code_verifier="w" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = authorize(zendesk.url, code_challenge=challenge, code_challenge_method="S256")["code"]
    assert exchange(zendesk, code, client_secret=None, code_verifier=verifier).status_code == 201


def test_revoking_the_current_token(zendesk):
    body = tokens_for(zendesk)
    response = api(zendesk, "oauth/tokens/current.json", body["access_token"], "DELETE")
    assert response.status_code == 204 and response.content == b""
    assert api(zendesk, "users/me", body["access_token"]).status_code == 401
    refresh = requests.post(f"{zendesk.url}/oauth/tokens", json={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": CLIENT_ID,
        "client_secret": zendesk.state.oauth_clients[CLIENT_ID].secret})
    assert refresh.json()["error"] == "invalid_grant"


def test_revoking_a_token_by_id_with_an_api_token(zendesk):
    body = tokens_for(zendesk)
    token_id = api(zendesk, "oauth/tokens/current", body["access_token"]).json()["token"]["id"]
    account = zendesk.account()
    auth = (f"{ADMIN}/token", next(iter(account.api_tokens)))
    shown = requests.get(f"{zendesk.url}/api/v2/oauth/tokens/{token_id}.json", auth=auth)
    assert shown.json()["token"]["id"] == token_id
    assert requests.get(f"{zendesk.url}/api/v2/oauth/tokens/current.json", auth=auth).status_code == 404
    assert requests.delete(f"{zendesk.url}/api/v2/oauth/tokens/{token_id}.json", auth=auth).status_code == 204
    assert api(zendesk, "users/me", body["access_token"]).status_code == 401


def test_client_credentials_grant(zendesk):
    response = requests.post(f"{zendesk.url}/oauth/tokens", json={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": "read",
        "client_secret": zendesk.state.oauth_clients[CLIENT_ID].secret})
    assert response.status_code == 201
    body = response.json()
    assert "refresh_token" not in body and body["scope"] == "read"
    assert api(zendesk, "users/me", body["access_token"]).json()["user"]["role"] == "admin"


@pytest.fixture
def two_accounts(serve):
    return serve(create_sandbox(accounts=("acme", "globex")))


def test_account_is_chosen_by_host_subdomain_then_by_email(two_accounts):
    sandbox = two_accounts
    port = sandbox.url.rsplit(":", 1)[1]
    globex_host = {"Host": f"globex.localhost:{port}"}
    # On globex's host, acme's admin is a stranger.
    assert sign_in(sandbox.url, headers=globex_host).status_code == 401
    params = authorize(sandbox.url, headers=globex_host, email="admin@globex.example", password="globex-admin-pass")
    token = exchange(sandbox, params["code"]).json()["access_token"]
    globex_admin = sandbox.account("globex").find_user(email="admin@globex.example")
    assert api(sandbox, "users/me", token).json()["user"]["id"] == globex_admin["id"]
    # Without a subdomain, the email's account is used.
    params = authorize(sandbox.url, email="admin@globex.example", password="globex-admin-pass")
    token = exchange(sandbox, params["code"]).json()["access_token"]
    assert token in sandbox.account("globex").grants and token not in sandbox.account("acme").grants
