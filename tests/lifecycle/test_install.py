"""POST /lifecycle/install, /permissions and /uninstall: signatures, admins, data centres, scope."""
import time

import pytest

from tests.helpers import ADMIN, REP, install, install_body, lifecycle
from widget.extensions import db
from widget.models import Installation


def _count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Installation))


def test_install_records_installation_and_returns_context_secret(app, client):
    response = lifecycle(client, "install", install_body(scope={"type": "profiles", "profiles": ["Sales Rep"]}))
    assert response.status_code == 201
    body = response.get_json()
    assert body["installation_id"] and len(body["context_secret"]) >= 32
    with app.app_context():
        row = db.session.scalar(db.select(Installation))
        assert (row.org_id, row.data_center, row.scope_type, row.scope_profiles) == ("org-1", "jp", "profiles", ["Sales Rep"])


def test_install_again_answers_the_same_installation_with_a_new_secret(app, client):
    first = lifecycle(client, "install", install_body())
    second = lifecycle(client, "install", install_body())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["installation_id"] == second.get_json()["installation_id"]
    assert first.get_json()["context_secret"] != second.get_json()["context_secret"]  # rotated, never sent twice
    assert _count(app) == 1


@pytest.mark.parametrize("tamper", ["wrong_secret", "old", "missing"])
def test_unsigned_or_stale_install_is_refused_and_writes_nothing(app, client, tamper):
    if tamper == "wrong_secret":
        response = lifecycle(client, "install", install_body(), secret="not-the-secret")
    elif tamper == "old":
        response = lifecycle(client, "install", install_body(), timestamp=int(time.time()) - 301)
    else:
        response = client.post("/lifecycle/install", json=install_body())
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_signature"
    assert _count(app) == 0


def test_non_admin_installer_is_refused(app, client):
    response = lifecycle(client, "install", install_body(installer=REP))
    assert response.status_code == 403
    assert response.get_json()["error"] == "admin_required"
    assert "administrator" in response.get_json()["message"]
    assert _count(app) == 0


@pytest.mark.parametrize("dc,allowed", [("us", True), ("eu", False), ("in", True), ("au", True), ("jp", True),
                                        ("cn", False), ("ca", True), ("sa", True)])
def test_only_supported_data_centres_install(app, client, dc, allowed):
    response = lifecycle(client, "install", install_body(data_center=dc))
    if allowed:
        assert response.status_code == 201
    else:
        assert response.status_code == 422
        body = response.get_json()
        assert body["error"] == "unsupported_data_center"
        assert "JP, US, IN, AU, CA and SA" in body["message"] and dc.upper() in body["message"]
        assert _count(app) == 0


@pytest.mark.parametrize("scope", [{"type": "everyone"}, {"type": "profiles", "profiles": []}, None])
def test_bad_scope_is_refused(app, client, scope):
    body = install_body()
    body["scope"] = scope
    response = lifecycle(client, "install", body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
    assert _count(app) == 0


def test_permissions_change_the_scope(app, client):
    install(client)
    response = lifecycle(client, "permissions", {"org_id": "org-1", "changed_by": ADMIN, "scope": {"type": "all"}})
    assert response.status_code == 200
    assert response.get_json()["scope"] == {"type": "all", "profiles": []}
    refused = lifecycle(client, "permissions", {"org_id": "org-1", "changed_by": REP, "scope": {"type": "admins"}})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(Installation)).scope_type == "all"


def test_uninstall_deletes_the_installation_and_is_idempotent(app, client):
    install(client)
    assert lifecycle(client, "uninstall", {"org_id": "org-1", "uninstaller": REP}).status_code == 403
    assert _count(app) == 1
    for _ in range(2):
        response = lifecycle(client, "uninstall", {"org_id": "org-1", "uninstaller": ADMIN})
        assert response.status_code == 200
    assert _count(app) == 0
