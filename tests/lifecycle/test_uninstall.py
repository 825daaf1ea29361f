"""F23, F24, docs/architecture.md#uninstall: uninstall removes everything outside and every row, against both sandboxes
over real HTTP; failing outside steps stay pending (the installation is off meanwhile) and are retried."""
import json

import pytest
import requests

from tests.helpers import ADMIN, context_for, install, lifecycle
from tests.lifecycle.conftest import connect_tenant, crm_api_session
from widget.clients import crm as crm_api
from widget.clients.http import AuthenticationError
from widget.connections import crm_client, zendesk_client
from widget.extensions import db
from widget.lifecycle.install import ProvisioningError, on_crm_connected
from widget.models import Installation
from widget.sandbox.crm.signing import marketplace_headers


@pytest.fixture
def tenants(wired, crm, zendesk_server):
    """Two installations, each fully set up: org A (JP CRM, Zendesk `acme`), org B (US CRM, `globex`)."""
    a = connect_tenant(wired, crm, zendesk_server, "org-a", "jp", "acme")
    b = connect_tenant(wired, crm, zendesk_server, "org-b", "us", "globex")
    with wired.app_context():
        for org_id in ("org-a", "org-b"):
            on_crm_connected(installation(org_id))
    look = crm_api_session(crm, "jp")
    stored = look.post(f"{look.base}/Zendesk_Tickets", timeout=5, json={"data": [{"Name": "Printer", "Ticket_ID": "7"}]})
    assert stored.status_code == 201, stored.text
    return a, b


def installation(org_id):
    return db.session.scalar(db.select(Installation).filter_by(org_id=org_id))


def uninstall(app, org_id, language=None):
    if language is None:
        return lifecycle(app.test_client(), "uninstall", {"org_id": org_id, "uninstaller": ADMIN})
    raw = json.dumps({"org_id": org_id, "uninstaller": ADMIN}).encode()
    headers = {**marketplace_headers(app.config["MARKETPLACE_SECRET"], raw), "Accept-Language": language}
    return app.test_client().post("/lifecycle/uninstall", data=raw, headers=headers)


def installation_id(app, org_id):
    with app.app_context():
        return installation(org_id).id


def rows_of(app, installation_id):
    """Rows per table belonging to the installation (every table keyed by installation, and its own
    row), counted by id so that orphans left behind would show."""
    counts = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            column = table.c.id if table.name == "installation" else table.c.get("installation_id")
            if column is not None:
                count = db.session.scalar(db.select(db.func.count()).select_from(table).where(column == installation_id))
                if count:
                    counts[table.name] = count
    return counts


def zendesk_admin(sandbox, subdomain):
    account = next(a for a in sandbox.credentials(sandbox.url)["accounts"] if a["subdomain"] == subdomain)
    session = requests.Session()
    session.auth = (f"{account['admin_email']}/token", account["api_token"])
    session.base = f"{sandbox.url}/api/v2"
    return session


def webhooks(sandbox, subdomain):
    return zendesk_admin(sandbox, subdomain).get(f"{sandbox.url}/api/v2/webhooks", timeout=5).json()["webhooks"]


def ticket_ids(sandbox, subdomain):
    answer = zendesk_admin(sandbox, subdomain).get(f"{sandbox.url}/api/v2/tickets", params={"per_page": 100}, timeout=5)
    return sorted(t["id"] for t in answer.json()["tickets"])


def custom_modules(crm, dc):
    look = crm_api_session(crm, dc)
    modules = look.get(f"{look.base}/settings/modules", timeout=5).json()["modules"]
    return sorted(m["api_name"] for m in modules if m["generated_type"] == "custom")


def channels(crm, dc):
    look = crm_api_session(crm, dc)
    answer = look.get(f"{look.base}/actions/watch", timeout=5)
    return [] if answer.status_code == 204 else answer.json()["watch"]


def widget_status(app, tenant):
    token = context_for(tenant.installed, org_id=tenant.org_id)
    return app.test_client().get(f"/record/Contacts/42/tickets?ctx={token}").status_code


def zendesk_faults(sandbox, **faults):
    assert requests.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=5).status_code == 200


def assert_still_working(app, crm, zendesk_server, tenant):
    """Tenant B is untouched: modules, channel, webhook, both grants and its widgets."""
    assert custom_modules(crm, tenant.dc) == ["Zendesk_Ticket_Comments", "Zendesk_Tickets"]
    assert len(channels(crm, tenant.dc)) == 1
    assert len(webhooks(zendesk_server, tenant.subdomain)) == 1
    with app.app_context():
        assert "Zendesk_Tickets" in [m["api_name"] for m in crm_client(installation(tenant.org_id)).list_modules()]
        assert zendesk_client(installation(tenant.org_id)).current_token()["scopes"]
    assert widget_status(app, tenant) == 200


def test_uninstall_removes_everything_outside_and_every_row(wired, crm, zendesk_server, tenants):
    a, b = tenants
    a_id, b_id = installation_id(wired, "org-a"), installation_id(wired, "org-b")
    b_rows = rows_of(wired, b_id)
    assert b_rows == {"installation": 1, "connection": 2}
    tickets_before = ticket_ids(zendesk_server, "acme")
    assert rows_of(wired, a_id) == {"installation": 1, "connection": 2}

    response = uninstall(wired, "org-a")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "uninstalled", "manual": []}

    # CRM: both modules and their records gone, no notification channel, the refresh token revoked.
    assert custom_modules(crm, "jp") == []
    look = crm_api_session(crm, "jp")
    gone = look.get(f"{look.base}/Zendesk_Tickets", params={"fields": "Name"}, timeout=5)
    assert gone.json()["code"] == "INVALID_MODULE"
    assert channels(crm, "jp") == []
    centre = crm.creds["data_centres"]["jp"]
    with pytest.raises(AuthenticationError):
        crm_api.refresh_token(requests.Session(), centre["accounts_url"], a.crm_token, centre["client_id"],
                              centre["client_secret"])
    # Zendesk: no webhook, the token revoked (API and refresh both refuse), tickets untouched.
    assert webhooks(zendesk_server, "acme") == []
    current = requests.get(f"{zendesk_server.url}/api/v2/oauth/tokens/current.json", timeout=5,
                           headers={"Authorization": f"Bearer {a.zendesk_token['access_token']}"})
    assert current.status_code == 401
    secret = zendesk_server.credentials(zendesk_server.url)["oauth_client_secret"]
    refreshed = requests.post(f"{zendesk_server.url}/oauth/tokens", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": a.zendesk_token["refresh_token"],
        "client_id": "zendesk_for_zoho_crm", "client_secret": secret})
    assert refreshed.json()["error"] == "invalid_grant"
    assert ticket_ids(zendesk_server, "acme") == tickets_before and tickets_before
    # Database: nothing of A, everything of B.
    assert rows_of(wired, a_id) == {}
    assert rows_of(wired, b_id) == b_rows
    assert widget_status(wired, a) == 401
    # Tenant isolation: B keeps working in full.
    assert_still_working(wired, crm, zendesk_server, b)

    again = uninstall(wired, "org-a")
    assert (again.status_code, again.get_json()["status"]) == (200, "uninstalled")


def test_failing_zendesk_leaves_the_installation_off_until_the_retry_command_finishes(wired, crm, zendesk_server,
                                                                                      tenants):
    a, b = tenants
    a_id = installation_id(wired, "org-a")
    zendesk_faults(zendesk_server, error_rate=1.0)
    response = uninstall(wired, "org-a")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "uninstalling" and "retried" in body["message"]
    assert [p["step"] for p in body["pending"]] == ["zendesk_webhook"]
    assert "Zendesk answered with a server error" in body["pending"][0]["message"]
    # The CRM side is already done; the installation is off at once, its rows wait for the rest.
    assert custom_modules(crm, "jp") == [] and channels(crm, "jp") == []
    assert widget_status(wired, a) == 410
    with wired.app_context():
        row = installation("org-a")
        assert row.status == "uninstalling"
        assert [(p["step"], p["error"]) for p in row.cleanup_pending] == [
            ("zendesk_webhook", "Zendesk answered with a server error.")]
        with pytest.raises(ProvisioningError):  # nothing new is created while uninstalling
            on_crm_connected(row)
        # What is done is recorded, so a retry does only the rest.
        assert (row.crm_modules, row.crm_channel_id) == ({}, None) and row.zendesk_webhook_id
        assert {c.service: c.status for c in row.connections} == {"crm": "revoked", "zendesk": "active"}
    still = wired.test_cli_runner().invoke(args=["support", "retry-uninstalls"])
    assert still.exit_code == 0 and "org-a: still uninstalling" in still.output
    assert "Delete the extension's webhook in Zendesk: not done yet. Zendesk answered with a server error." \
        in still.output
    with wired.app_context():
        assert installation("org-a").cleanup_pending[0]["attempts"] == 2
    zendesk_faults(zendesk_server, error_rate=0.0)
    assert len(webhooks(zendesk_server, "acme")) == 1

    result = wired.test_cli_runner().invoke(args=["support", "retry-uninstalls"])
    assert result.exit_code == 0, result.output
    assert "org-a: uninstalled" in result.output and "org-b" not in result.output
    assert webhooks(zendesk_server, "acme") == []
    assert rows_of(wired, a_id) == {}
    assert_still_working(wired, crm, zendesk_server, b)
    assert "No unfinished uninstalls" in wired.test_cli_runner().invoke(args=["support", "retry-uninstalls"]).output


def test_zendesk_down_then_back_finished_by_a_repeated_uninstall_call(wired, crm, zendesk_server, tenants):
    a, b = tenants
    a_id = installation_id(wired, "org-a")
    zendesk_server.server.close()
    try:
        first = uninstall(wired, "org-a")
        second = uninstall(wired, "org-a", language="ja")
    finally:
        zendesk_server.restart()
    assert (first.status_code, second.status_code) == (202, 202)
    pending = second.get_json()["pending"]
    assert [(p["step"], p["attempts"]) for p in pending] == [("zendesk_webhook", 2)]
    assert "Zendesk に接続できませんでした" in pending[0]["message"]  # the marketplace asked in Japanese
    assert "Zendesk could not be reached" in first.get_json()["pending"][0]["message"]
    assert widget_status(wired, a) == 410

    third = uninstall(wired, "org-a")
    assert third.status_code == 200, third.get_json()
    assert third.get_json() == {"status": "uninstalled", "manual": []}
    assert webhooks(zendesk_server, "acme") == []
    assert rows_of(wired, a_id) == {}
    assert_still_working(wired, crm, zendesk_server, b)


def installation_status(app, org_id):
    with app.app_context():
        return installation(org_id).status


def test_reinstall_waits_for_an_unfinished_uninstall(wired, crm, zendesk_server, tenants):
    a_id = installation_id(wired, "org-a")
    zendesk_faults(zendesk_server, error_rate=1.0)
    assert uninstall(wired, "org-a").status_code == 202
    refused = lifecycle(wired.test_client(), "install", {"org_id": "org-a", "org_name": "A", "data_center": "jp",
                                                        "installer": ADMIN, "scope": {"type": "admins"}})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "uninstall_pending" and "not finished" in refused.get_json()["message"]
    assert installation_status(wired, "org-a") == "uninstalling"
    zendesk_faults(zendesk_server, error_rate=0.0)
    reinstalled = install(wired.test_client(), org_id="org-a", data_center="jp")
    assert webhooks(zendesk_server, "acme") == []
    assert rows_of(wired, a_id) == {}  # the old installation is gone in full
    assert rows_of(wired, installation_id(wired, "org-a")) == {"installation": 1}  # a fresh one, no grants
    assert installation_status(wired, "org-a") == "installed" and reinstalled["context_secret"]


def test_grants_revoked_elsewhere_end_the_uninstall_with_manual_steps(wired, crm, zendesk_server, tenants):
    a, b = tenants
    a_id = installation_id(wired, "org-a")
    centre = crm.creds["data_centres"]["jp"]
    requests.post(f"{centre['accounts_url']}/oauth/v2/token/revoke", params={"token": a.crm_token["refresh_token"]},
                  timeout=5)
    revoked = requests.delete(f"{zendesk_server.url}/api/v2/oauth/tokens/current.json", timeout=5,
                              headers={"Authorization": f"Bearer {a.zendesk_token['access_token']}"})
    assert revoked.status_code == 204
    with wired.app_context():
        for grant in installation("org-a").connections:  # the access tokens are dead: force a refresh
            grant.token = {**grant.token, "expires_at": 0}
        db.session.commit()

    response = uninstall(wired, "org-a")
    assert response.status_code == 200
    manual = response.get_json()["manual"]
    assert len(manual) == 2
    assert "Zendesk_Tickets" in manual[0] and "Setup" in manual[0]
    assert "webhook" in manual[1] and "Admin Center" in manual[1]
    assert rows_of(wired, a_id) == {}
    assert_still_working(wired, crm, zendesk_server, b)
