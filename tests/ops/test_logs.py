"""The log lines: one a request, one a sync run's start and end, JSON with LOG_FORMAT=json, and no token,
secret or password anywhere in them through a whole install, authorize (both services, through the
settings' own OAuth flows and the providers' sign-in pages), first sync and uninstall."""
import json
import logging

import pytest

from tests.helpers import install, lifecycle, wired_config
from tests.settings.conftest import _served_crm, _served_zendesk
from tests.settings.flows import CRM_USERS, ZENDESK_PASSWORD, Admin, crm_admin, crm_consent, query, zendesk_consent
from widget import create_app
from widget.extensions import db
from widget.models import Installation, SyncRun
from widget.ops.logs import JsonFormatter
from widget.sync import runs

settings_zendesk = pytest.fixture(_served_zendesk, name="settings_zendesk")
settings_crm = pytest.fixture(_served_crm, name="settings_crm")


@pytest.fixture
def json_app(tmp_path, settings_zendesk, settings_crm):
    app = create_app(wired_config(tmp_path / "logs.db", settings_crm, settings_zendesk, LOG_FORMAT="json"))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_whole_installation_logs_its_requests_and_runs_and_no_secret(json_app, settings_crm, settings_zendesk,
                                                                       caplog, capsys):
    app, client = json_app, json_app.test_client()
    secrets = {name: app.config[name] for name in ("SECRET_KEY", "MARKETPLACE_SECRET", "TOKEN_ENCRYPTION_KEY",
                                                   "CRM_CLIENT_SECRET", "ZENDESK_CLIENT_SECRET")}
    secrets.update(crm_password=CRM_USERS["jp"][1], zendesk_password=ZENDESK_PASSWORD)
    caplog.set_level(logging.INFO)
    capsys.readouterr()

    org_id = settings_crm.org("jp").id
    installed = install(client, org_id=org_id, data_center="jp")
    secrets["context_secret"] = installed["context_secret"]
    admin = Admin(client, installed, org_id=org_id, user=crm_admin(settings_crm, "jp"))
    secrets["context"] = admin.ctx
    crm_back = crm_consent(admin.start_crm(), dc="jp")
    secrets["crm_code"] = query(crm_back)["code"]
    assert admin.callback(crm_back).status_code == 200
    zendesk_back = zendesk_consent(admin.start_zendesk("acme"), email=admin.user["email"])
    secrets["zendesk_code"] = query(zendesk_back)["code"]
    assert admin.callback(zendesk_back).status_code == 200
    secrets["webhook_secret"] = admin.installation()["zendesk_webhook_secret"]
    for service in ("crm", "zendesk"):
        token = admin.grant(service)["token"]
        secrets.update({f"{service}_access_token": token["access_token"],
                        f"{service}_refresh_token": token["refresh_token"]})

    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        run = runs.start_first_sync(installation)
        runs.first_sync_job(installation.id, run.id)
        assert db.session.get(SyncRun, run.id).status == "done"
        run_id, installation_id = run.id, installation.id
    for service in ("crm", "zendesk"):  # the sync may have renewed them
        token = admin.grant(service)["token"]
        secrets.update({f"{service}_access_token_after_sync": token["access_token"],
                        f"{service}_refresh_token_after_sync": token["refresh_token"]})
    uninstalled = lifecycle(client, "uninstall", {"org_id": org_id, "uninstaller": admin.user})
    assert uninstalled.status_code == 200, uninstalled.get_json()

    # What the process wrote: one JSON object a line (the sandboxes' own servers log elsewhere: werkzeug).
    written = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert written and all(line["logger"].startswith("widget.") for line in written)
    requests_logged = [line for line in written if line["message"] == "request"]
    assert [line["route"] for line in requests_logged if line["route"].startswith(("lifecycle.", "settings."))] == [
        "lifecycle.install", "settings.connect_crm", "settings.crm_callback", "settings.index",
        "settings.save_zendesk", "settings.zendesk_callback", "lifecycle.uninstall"]
    for line in requests_logged:
        assert set(line) >= {"request_id", "method", "route", "status", "duration_ms", "installation_id"}
        assert line["status"] < 500 and line["duration_ms"] >= 0
    with_context = ("settings.connect_crm", "settings.index", "settings.save_zendesk")  # not the providers' callbacks
    assert {line["installation_id"] for line in requests_logged if line["route"] in with_context} == {installation_id}
    runs_logged = [(line["message"], line["kind"], line["status"]) for line in written
                   if line.get("run_id") == run_id]
    assert runs_logged == [("sync run started", "first", "running"), ("sync run ended", "first", "done")]

    # Everything logged, by any library at INFO or above, save the sandboxes playing the outside services.
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records
                       if record.name != "werkzeug" and not record.name.startswith("widget.sandbox"))
    everything = logged + "\n" + json.dumps(written, ensure_ascii=False)
    assert len(secrets) == 20 and all(len(value) >= 8 for value in secrets.values())
    leaked = [name for name, value in secrets.items() if value in everything]
    assert leaked == []
    assert "eyJ" not in everything  # no JWT at all (widget contexts, state)
    assert "@" not in everything  # no email address
