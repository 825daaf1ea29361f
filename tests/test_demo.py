"""`flask --app wsgi demo` starts the extension and both sandboxes, and prints where to go; its sandboxes hold
one company, so after the first sync the CRM's Contacts, Leads, Accounts and Deals have their tickets."""
import os
import re
import subprocess
import sys
import time

import pytest
import requests
from bs4 import BeautifulSoup
from cryptography.fernet import Fernet

from tests.helpers import served, wired_config
from tests.lifecycle.conftest import connect_tenant
from widget import create_app
from widget.cli import DEMO_DATASET, DEMO_TICKETS
from widget.extensions import db
from widget.lifecycle.install import on_crm_connected
from widget.models import Comment, Installation, Link, SyncError, Ticket
from widget.sandbox import crm as crm_sandbox
from widget.sandbox import zendesk as zendesk_sandbox
from widget.sandbox.company import ABSENT, IMPORTED, OTHER_SYSTEM, SAME_NAME, company
from widget.sandbox.crm.signing import mint_context
from widget.sandbox.serving import free_port
from widget.sync import runs


def _wait_for(url, deadline):
    while time.time() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def test_demo_serves_extension_and_both_sandboxes(tmp_path):
    ports = [free_port() for _ in range(3)]
    # As on a fresh machine: nothing configured, not even WIDGET_ENV (the demo says development itself).
    env = {name: value for name, value in os.environ.items() if name != "WIDGET_ENV"}
    env.update(WIDGET_INSTANCE_PATH=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(ports[0]),
         "--zendesk-port", str(ports[1]), "--crm-port", str(ports[2])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        banner = ""
        while "Press Ctrl+C" not in banner and time.time() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, banner
            banner += line
        assert f"Open the CRM:  http://localhost:{ports[2]}/" in banner
        assert _wait_for(f"http://127.0.0.1:{ports[0]}/healthz", deadline).json() == {"status": "ok"}
        assert (tmp_path / "widget.db").exists()
        signin = _wait_for(f"http://localhost:{ports[2]}/", deadline)
        assert signin.status_code == 200 and "password" in signin.text.lower()
        email, password = re.search(r"sign in as (\S+) / (\S+)", banner).groups()
        assert email in signin.text
        # Zendesk is authorized by the CRM admin as themselves (the same email): one sign-in for both.
        assert re.search(r"Zendesk sign-in \(when you authorize\): the same, (\S+) / (\S+)", banner).groups() == \
            (email, password)
        zendesk = _wait_for(f"http://127.0.0.1:{ports[1]}/agent", deadline)
        assert zendesk.status_code == 200 and "password" in zendesk.text.lower()
        # Seeded with the company: the printed CRM user sees its Japanese contacts, whose emails Zendesk knows.
        browser = requests.Session()
        form = browser.get(f"http://localhost:{ports[2]}/crm/signin", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        browser.post(f"http://localhost:{ports[2]}/crm/signin", timeout=10,
                     data={"email": email, "password": password, "csrf_token": token})
        contacts = browser.get(f"http://localhost:{ports[2]}/crm/tab/Contacts", timeout=10).text
        newest = company().contacts[-1]  # the list shows the newest first
        assert newest.family["ja"] in contacts and newest.given["ja"] in contacts and newest.email in contacts
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_the_demo_never_runs_in_production(tmp_path):
    env = dict(os.environ, WIDGET_INSTANCE_PATH=str(tmp_path), WIDGET_ENV="production", SECRET_KEY="k" * 40,
               MARKETPLACE_SECRET="m" * 40, METRICS_TOKEN="t" * 40, EXTENSION_URL="https://ext.example.com",
               TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode())
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "WIDGET_ENV=development" in done.stderr
    assert not (tmp_path / "widget.db").exists()


# ---- the demo's data: one company on both sides ----------------------------------------------------
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji
ORG_ID = "org-demo"
LOOKUPS = {"Contacts": "crm_contact_id", "Leads": "crm_lead_id", "Accounts": "crm_account_id", "Deals": "crm_deal_id"}
ADMIN = {"id": "u-admin", "name": "Patricia Boyle", "email": "admin@jp.zylker.example", "is_admin": True,
         "profile": "Administrator", "locale": "ja_JP", "time_zone": "Asia/Tokyo"}


@pytest.fixture
def demo_first_sync(tmp_path, monkeypatch):
    """Both sandboxes seeded as `flask demo` seeds them, served over HTTP; an installation of the JP org
    with both grants and its CRM modules, after its first (bulk) sync. Yields (app, crm, zendesk, run)
    inside an app context."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http sandboxes (connections.py)
    crm = crm_sandbox.create_sandbox(data_centres=("jp",), dataset=DEMO_DATASET)
    crm.app.config["SANDBOX_NOTIFIER"].attempts = 1  # no extension listens to the CRM's notifications here
    zendesk = zendesk_sandbox.create_sandbox(seed_tickets=DEMO_TICKETS, dataset=DEMO_DATASET)
    zendesk.state.rate_limits_enabled = False
    with served(crm), served(zendesk):
        crm.creds = crm.credentials(crm.url)
        app = create_app(wired_config(tmp_path / "demo.db", crm, zendesk, EXTENSION_URL="http://127.0.0.1:9",
                                      ZENDESK_INCREMENTAL_CALLS_PER_MINUTE=10_000))
        with app.app_context():
            db.create_all()
        connect_tenant(app, crm, zendesk, ORG_ID, "jp", "acme", webhook=False)
        with app.app_context():
            installation = db.session.scalar(db.select(Installation).filter_by(org_id=ORG_ID))
            on_crm_connected(installation)
            run = runs.start_first_sync(installation)
            runs.first_sync_job(installation.id, run.id)
            db.session.refresh(run)
            yield app, crm, zendesk, run
            db.session.remove()
            db.engine.dispose()


def test_after_the_demos_first_sync_every_kind_of_crm_record_has_tickets(demo_first_sync):
    app, crm, zendesk, run = demo_first_sync
    assert run.status == "done", run.message
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=ORG_ID))
    tickets = db.session.scalars(db.select(Ticket).filter_by(installation_id=installation.id)).all()
    assert len(tickets) == DEMO_TICKETS
    fixture = company()
    records = {"Contacts": {p.crm_id for p in fixture.contacts}, "Leads": {p.crm_id for p in fixture.leads},
               "Accounts": {a.crm_id for a in fixture.accounts}, "Deals": {d.crm_id for d in fixture.deals}}
    with_tickets = {entity: {getattr(t, column) for t in tickets} - {None} for entity, column in LOOKUPS.items()}
    for entity, ids in records.items():
        assert with_tickets[entity] and with_tickets[entity] <= ids, entity
    # Most contacts who wrote to support, every account whose organization is the account's own, and
    # the deals a rep opened tickets from.
    assert len(with_tickets["Contacts"]) >= 0.8 * sum(p.in_zendesk for p in fixture.contacts)
    assert with_tickets["Deals"] == {d.crm_id for d in fixture.deals if d.has_tickets}
    linked = {a.crm_id for a in fixture.accounts if a.zendesk in (IMPORTED, SAME_NAME)}
    assert with_tickets["Accounts"] == linked
    # Most tickets are requested by a CRM Contact or Lead; a few by people the CRM does not know.
    people = sum(1 for t in tickets if t.crm_contact_id or t.crm_lead_id)
    assert 0.7 * len(tickets) <= people < len(tickets)

    # The related list of one record of each kind lists its tickets.
    client = app.test_client()
    for entity in records:
        record_id = sorted(with_tickets[entity])[0]
        token = mint_context(installation.context_secret, ORG_ID, ADMIN, entity, record_id)
        with app.app_context():
            page = client.get(f"/record/{entity}/{record_id}/tickets?status=all", headers={"X-Widget-Context": token})
        assert page.status_code == 200, entity
        rows = BeautifulSoup(page.text, "html.parser").select("#ticket-list tbody tr")
        assert rows and all(JAPANESE.search(row.get_text()) for row in rows), entity


def test_the_demos_jp_org_and_its_support_desk_are_in_japanese(demo_first_sync):
    app, crm, zendesk, run = demo_first_sync
    org = crm.org("jp")
    for module, field in (("Accounts", "Account_Name"), ("Contacts", "Full_Name"), ("Leads", "Company"),
                          ("Deals", "Deal_Name")):
        values = [record[field] for record in org.module(module).records.values()]
        assert values and all(JAPANESE.search(value) for value in values), module
    tickets = db.session.scalars(db.select(Ticket)).all()
    assert all(JAPANESE.search(t.subject) and JAPANESE.search(t.requester_name) for t in tickets)
    comments = db.session.scalars(db.select(Comment)).all()
    assert len(comments) > 3 * len(tickets) and all(JAPANESE.search(c.body) for c in comments)
    # Conversations: public replies and internal notes, by the requester and several agents.
    assert {c.public for c in comments} == {True, False}
    assert len({c.author_name for c in comments if not c.public}) >= 3
    # A realistic spread of statuses, priorities and types.
    assert {t.status for t in tickets} == {"new", "open", "pending", "hold", "solved", "closed"}
    assert {t.priority for t in tickets} == {"low", "normal", "high", "urgent"}
    assert {t.type for t in tickets} == {"question", "incident", "problem", "task"}
    assert len({tag for t in tickets for tag in t.tags}) >= 10


def test_the_demos_name_clashes_one_adopted_one_in_the_error_log(demo_first_sync):
    app, crm, zendesk, run = demo_first_sync
    account = zendesk.account()
    links = {link.crm_id: link for link in db.session.scalars(db.select(Link).filter_by(kind="organization"))}
    for clash in (a for a in company().accounts if a.zendesk == SAME_NAME):
        organization = account.organizations[account.orgs_by_name[clash.name["ja"].lower()]]
        assert links[clash.crm_id].zendesk_id == organization["id"]  # adopted: linked, no second organization
        assert organization["external_id"] == f"zcrm:Accounts:{clash.crm_id}"
    [owned] = [a for a in company().accounts if a.zendesk == OTHER_SYSTEM]
    organization = account.organizations[account.orgs_by_name[owned.name["ja"].lower()]]
    assert organization["external_id"] == owned.other_external_id and owned.crm_id not in links
    [error] = db.session.scalars(db.select(SyncError).filter_by(stream="crm_accounts")).all()
    assert error.object_id == owned.crm_id and error.zendesk_id == organization["id"]
    assert owned.other_external_id in error.message and owned.name["ja"] in error.message
    # ... as the dashboard's error log shows it to the admin.
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=ORG_ID))
    token = mint_context(installation.context_secret, ORG_ID, ADMIN)
    with app.app_context():
        dashboard = app.test_client().get("/dashboard", headers={"X-Widget-Context": token})
    assert dashboard.status_code == 200 and owned.other_external_id in dashboard.get_data(as_text=True)
    # Accounts without an organization got one.
    for absent in (a for a in company().accounts if a.zendesk == ABSENT):
        assert links[absent.crm_id].zendesk_id in account.organizations
