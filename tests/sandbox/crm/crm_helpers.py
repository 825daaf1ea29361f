"""Helpers for the CRM sandbox tests: the browser consent flow driven with `requests`, and the error-envelope check."""
from urllib.parse import parse_qs, urlsplit

import requests
from bs4 import BeautifulSoup


def consent(crm, email, password, scope, accounts_dc="us", access_type="offline", prompt="consent",
            decision="accept", state="xyz", **pkce):
    """Sign in and answer the consent page like a browser; returns the redirect's query parameters.
    `pkce`: code_challenge and code_challenge_method, when the client sends them."""
    browser = requests.Session()
    params = {"scope": scope, "client_id": crm.credentials["client_id"], "response_type": "code",
              "access_type": access_type, "redirect_uri": "http://127.0.0.1:9/callback", "state": state, **pkce}
    if prompt:
        params["prompt"] = prompt
    accounts = crm.dc(accounts_dc)["accounts_url"]
    page = browser.get(f"{accounts}/oauth/v2/auth", params=params, timeout=10)
    form = BeautifulSoup(page.text, "html.parser").find("form")
    assert form is not None and "signin" in form["action"], page.text
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    fields.update(email=email, password=password)
    page = browser.post(crm.url + form["action"], data=fields, timeout=10)
    assert "would like to access" in page.text, page.text
    form = BeautifulSoup(page.text, "html.parser").find("form")
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    fields["decision"] = decision
    answer = browser.post(crm.url + form["action"], data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/callback?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(crm, accounts_server, code, **extra):
    creds = crm.credentials
    return requests.post(f"{accounts_server}/oauth/v2/token", data={
        "grant_type": "authorization_code", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "redirect_uri": "http://127.0.0.1:9/callback", "code": code, **extra}, timeout=10)


def token_for(crm, email, password, scope, dc="us"):
    """An access token for a seeded user with exactly `scope` (through the consent flow)."""
    redirect = consent(crm, email, password, scope, accounts_dc=dc)
    answer = exchange(crm, redirect["accounts-server"], redirect["code"])
    assert "access_token" in answer.json(), answer.text
    return answer.json()["access_token"]


def assert_error(answer, status, code, **details):
    """A request-level Zoho error envelope with this status, code and (some) details."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"code", "details", "message", "status"}, body
    assert body["code"] == code and body["status"] == "error" and body["message"], body
    for key, value in details.items():
        assert body["details"].get(key) == value, body
    return body
