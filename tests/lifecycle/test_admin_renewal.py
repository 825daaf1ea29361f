"""An admin's context keeps `is_admin` at renewal only while the CRM confirms it (GET /crm/v8/users/{id}
with the installation's grant, over real HTTP against the CRM sandbox): a demoted admin, a CRM that
doesn't answer or a missing grant give a renewed context without admin rights, whose settings pages say
to reopen them from the CRM while the rep-level pages keep working."""

import jwt
from bs4 import BeautifulSoup
import pytest
import requests

from tests.helpers import ADMIN, install, lifecycle
from tests.lifecycle.conftest import connect_tenant, crm_api_session
from widget.sandbox.crm.signing import mint_context

SETTINGS = "/settings"
RECORD = "/record/Contacts/42/tickets"



def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def crm_admin(crm, dc="jp"):
    """The context's user for the CRM sandbox's admin of `dc`, as the CRM signs it."""
    org = crm.org(dc)
    user = org.admin()
    return {"id": user["id"], "name": user["full_name"], "email": user["email"], "profile": "Administrator",
            "is_admin": True, "locale": "en_US"}


def set_profile(crm, user_id, profile_name, dc="jp"):
    """The CRM admin changes a user's profile (Setup → Users), through the CRM's own users API."""
    org = crm.org(dc)
    profile = next(p for p in org.profiles.values() if p["name"] == profile_name)
    look = crm_api_session(crm, dc)
    answer = look.put(f"{look.base}/users/{user_id}", json={"users": [{"profile": {"id": profile["id"]}}]},
                      timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def tenant(wired, crm, zendesk_server):
    """Installed for every user (scope all) with both grants; the JP CRM org's admin."""
    installed = connect_tenant(wired, crm, zendesk_server, "org-a", "jp", "acme", webhook=False).installed
    everyone = lifecycle(wired.test_client(), "permissions",
                         {"org_id": "org-a", "changed_by": ADMIN, "scope": {"type": "all"}})
    assert everyone.status_code == 200
    return installed, crm_admin(crm)


class Page:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def get(self, url):
        response = self.client.get(url, headers={"X-Widget-Context": self.token})
        self.token = response.headers.get("X-Widget-Context-Renewed", self.token)
        return response


def test_a_confirmed_admin_keeps_admin_rights_at_renewal(wired, tenant, clock):
    installed, admin = tenant
    page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin, now=clock.now))
    clock.advance(400)
    assert page.get(SETTINGS).status_code == 200
    assert claims(page.token)["iat"] == clock.now and claims(page.token)["user"]["is_admin"] is True
    assert page.get(SETTINGS).status_code == 200


def test_a_demoted_admins_renewed_context_no_longer_reaches_the_settings(wired, crm, tenant, clock):
    installed, admin = tenant
    page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin, now=clock.now))
    clock.advance(400)
    assert page.get(SETTINGS).status_code == 200  # renewed, rights confirmed by the CRM
    set_profile(crm, admin["id"], "Standard")

    clock.advance(400)  # the next renewal, past the short cache of the confirmation
    assert page.get(SETTINGS).status_code == 200  # this request's context still says admin ...
    renewed = claims(page.token)
    assert renewed["user"]["is_admin"] is False  # ... the renewed one does not
    assert (renewed["iss"], renewed["sub"], renewed["user"]["id"]) == ("org-a", admin["id"], admin["id"])
    refused = page.get(SETTINGS)
    assert refused.status_code == 403 and "Reopen this page from Zoho CRM" in refused.get_data(as_text=True)
    record_page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin,
                                                         "Contacts", "42", now=clock.now - 400))
    assert record_page.get(RECORD).status_code == 200
    assert claims(record_page.token)["user"]["is_admin"] is False
    assert record_page.get(RECORD).status_code == 200  # the rep-level page keeps working


def test_a_crm_that_does_not_answer_confirms_nothing(wired, crm, tenant, clock):
    installed, admin = tenant
    faults = requests.post(f"{crm.url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=10)
    assert faults.status_code == 200
    page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin, now=clock.now))
    clock.advance(400)
    page.get(SETTINGS)
    assert claims(page.token)["user"]["is_admin"] is False
    requests.post(f"{crm.url}/_sandbox/faults", json={"error_rate": 0.0}, timeout=10)
    clock.advance(400)
    page.get(SETTINGS)
    assert page.get(SETTINGS).status_code == 403  # never given back by a renewal: reopen from the CRM


def test_without_a_crm_grant_admin_rights_are_not_renewed(wired, crm, clock):
    installed = install(wired.test_client(), org_id="org-b", data_center="jp")
    page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-b", crm_admin(crm),
                                                  now=clock.now))
    clock.advance(400)
    assert page.get(SETTINGS).status_code == 200
    assert claims(page.token)["user"]["is_admin"] is False
    refused = page.get(SETTINGS)
    assert refused.status_code == 403 and "Reopen this page from Zoho CRM" in refused.get_data(as_text=True)


def test_confirmations_are_cached_briefly(wired, crm, tenant, clock):
    installed, admin = tenant
    users_calls = []
    original = crm.app.wsgi_app

    def counting(environ, start_response):
        if environ["PATH_INFO"].endswith(f"/crm/v8/users/{admin['id']}"):
            users_calls.append(environ["PATH_INFO"])
        return original(environ, start_response)

    crm.app.wsgi_app = counting
    try:
        pages = [Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin,
                                                        now=clock.now - 400)) for _ in range(3)]
        for page in pages:
            page.get(SETTINGS)
            assert claims(page.token)["user"]["is_admin"] is True
        assert len(users_calls) == 1
        clock.advance(120)
        Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin,
                                               now=clock.now - 400)).get(SETTINGS)
        assert len(users_calls) == 2
    finally:
        crm.app.wsgi_app = original


def test_the_reopen_message_speaks_japanese(wired, crm, clock):
    installed = install(wired.test_client(), org_id="org-b", data_center="jp")
    admin = {**crm_admin(crm), "locale": "ja_JP"}
    page = Page(wired.test_client(), mint_context(installed["context_secret"], "org-b", admin, now=clock.now - 400))
    page.get(SETTINGS)
    with wired.app_context():
        refused = page.get(SETTINGS)
    assert refused.status_code == 403
    assert "Zoho CRM で管理者権限を確認できませんでした。Zoho CRM からこのページを開き直してください。" in \
        refused.get_data(as_text=True)


def test_the_panels_own_requests_are_marked_as_background(wired, tenant, clock):
    installed, admin = tenant
    page = BeautifulSoup(Page(wired.test_client(), mint_context(installed["context_secret"], "org-a", admin,
                                                                now=clock.now)).get(SETTINGS).data, "html.parser")
    live = page.select("[hx-trigger^=load]")
    assert live and all(element.has_attr("data-widget-background") for element in live)
    assert not page.select("form[data-widget-background], a[data-widget-background]")  # the admin's own
