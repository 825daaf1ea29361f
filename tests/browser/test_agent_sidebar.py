"""The agent sidebar in a real browser (Debian's chromium via Playwright), third-party cookies blocked: the
CRM admin installs the extension and authorizes both services (which installs our sidebar app into
Zendesk) and runs the first sync; then an agent signs in to the Zendesk sandbox's agent UI (another site
than the extension), opens a ticket whose requester is a CRM Contact with an Account and open Deals and
sees them in the sidebar, in English and in Japanese; opens a ticket of a requester the CRM does not
know, creates the Lead and sees it; makes a Contact that ticket's requester and sees the panel follow.
The app learns the ticket and the agent's locale through Zendesk's ZAF SDK, from the sandbox's agent page
playing ZAF's host side. Screenshots: docs/screenshots/agent-sidebar-*.png."""
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import (MARKETPLACE_SECRET, install_from_marketplace, shoot, sign_in,  # noqa: F401
                                    strict_chromium)
from tests.browser.test_wizard_walkthrough import _authorize_both
from tests.helpers import served
from widget import create_app
from widget.extensions import db
from widget.models import Installation, Ticket
from widget.sandbox.crm import create_sandbox as create_crm_sandbox
from widget.sandbox.serving import free_port
from widget.sandbox.zendesk import create_sandbox as create_zendesk_sandbox
from widget.sync import runs

pytestmark = pytest.mark.browser

WAIT = 30_000
DC = "jp"
STRANGER = {"name": "Kenji Watanabe", "email": "kenji.watanabe@newcomer.example"}


@pytest.fixture
def world(tmp_path):
    """The extension on 127.0.0.1; the CRM sandbox and the Zendesk sandbox's agent UI on localhost, other
    sites; both sandboxes hold the demo's company; our sidebar app published in the Zendesk sandbox."""
    extension_port, crm_port, zendesk_port = free_port("127.0.0.1"), free_port("localhost"), free_port("localhost")
    extension_url, crm_url = f"http://127.0.0.1:{extension_port}", f"http://localhost:{crm_port}"
    zendesk_url = f"http://localhost:{zendesk_port}"
    zendesk = create_zendesk_sandbox(seed_tickets=120, dataset="company")
    app = zendesk.publish_app("Zoho CRM", f"{extension_url}/zendesk/sidebar")
    crm = create_crm_sandbox(data_centres=(DC,), seed_records=20, extension_url=extension_url,
                             marketplace_secret=MARKETPLACE_SECRET, dataset="company")
    crm_admin = crm.credentials(crm_url)["data_centres"][DC]["users"][0]
    zendesk.add_admin(crm_admin["name"], crm_admin["email"], crm_admin["password"])
    zendesk_credentials, crm_credentials = zendesk.credentials(zendesk_url), crm.credentials(crm_url)
    extension = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ext.db'}",
        "MARKETPLACE_SECRET": MARKETPLACE_SECRET, "SANDBOX_ORIGIN": f"{crm_url} {zendesk_url}",
        "ZENDESK_BASE_URL": zendesk_url, "ZENDESK_CLIENT_ID": zendesk_credentials["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk_credentials["oauth_client_secret"], "ZENDESK_APP_ID": str(app.id),
        "CRM_SANDBOX_URL": crm_url, "CRM_CLIENT_ID": crm_credentials["client_id"],
        "CRM_CLIENT_SECRET": crm_credentials["client_secret"]})
    with extension.app_context():
        db.create_all()
    with served(extension, port=extension_port), \
            served(crm, host="localhost", port=crm_port), \
            served(zendesk, host="localhost", port=zendesk_port):
        yield {"extension": extension, "crm_url": crm_url, "crm": crm, "zendesk": zendesk, "zendesk_url": zendesk_url,
               "zendesk_admin": {"subdomain": zendesk_credentials["accounts"][0]["subdomain"],
                                 "admin_email": crm_admin["email"], "admin_password": crm_admin["password"]}}
    with extension.app_context():
        db.engine.dispose()



def _install_authorize_and_sync(context, world):
    page = sign_in(context, world["crm_url"], world["zendesk_admin"]["admin_email"],
                   world["zendesk_admin"]["admin_password"])
    install_from_marketplace(page, "all")
    page.get_by_role("link", name="Later", exact=True).click()
    _authorize_both(context, page, world)
    page.close()
    with world["extension"].app_context():
        installation = db.session.scalar(db.select(Installation))
        assert installation.zendesk_app_installation_id, "authorizing Zendesk installs the sidebar app"
        run = runs.start_first_sync(installation)
        runs.first_sync_job(installation.id, run.id)
        db.session.refresh(run)
        assert run.status == "done", run.message
        return db.session.scalars(db.select(Ticket)).all()


def _contact_ticket_with_open_deals(world, tickets):
    """A ticket of a Contact whose Account has open Deals (the Account with the most of them)."""
    deals = world["crm"].state.data_centres[DC].org().modules["Deals"].records.values()
    open_deals = Counter((deal.get("Account_Name") or {}).get("id") for deal in deals
                         if not str(deal.get("Stage", "")).startswith("Closed"))
    candidates = [t for t in tickets if t.crm_contact_id and open_deals.get(t.crm_account_id)]
    best = max(candidates, key=lambda t: (open_deals[t.crm_account_id], -t.zendesk_id))
    return best, open_deals[best.crm_account_id]


def _agent_page(context, world):
    page = context.new_page()
    page.goto(f"{world['zendesk_url']}/agent/sign_in")
    page.fill("input[name=email]", world["zendesk_admin"]["admin_email"])
    page.fill("input[name=password]", world["zendesk_admin"]["admin_password"])
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/agent/tickets**")
    return page


def test_an_agent_sees_the_crm_side_and_creates_a_lead(strict_chromium, world):
    admin_context = strict_chromium.new_context(viewport={"width": 1280, "height": 900})
    tickets = _install_authorize_and_sync(admin_context, world)
    admin_context.close()
    ticket, deal_count = _contact_ticket_with_open_deals(world, tickets)

    context = strict_chromium.new_context(viewport={"width": 1360, "height": 960})
    page = _agent_page(context, world)
    account = world["zendesk"].account()
    agent = account.find_user(email=world["zendesk_admin"]["admin_email"])
    for locale, shot in (("en-US", "en"), ("ja", "ja")):
        agent["locale"] = locale
        page.goto(f"{world['zendesk_url']}/agent/tickets/{ticket.zendesk_id}")
        sidebar = page.frame_locator("aside.apps-sidebar iframe")
        sidebar.locator("#crm-person").wait_for(timeout=WAIT)
        # Zendesk's URL names no ticket: the app's script learnt it from the ZAF client (the SDK, this page).
        [frame] = [frame for frame in page.frames if "/zendesk/sidebar" in frame.url]
        assert sorted(parse_qs(urlsplit(frame.url).query)) == ["app_guid", "origin"]
        assert sidebar.locator("#crm-person").get_attribute("data-module") == "Contacts"
        assert sidebar.locator("#crm-person").get_attribute("data-id") == ticket.crm_contact_id
        assert sidebar.locator("#crm-account").get_attribute("data-id") == ticket.crm_account_id
        assert sidebar.locator("#open-deals tbody tr").count() == deal_count
        heading = sidebar.locator("#crm-account h2").text_content()
        assert heading == ("Account" if shot == "en" else "取引先")
        shoot(page, f"agent-sidebar-contact-{shot}")

    # A requester the CRM does not know: Create Lead, once, and the panel shows it.
    agent["locale"] = "en-US"
    stranger = account.create_user({**STRANGER, "role": "end-user"}, notify=False)
    new, _ = account.create_ticket({"subject": "Question about pricing", "requester_id": stranger["id"]},
                                   {"body": "Hello, how much is the enterprise plan?", "public": True},
                                   stranger["id"], notify=False)
    page.goto(f"{world['zendesk_url']}/agent/tickets/{new['id']}")
    sidebar = page.frame_locator("aside.apps-sidebar iframe")
    sidebar.locator("#create-lead").wait_for(timeout=WAIT)
    assert sidebar.locator("#lead-email").input_value() == STRANGER["email"]
    shoot(page, "agent-sidebar-no-record-en")
    sidebar.locator("#lead-company").fill("Watanabe Design")
    sidebar.locator("#create-lead button").click()
    sidebar.locator("#lead-created").wait_for(timeout=WAIT)
    assert sidebar.locator("#crm-person").get_attribute("data-module") == "Leads"
    shoot(page, "agent-sidebar-lead-created-en")
    leads = [lead for lead in world["crm"].state.data_centres[DC].org().modules["Leads"].records.values()
             if lead.get("Email") == STRANGER["email"]]
    assert len(leads) == 1 and leads[0]["Company"] == "Watanabe Design"
    assert sidebar.locator("#crm-person").get_attribute("data-id") == str(leads[0]["id"])

    # The agent makes the Contact the requester: the app stays mounted, ZAF tells it, the panel follows.
    page.evaluate("window.sameDocument = true")
    page.fill("#requester-email", ticket.requester_email)
    page.click("#change-requester button")
    sidebar.locator(f"#crm-person[data-id='{ticket.crm_contact_id}']").wait_for(timeout=WAIT)
    assert page.evaluate("window.sameDocument") is True
    assert ticket.requester_email in sidebar.locator("#requester").text_content()
    shoot(page, "agent-sidebar-requester-changed-en")
    context.close()
