"""Every widget request is authorised from the signed context alone (docs/architecture.md#widget-context, F4)."""
import time

import pytest
from bs4 import BeautifulSoup

from tests.helpers import ADMIN, REP, context_for, install, lifecycle
from widget.sandbox.crm.signing import mint_context

URL = "/record/Contacts/42/tickets"


def test_admin_sees_the_related_list_without_any_cookie(client):
    installed = install(client)
    response = client.get(URL, query_string={"ctx": context_for(installed)})
    assert response.status_code == 200
    page = BeautifulSoup(response.data, "html.parser")
    assert page.select_one(".related-list h1").get_text() == "Zendesk Tickets"
    assert "X-Widget-Context" in page.body["hx-headers"]
    assert "Set-Cookie" not in response.headers
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


def test_context_in_header_works_too(client):
    installed = install(client)
    response = client.get(URL, headers={"X-Widget-Context": context_for(installed)})
    assert response.status_code == 200


@pytest.mark.parametrize("scope,rep_allowed", [({"type": "admins"}, False), ({"type": "all"}, True),
                                               ({"type": "profiles", "profiles": ["Sales Rep"]}, True),
                                               ({"type": "profiles", "profiles": ["Standard"]}, False)])
def test_scope_is_enforced_on_widget_requests(client, scope, rep_allowed):
    installed = install(client, scope=scope)
    response = client.get(URL, query_string={"ctx": context_for(installed, user=REP)})
    assert response.status_code == (200 if rep_allowed else 403)
    if not rep_allowed:
        assert b"does not have access" in response.data


def test_permission_change_applies_to_the_next_request(client):
    installed = install(client, scope={"type": "all"})
    ctx = context_for(installed, user=REP)
    assert client.get(URL, query_string={"ctx": ctx}).status_code == 200
    lifecycle(client, "permissions", {"org_id": "org-1", "changed_by": ADMIN, "scope": {"type": "admins"}})
    assert client.get(URL, query_string={"ctx": ctx}).status_code == 403


def test_bad_contexts_are_refused(client):
    installed = install(client)
    now = int(time.time())
    forged = mint_context("x" * 43, "org-1", ADMIN, "Contacts", "42")
    expired = context_for(installed, now=now - 3600)
    too_long = context_for(installed, lifetime=3600)
    other_org = mint_context(installed["context_secret"], "org-2", ADMIN, "Contacts", "42")
    for token in (None, "garbage", forged, expired, too_long, other_org):
        response = client.get(URL, query_string={"ctx": token} if token else {})
        assert response.status_code == 401, token


@pytest.mark.parametrize("change", [
    {"is_admin": "false"}, {"is_admin": "true"}, {"is_admin": 1}, {"is_admin": None}, {"is_admin": [True]},
    {"name": 7}, {"profile": {"name": "Administrator"}}, {"locale": ["ja_JP"]}, {"id": True},
])
def test_every_claim_has_its_json_type_or_the_context_is_refused(client, change):
    """A string "false" is truthy in Python: only JSON true makes an admin, and each claim has one type."""
    installed = install(client, scope={"type": "all"})
    user = {key: value for key, value in {**ADMIN, **change}.items() if value is not None}
    token = mint_context(installed["context_secret"], "org-1", user, "Contacts", "42")
    assert client.get("/settings", query_string={"ctx": token}).status_code == 401
    assert client.get(URL, query_string={"ctx": token}).status_code == 401


def test_context_of_one_org_cannot_open_another(client):
    first = install(client, org_id="org-1")
    install(client, org_id="org-2")
    # Signed with org-1's secret but claiming org-2: refused.
    token = mint_context(first["context_secret"], "org-2", ADMIN, "Contacts", "42")
    assert client.get(URL, query_string={"ctx": token}).status_code == 401


def test_unknown_entity_is_not_found(client):
    installed = install(client)
    response = client.get("/record/Cases/1/tickets", query_string={"ctx": context_for(installed, entity=None)})
    assert response.status_code == 404


def test_the_widget_speaks_the_users_language(client):
    installed = install(client)
    ja_admin = dict(ADMIN, locale="ja_JP")
    en_admin = dict(ADMIN, locale="en_US")
    ja = client.get(URL, query_string={"ctx": context_for(installed, user=ja_admin)})
    en = client.get(URL, query_string={"ctx": context_for(installed, user=en_admin)})
    assert "Zendesk チケット" in ja.get_data(as_text=True) and 'lang="ja"' in ja.get_data(as_text=True)
    assert "Zendesk Tickets" in en.get_data(as_text=True) and 'lang="en"' in en.get_data(as_text=True)
