"""Fixtures for the CRM sandbox tests: a seeded sandbox over real HTTP, and a small client for it
(access tokens from its Self-Client refresh tokens, API sessions, control calls)."""
import pytest
import requests

from widget.sandbox.crm import create_sandbox


class Crm:
    """A running CRM sandbox: `.sandbox`, `.url`, `.credentials`, and helpers to call it."""

    def __init__(self, sandbox, url):
        self.sandbox, self.url = sandbox, url
        self.credentials = sandbox.credentials(url)

    def dc(self, name):
        return self.credentials["data_centres"][name]

    def access_token(self, dc="us"):
        creds = self.dc(dc)
        answer = requests.post(creds["token_url"], data={
            "grant_type": "refresh_token", "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "refresh_token": creds["refresh_token"]}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def api(self, dc="us", token=None):
        """A requests.Session for `dc`'s `/crm/v8` with an access token; `session.base` is the API base URL."""
        session = requests.Session()
        session.headers["Authorization"] = f"Zoho-oauthtoken {token or self.access_token(dc)}"
        session.base = self.dc(dc)["api_base_url"]
        return session

    def control(self, path, body):
        answer = requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def crm(serve):
    """US and JP orgs, about 60 records each, on a free loopback port."""
    sandbox = serve(create_sandbox(data_centres=("us", "jp"), seed_records=60))
    return Crm(sandbox, sandbox.url)


@pytest.fixture
def big_crm(serve):
    """One US org seeded with 12,500 records: 5,000 of them Leads."""
    sandbox = create_sandbox(data_centres=("us",), seed_records=12_500)
    assert len(sandbox.org("us").modules["Leads"].records) == 5000
    return Crm(serve(sandbox), sandbox.url)
