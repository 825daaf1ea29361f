"""A CRM page left open keeps working while it is used: a context a few minutes old comes back signed
again with the same user, org and record and nothing else of the old claims; a page left idle ends an
hour after the user's own last action (its automatic renewals and polling don't count), and a used one
CONTEXT_ABSOLUTE_LIMIT after the CRM signed it (widget/context.py, widget/security.py). The clock is
moved, never waited for."""
import time

import jwt
from bs4 import BeautifulSoup

from tests.helpers import REP, context_for, install
from widget.security import (ACTIVITY_STEP, CONTEXT_ABSOLUTE_LIMIT, CONTEXT_IDLE_LIMIT, CONTEXT_MAX_LIFETIME,
                             renew_context)

URL = "/record/Contacts/42/tickets"
BACKGROUND = {"X-Widget-Background": "1"}


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def active_at(token):
    """The user's last own action the context records (the CRM's signing time until we record one)."""
    return claims(token).get("active_at", claims(token)["iat"])



class Page:
    """One open widget page: it sends the context it holds and swaps in whatever comes back renewed."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def request(self, url=URL, background=False):
        headers = {"X-Widget-Context": self.token, **(BACKGROUND if background else {})}
        response = self.client.get(url, headers=headers)
        self.token = response.headers.get("X-Widget-Context-Renewed", self.token)
        return response

    def ping(self):
        """What static/js/widget.js does every few minutes on its own."""
        return self.request("/context/renew", background=True)


def test_a_fresh_context_is_not_renewed(client):
    installed = install(client, scope={"type": "all"})
    response = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP)})
    assert response.status_code == 200 and "X-Widget-Context-Renewed" not in response.headers


def test_an_older_context_comes_back_renewed_in_the_header_and_the_page(client, clock):
    installed = install(client, scope={"type": "all"})
    old = context_for(installed, user=REP, now=clock.now - 400)  # signed by the CRM 400 s ago
    response = client.get(URL, query_string={"ctx": old})
    assert response.status_code == 200
    renewed = response.headers["X-Widget-Context-Renewed"]
    before, after = claims(old), claims(renewed)
    assert after["exp"] - after["iat"] == CONTEXT_MAX_LIFETIME and after["iat"] == clock.now
    assert after["auth_time"] == before["iat"]  # when the CRM signed it, carried along
    for claim in ("iss", "sub", "user", "entity", "entity_id"):
        assert after[claim] == before[claim]
    page = BeautifulSoup(response.data, "html.parser")
    assert renewed in page.body["hx-headers"]  # what the page's next requests send

    # The renewed context opens the page; so does renewing it again (idle page ping) — a 204.
    assert client.get(URL, headers={"X-Widget-Context": renewed}).status_code == 200
    ping = client.get("/context/renew", headers={"X-Widget-Context": old, **BACKGROUND})
    assert ping.status_code == 204 and claims(ping.headers["X-Widget-Context-Renewed"])["user"] == before["user"]


def test_renewal_signs_only_the_expiry_anew_never_other_claims(client, clock):
    installed = install(client, scope={"type": "all"})
    crm_claims = claims(context_for(installed, user=REP, now=clock.now - 400))
    crm_claims["scope"] = "everything"  # a claim the CRM never signs: not ours to carry on
    token = jwt.encode(crm_claims, installed["context_secret"], algorithm="HS256")
    renewed = claims(client.get(URL, headers={"X-Widget-Context": token}).headers["X-Widget-Context-Renewed"])
    assert set(renewed) == {"iss", "sub", "iat", "exp", "auth_time", "active_at", "user", "entity", "entity_id"}
    assert (renewed["iss"], renewed["sub"], renewed["entity"], renewed["entity_id"], renewed["user"]) == \
        (crm_claims["iss"], crm_claims["sub"], "Contacts", "42", REP)


def test_an_idle_page_ends_after_the_inactivity_limit(client, clock):
    installed = install(client, scope={"type": "all"})
    page = Page(client, context_for(installed, user=REP, now=clock.now))
    assert page.request().status_code == 200  # the user opens the record: their last own action
    opened = clock.now
    while clock.now + 240 - opened < CONTEXT_IDLE_LIMIT:  # the page's own pings and polls, nothing else
        clock.advance(240)
        assert page.ping().status_code == 204
        assert page.request(background=True).status_code == 200
        assert active_at(page.token) == opened
    clock.advance(240)
    assert clock.now - opened >= CONTEXT_IDLE_LIMIT
    ended = page.request()
    assert ended.status_code == 401 and "Reload the CRM page" in ended.get_data(as_text=True)
    assert page.ping().status_code == 401


def test_a_users_own_requests_keep_the_page_alive_up_to_the_absolute_limit_and_no_longer(client, clock):
    installed = install(client, scope={"type": "all"})
    page = Page(client, context_for(installed, user=REP, now=clock.now))
    signed_by_crm = clock.now
    while clock.now + 600 - signed_by_crm < CONTEXT_ABSOLUTE_LIMIT:
        clock.advance(600)  # a click every ten minutes, renewals by the pings in between
        assert page.request().status_code == 200
        assert claims(page.token)["active_at"] == clock.now
        assert claims(page.token)["auth_time"] == signed_by_crm
        assert claims(page.token)["user"] == REP and claims(page.token)["entity_id"] == "42"
    clock.advance(600)
    assert clock.now - signed_by_crm >= CONTEXT_ABSOLUTE_LIMIT
    ended = page.request()
    assert ended.status_code == 401 and "Reload the CRM page" in ended.get_data(as_text=True)


def test_a_users_action_between_renewals_counts(client, clock):
    installed = install(client, scope={"type": "all"})
    page = Page(client, context_for(installed, user=REP, now=clock.now))
    clock.advance(ACTIVITY_STEP + 10)  # not yet due for a renewal, but the recorded activity is behind
    assert page.request().status_code == 200
    assert claims(page.token)["active_at"] == clock.now
    assert claims(page.token)["exp"] - claims(page.token)["iat"] <= CONTEXT_MAX_LIFETIME
    clock.advance(30)
    touched = page.token
    assert page.request(background=True).status_code == 200 and page.token == touched  # a poll: no activity


def test_renewal_ends_at_the_absolute_limit(client, clock):
    installed = install(client, scope={"type": "all"})
    original = claims(context_for(installed, user=REP, now=clock.now - CONTEXT_ABSOLUTE_LIMIT - 60))
    assert renew_context(original, installed["context_secret"], now=clock.now, active=True) is None
    # A chain of renewals keeps the CRM's time: the last one inside the limit, none after.
    last = renew_context(original, installed["context_secret"], now=clock.now - 400, active=True)
    assert claims(last)["auth_time"] == original["iat"]
    assert renew_context(claims(last), installed["context_secret"], now=clock.now, active=True) is None
    response = client.get(URL, headers={"X-Widget-Context": last})
    assert response.status_code == 401 and "X-Widget-Context-Renewed" not in response.headers


def test_renewal_never_widens_access(client):
    installed = install(client, scope={"type": "admins"})
    old = context_for(installed, user=REP, now=int(time.time()) - 400)
    response = client.get("/context/renew", headers={"X-Widget-Context": old})
    assert response.status_code == 403 and "X-Widget-Context-Renewed" not in response.headers


def test_a_crm_clock_a_little_ahead_is_fine_one_far_ahead_is_not(client, clock):
    installed = install(client, scope={"type": "all"})
    ahead = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP, now=clock.now + 10)})
    assert ahead.status_code == 200
    far = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP, now=clock.now + 120)})
    assert far.status_code == 401
