"""A CRM page left open keeps working: a context a few minutes old comes back signed again, with the
same user, org and record, and the renewed one is accepted; renewal stops CONTEXT_RENEW_LIMIT after
the CRM signed the original (widget/context.py)."""
import time

import jwt
from bs4 import BeautifulSoup

from tests.helpers import REP, context_for, install
from widget.security import CONTEXT_MAX_LIFETIME, CONTEXT_RENEW_LIMIT, renew_context

URL = "/record/Contacts/42/tickets"


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_a_fresh_context_is_not_renewed(client):
    installed = install(client, scope={"type": "all"})
    response = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP)})
    assert response.status_code == 200 and "X-Widget-Context-Renewed" not in response.headers


def test_an_older_context_comes_back_renewed_in_the_header_and_the_page(client):
    installed = install(client, scope={"type": "all"})
    now = int(time.time())
    old = context_for(installed, user=REP, now=now - 400)  # signed by the CRM 400 s ago
    response = client.get(URL, query_string={"ctx": old})
    assert response.status_code == 200
    renewed = response.headers["X-Widget-Context-Renewed"]
    before, after = claims(old), claims(renewed)
    assert after["exp"] - after["iat"] == CONTEXT_MAX_LIFETIME and after["iat"] >= now
    assert after["auth_time"] == before["iat"]  # when the CRM signed it, carried along
    for claim in ("iss", "sub", "user", "entity", "entity_id"):
        assert after[claim] == before[claim]
    page = BeautifulSoup(response.data, "html.parser")
    assert renewed in page.body["hx-headers"]  # what the page's next requests send

    # The renewed context opens the page; so does renewing it again (idle page ping) — a 204.
    assert client.get(URL, headers={"X-Widget-Context": renewed}).status_code == 200
    ping = client.get("/context/renew", headers={"X-Widget-Context": old})
    assert ping.status_code == 204 and claims(ping.headers["X-Widget-Context-Renewed"])["user"] == before["user"]


def test_renewal_ends_a_working_day_after_the_crm_signed(client, app):
    installed = install(client, scope={"type": "all"})
    now = int(time.time())
    original = claims(context_for(installed, user=REP, now=now - CONTEXT_RENEW_LIMIT - 60))
    assert renew_context(original, installed["context_secret"], now=now) is None
    # A chain of renewals keeps the CRM's time: the last one inside the limit, none after.
    last = renew_context(original, installed["context_secret"], now=now - 400)  # 400 s old: renewal due
    assert claims(last)["auth_time"] == original["iat"]
    assert renew_context(claims(last), installed["context_secret"], now=now) is None
    # Past the limit a still-valid context is served without a renewal: the page will ask for a reload.
    response = client.get(URL, headers={"X-Widget-Context": last})
    assert response.status_code == 200 and "X-Widget-Context-Renewed" not in response.headers


def test_renewal_never_widens_access(client):
    installed = install(client, scope={"type": "admins"})
    old = context_for(installed, user=REP, now=int(time.time()) - 400)
    response = client.get("/context/renew", headers={"X-Widget-Context": old})
    assert response.status_code == 403 and "X-Widget-Context-Renewed" not in response.headers
