"""The CRM sandbox's accounts servers: consent flow, multi-DC codes and tokens, PKCE, token errors, refresh,
revoke."""
import base64
import hashlib

import requests

from tests.sandbox.crm.crm_helpers import assert_error, consent, exchange, token_for


def test_jp_user_consents_on_us_server_and_gets_a_jp_token_refused_by_us(crm):
    redirect = consent(crm, "admin@jp.zylker.example", "jp-admin-pass", "ZohoCRM.modules.ALL,ZohoCRM.org.READ")
    # Zoho sends the user's own DC back (multi-DC, docs/outside-apis.md#crm-oauth).
    assert redirect["location"] == "jp"
    assert redirect["accounts-server"] == f"{crm.url}/accounts/jp"
    assert redirect["state"] == "xyz"
    # The code belongs to the JP accounts server only.
    assert exchange(crm, f"{crm.url}/accounts/us", redirect["code"]).json() == {"error": "invalid_code"}
    redirect = consent(crm, "admin@jp.zylker.example", "jp-admin-pass", "ZohoCRM.modules.ALL,ZohoCRM.org.READ")
    answer = exchange(crm, redirect["accounts-server"], redirect["code"])
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["api_domain"] == f"{crm.url}/api/jp"
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert body["scope"] == "ZohoCRM.modules.ALL ZohoCRM.org.READ"

    header = {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}
    org = requests.get(f"{body['api_domain']}/crm/v8/org", headers=header, timeout=10)
    assert org.status_code == 200 and org.json()["org"][0]["company_name"] == "Zylker Japan K.K."
    refused = requests.get(f"{crm.url}/api/us/crm/v8/org", headers=header, timeout=10)
    assert_error(refused, 401, "INVALID_TOKEN")
    assert refused.json()["message"] == "invalid oauth token"


def test_code_is_one_time_and_expires(crm):
    redirect = consent(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL")
    server = redirect["accounts-server"]
    assert "access_token" in exchange(crm, server, redirect["code"]).json()
    assert exchange(crm, server, redirect["code"]).json() == {"error": "invalid_code"}
    redirect = consent(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL")
    crm.control("clock", {"advance": 181})
    assert exchange(crm, server, redirect["code"]).json() == {"error": "invalid_code"}


def test_refresh_token_only_for_offline_and_first_or_prompted_consent(crm):
    scope = "ZohoCRM.modules.ALL"
    first = consent(crm, "rep@us.zylker.example", "us-rep-pass", scope, prompt=None)
    assert "refresh_token" in exchange(crm, first["accounts-server"], first["code"]).json()
    again = consent(crm, "rep@us.zylker.example", "us-rep-pass", scope, prompt=None)
    assert "refresh_token" not in exchange(crm, again["accounts-server"], again["code"]).json()
    prompted = consent(crm, "rep@us.zylker.example", "us-rep-pass", scope, prompt="consent")
    assert "refresh_token" in exchange(crm, prompted["accounts-server"], prompted["code"]).json()
    online = consent(crm, "rep@us.zylker.example", "us-rep-pass", scope, access_type="online")
    body = exchange(crm, online["accounts-server"], online["code"]).json()
    assert "access_token" in body and "refresh_token" not in body


def test_deny_redirects_with_access_denied(crm):
    redirect = consent(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL", decision="deny")
    assert redirect == {"error": "access_denied", "state": "xyz"}


def test_wrong_password_is_refused_on_the_sign_in_page(crm):
    page = requests.post(f"{crm.url}/accounts/us/signin", data={"email": "admin@us.zylker.example",
                                                                 "password": "nope"}, timeout=10)
    assert page.status_code == 400  # no CSRF token: refused before checking anything
    browser = requests.Session()
    form = browser.get(f"{crm.url}/accounts/us/signin", timeout=10).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    page = browser.post(f"{crm.url}/accounts/us/signin", data={"csrf_token": token, "email": "admin@us.zylker.example",
                                                                "password": "nope"}, timeout=10)
    assert page.status_code == 401 and "Invalid email or password" in page.text


def test_token_endpoint_errors_are_http_200_with_error_key(crm):
    creds = crm.dc("us")
    url = creds["token_url"]
    cases = [
        ({"grant_type": "refresh_token", "client_id": "nope", "client_secret": "x", "refresh_token": "y"}, "invalid_client"),
        ({"grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": "wrong",
          "refresh_token": creds["refresh_token"]}, "invalid_client_secret"),
        ({"grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
          "refresh_token": "1000.bogus"}, "invalid_code"),
        ({"grant_type": "password", "client_id": creds["client_id"]}, "unsupported_grant_type"),
    ]
    for form, error in cases:
        answer = requests.post(url, data=form, timeout=10)
        assert answer.status_code == 200 and answer.json() == {"error": error}
    # Params in the query string work too (docs/outside-apis.md#crm-oauth), and a JP refresh token is unknown in the US.
    jp = crm.dc("jp")
    answer = requests.post(url, params={"grant_type": "refresh_token", "client_id": jp["client_id"],
                                        "client_secret": jp["client_secret"], "refresh_token": jp["refresh_token"]},
                           timeout=10)
    assert answer.json() == {"error": "invalid_code"}


def test_access_token_expires_after_an_hour_and_refresh_gives_a_new_one(crm):
    token = crm.access_token("us")
    api = crm.api("us", token)
    assert api.get(f"{api.base}/org", timeout=10).status_code == 200
    crm.control("clock", {"advance": 3601})
    assert_error(api.get(f"{api.base}/org", timeout=10), 401, "INVALID_TOKEN")
    fresh = crm.api("us")
    assert fresh.get(f"{fresh.base}/org", timeout=10).status_code == 200


def test_revoke_kills_refresh_token_and_its_access_tokens(crm):
    creds = crm.dc("us")
    api = crm.api("us")
    answer = requests.post(f"{creds['token_url']}/revoke", params={"token": creds["refresh_token"]}, timeout=10)
    assert answer.json() == {"status": "success"}
    assert_error(api.get(f"{api.base}/org", timeout=10), 401, "INVALID_TOKEN")
    refresh = requests.post(creds["token_url"], data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": creds["refresh_token"]}, timeout=10)
    assert refresh.json() == {"error": "invalid_code"}


def test_scope_mismatch_is_401(crm):
    token = token_for(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.leads.READ")
    api = crm.api("us", token)
    assert api.get(f"{api.base}/Leads", params={"fields": "Last_Name"}, timeout=10).status_code == 200
    assert_error(api.get(f"{api.base}/Contacts", params={"fields": "Last_Name"}, timeout=10), 401, "OAUTH_SCOPE_MISMATCH")
    assert_error(api.post(f"{api.base}/Leads", json={"data": [{"Last_Name": "X"}]}, timeout=10), 401, "OAUTH_SCOPE_MISMATCH")
    assert_error(api.get(f"{api.base}/settings/modules", timeout=10), 401, "OAUTH_SCOPE_MISMATCH")


def test_serverinfo_lists_every_data_centre(crm):
    body = requests.get(f"{crm.url}/accounts/us/oauth/serverinfo", timeout=10).json()
    assert body["locations"] == {dc: f"{crm.url}/accounts/{dc}" for dc in ("us", "eu", "in", "au", "jp", "cn", "ca", "sa")}


def _challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_a_code_asked_with_a_pkce_challenge_needs_its_verifier(crm):
    verifier = "v" * 43 + "-pkce"
    pkce = {"code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
    for wrong in ({}, {"code_verifier": "w" * 48}):  # intercepted codes, with no verifier or a guessed one
        redirect = consent(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL", **pkce)
        assert exchange(crm, redirect["accounts-server"], redirect["code"], **wrong).json() == {"error": "invalid_code"}
    redirect = consent(crm, "admin@us.zylker.example", "us-admin-pass", "ZohoCRM.modules.ALL", **pkce)
    answer = exchange(crm, redirect["accounts-server"], redirect["code"], code_verifier=verifier).json()
    assert "access_token" in answer, answer


def test_an_unknown_challenge_method_is_refused_on_the_consent_page(crm):
    browser = requests.Session()
    page = browser.get(f"{crm.url}/accounts/us/oauth/v2/auth", timeout=10, params={
        "scope": "ZohoCRM.modules.ALL", "client_id": crm.credentials["client_id"], "response_type": "code",
        "redirect_uri": "http://127.0.0.1:9/callback", "code_challenge": "x" * 43, "code_challenge_method": "MD5"})
    assert page.status_code == 400 and "code_challenge_method" in page.text
