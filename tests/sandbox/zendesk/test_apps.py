"""The sandbox's apps over real HTTP: a published marketplace app installed into an account through the
Apps API (admins only), its public key, removal; and the agent UI's ticket page opening each installed
sidebar app by a signed POST whose token that key verifies."""
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from tests.sandbox.zendesk.test_agent_ui import ADMIN, sign_in, soup

SIDEBAR_URL = "http://127.0.0.1:9/zendesk/sidebar"


def _install(api, app_id, name="Zoho CRM"):
    return api.post(f"{api.base}/apps/installations.json", json={"app_id": app_id, "settings": {"name": name}})


def test_an_admin_installs_and_removes_an_app(zendesk, api):
    app = zendesk.publish_app("Zoho CRM", SIDEBAR_URL)
    answer = _install(api, app.id)
    assert answer.status_code == 201, answer.text
    installed = answer.json()
    assert installed["app_id"] == app.id and installed["settings"]["name"] == "Zoho CRM" and installed["enabled"]
    listed = api.get(f"{api.base}/apps/installations.json").json()["installations"]
    assert [i["id"] for i in listed] == [installed["id"]]
    assert api.get(f"{api.base}/apps/installations/{installed['id']}.json").json()["id"] == installed["id"]
    key = api.get(f"{api.base}/apps/{app.id}/public_key.pem")
    assert key.status_code == 200 and key.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert api.delete(f"{api.base}/apps/installations/{installed['id']}.json").status_code == 204
    assert api.get(f"{api.base}/apps/installations.json").json()["installations"] == []
    assert api.delete(f"{api.base}/apps/installations/{installed['id']}.json").status_code == 404


def test_installing_needs_an_existing_app_a_name_and_an_admin(zendesk, api):
    app = zendesk.publish_app("Zoho CRM", SIDEBAR_URL)
    assert _install(api, 999).status_code == 400
    assert _install(api, app.id, name=" ").status_code == 422
    creds = zendesk.credentials(zendesk.url)["accounts"][0]
    agent = requests.Session()
    agent.auth = (f"{creds['agent_emails'][0]}/token", creds["api_token"])
    refused = agent.post(f"{api.base}/apps/installations.json", json={"app_id": app.id, "settings": {"name": "x"}})
    assert refused.status_code == 403
    assert api.get(f"{api.base}/apps/installations.json").json()["installations"] == []


def test_publishing_through_the_control_endpoint(zendesk):
    answer = requests.post(f"{zendesk.url}/_sandbox/apps", json={"name": "Zoho CRM", "url": SIDEBAR_URL})
    assert answer.status_code == 201 and answer.json()["app"]["public_key"].startswith("-----BEGIN PUBLIC KEY")
    assert requests.post(f"{zendesk.url}/_sandbox/apps", json={"name": "x", "url": "ftp://x"}).status_code == 400
    assert zendesk.credentials(zendesk.url)["apps"] == [{"id": answer.json()["app"]["id"], "name": "Zoho CRM",
                                                         "url": SIDEBAR_URL}]


def test_the_ticket_page_opens_the_sidebar_app_with_a_signed_post(zendesk, api):
    ticket_id = next(iter(zendesk.account().tickets))
    browser, _ = sign_in(zendesk.url)
    assert soup(browser.get(f"{zendesk.url}/agent/tickets/{ticket_id}")).select_one("aside.apps-sidebar") is None
    app = zendesk.publish_app("Zoho CRM", SIDEBAR_URL)
    installed = _install(api, app.id).json()
    page = soup(browser.get(f"{zendesk.url}/agent/tickets/{ticket_id}"))
    form = page.select_one("aside.apps-sidebar form.app-launch")
    assert form["method"] == "post" and form["target"] == f"app-{installed['id']}"
    assert page.select_one(f"iframe[name=app-{installed['id']}]") is not None
    action = urlsplit(form["action"])
    assert f"{action.scheme}://{action.netloc}{action.path}" == SIDEBAR_URL
    query = parse_qs(action.query)
    assert sorted(query) == ["app_guid", "origin"]  # as the framework sends: the ticket is told by ZAF
    assert query["origin"] == [zendesk.url]
    # What the page's ZAF host script (static/zaf_host.js) tells the app: the ticket and the agent's locale.
    frame = page.select_one(f"iframe[name=app-{installed['id']}]")
    zaf = json.loads(frame["data-zaf"])
    assert zaf["origin"] == "http://127.0.0.1:9" and zaf["appGuid"] == query["app_guid"][0]
    agent = zendesk.account().find_user(email=ADMIN)
    assert zaf["data"]["ticket.id"] == ticket_id and zaf["data"]["currentUser.locale"] == agent["locale"]
    assert zaf["context"]["location"] == "ticket_sidebar" and zaf["context"]["account"] == {"subdomain": "acme"}
    assert zaf["metadata"]["installationId"] == installed["id"] and zaf["metadata"]["appId"] == app.id
    assert page.select_one("script[src='/static/zaf_host.js']") is not None
    host = browser.get(f"{zendesk.url}/static/zaf_host.js")
    assert host.status_code == 200 and "zaf.app.registered" in host.text
    token = form.select_one("input[name=token]")["value"]
    key = api.get(f"{api.base}/apps/{app.id}/public_key.pem").text
    claims = jwt.decode(token, key, algorithms=["RS256"],
                        audience=f"https://acme.zendesk.com/api/v2/apps/installations/{installed['id']}.json",
                        issuer="acme.zendesk.com")
    assert 0 < claims["exp"] - claims["iat"] <= 600
    browser.close()
