"""The wizard's last step, "Summary and Sync Now" (F13, F14), against both served sandboxes: the dry run's
numbers are what the first sync then writes, the dry run writes nothing anywhere, Sync Now starts the
run and shows its progress, a second bulk sync is refused with the support contact until support resets
it, and a service that does not answer gives a plain line."""
import time

from bs4 import BeautifulSoup

from tests.helpers import ADMIN, REP
from widget.extensions import db
from widget.models import SyncRun
from widget.sandbox.zendesk import memberships
from widget.sandbox.crm.signing import mint_context
from widget.settings.wizard import PICKER_POLICY

from .conftest import ORG_ID

STEP = "/settings/wizard/summary"


def _headers(s, user=ADMIN):
    installation = s.installation()
    return {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user),
            "HX-Request": "true"}


def _soup(response):
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _plan(page):
    """{"zendesk-organizations": (create, update), ...} as the summary shows them."""
    return {row["data-line"]: (int(row["data-create"]), int(row["data-update"]))
            for row in page.select("#summary-plan tbody tr")}


def _writes(s):
    """Writes (POST, PUT, PATCH, DELETE) to either service's API so far."""
    return [(m, p) for sandbox in (s.crm_calls, s.zendesk_calls) for m, p in sandbox.api_calls() if m != "GET"]


def _seed(s, tickets=4, replies=1):
    """CRM people and accounts, and Zendesk tickets with the same number of comments each."""
    s.crm_insert("Accounts", [{"Account_Name": f"Summary Co {n}"} for n in range(3)])
    s.crm_insert("Contacts", [{"Last_Name": f"Person {n}", "Email": f"person{n}@summary.test"} for n in range(5)])
    s.crm_insert("Leads", [{"Last_Name": f"Lead {n}", "Company": "Leads Inc", "Email": f"lead{n}@summary.test"}
                           for n in range(2)])
    zendesk = s.account()
    requester = next(u for u in zendesk.users.values() if u["role"] == "end-user")
    for n in range(tickets):
        ticket, _ = zendesk.create_ticket({"subject": f"Summary {n}", "requester_id": requester["id"]},
                                          {"body": "Hello"}, requester["id"])
        for k in range(replies):
            zendesk.update_ticket(ticket, {}, {"body": f"Reply {k}"}, requester["id"])
    # the export leaves out the last minute (docs/outside-apis.md#zendesk-incremental-exports)
    s.zendesk.state.clock.advance(61)


def _settle(client, headers, timeout=90):
    deadline = time.time() + timeout
    while True:
        db.session.rollback()  # the test client shares this session: start each poll afresh, as requests do
        page = _soup(client.get("/settings/sync/progress", headers=headers))
        if page.select_one("#sync-settings").get("hx-trigger") is None or time.time() > deadline:
            return page
        time.sleep(0.3)


def test_the_dry_run_counts_what_the_first_sync_then_writes_and_writes_nothing(synced_installation):
    s = synced_installation
    _seed(s)
    s.crm_calls.reset()
    s.zendesk_calls.reset()
    client, headers = s.app.test_client(), _headers(s)

    page = _soup(client.get(STEP, headers=headers))
    plan = _plan(page)
    assert _writes(s) == []  # the dry run only read
    assert s.zendesk_calls.count("GET", "/tickets/count") == 1
    assert s.crm_calls.count("GET", "/actions/count") == 3  # Accounts, Contacts, Leads
    assert set(plan) == {"zendesk-organizations", "zendesk-people", "crm-tickets", "crm-comments"}
    assert all(update == 0 for _, update in plan.values())  # nothing is linked yet: all of it is new
    assert plan["crm-tickets"] == (4, 0) and plan["crm-comments"] == (8, 0)
    assert "about" not in page.select_one("#summary-plan tr[data-line=crm-tickets]").get_text()

    token = page.select_one("#wizard form input[name=csrf_token]")["value"]
    started = _soup(client.post(STEP, data={"csrf_token": token}, headers=headers))
    assert started.select_one("#sync-settings") is not None  # the progress part, in place of the step
    assert started.select_one("#sync-progress") is not None
    done = _settle(client, headers)
    assert "Sync finished." in done.get_text(), done.get_text()

    run = db.session.scalar(db.select(SyncRun).filter_by(installation_id=s.installation_id, kind="first"))
    written = {name: count["written"] for name, count in run.counts.items()}
    assert sum(plan["zendesk-organizations"]) == written["crm_accounts"]
    assert sum(plan["zendesk-people"]) == written["crm_contacts"] + written["crm_leads"]
    assert sum(plan["crm-tickets"]) == written["zendesk_tickets"] == len(s.crm_org().module("Zendesk_Tickets").records)
    assert sum(plan["crm-comments"]) == written["zendesk_comments"]


def _sync_now(client, headers):
    page = _soup(client.get(STEP, headers=headers))
    token = page.select_one("#wizard form input[name=csrf_token]")["value"]
    _soup(client.post(STEP, data={"csrf_token": token}, headers=headers))
    return _settle(client, headers), token


def test_a_second_bulk_sync_is_refused_with_the_support_contact_until_support_resets_it(synced_installation):
    s = synced_installation
    s.app.config["SUPPORT_CONTACT"] = "help@zendesk-crm.example"
    _seed(s, tickets=2)
    client, headers = s.app.test_client(), _headers(s)
    done, token = _sync_now(client, headers)
    assert "Sync finished." in done.get_text(), done.get_text()
    db.session.rollback()
    assert s.settings().bulk_done_at is not None

    s.crm_calls.reset()
    s.zendesk_calls.reset()
    refused = _soup(client.get(STEP, headers=headers))
    assert refused.select_one("#summary-refused-reason").get_text().startswith("A bulk sync can run only once")
    contact = refused.select_one("#support-contact a")
    assert contact.get_text() == "help@zendesk-crm.example" and contact["href"] == "mailto:help@zendesk-crm.example"
    assert refused.select_one("#summary-sync-now") is None and refused.select_one("#summary-plan") is None
    assert s.zendesk_calls.api_calls() == [] and s.crm_calls.api_calls() == []  # nothing counted for a refusal
    pressed = _soup(client.post(STEP, data={"csrf_token": token}, headers=headers))  # a page left open
    assert pressed.select_one("#support-contact") is not None
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun).filter_by(kind="first")) == 1

    installation = s.installation()
    japanese = dict(headers, **{"X-Widget-Context": mint_context(installation.context_secret, installation.org_id,
                                                                 dict(ADMIN, locale="ja_JP"))})
    with s.app.app_context():  # Flask-Babel keeps the locale it chose in the context it ran in
        page = _soup(client.get(STEP, headers=japanese))
    assert page.select_one("#summary-refused-reason").get_text().startswith("一括同期を実行できるのは一度のみ")
    assert page.select_one("#support-contact").get_text().startswith("サポート窓口:")
    assert "一括同期" in page.select_one("#summary-settings").get_text()  # the mode itself, not only its label

    settings = s.settings()
    settings.mode, settings.selected_organizations = "selective", [next(iter(s.account().organizations))]
    db.session.commit()
    selective = _soup(client.get(STEP, headers=headers))  # other organizations may still be synced
    assert selective.select_one("#summary-refused") is None and selective.select_one("#summary-sync-now")
    settings.mode = "bulk"
    db.session.commit()

    result = s.app.test_cli_runner().invoke(args=["support", "reset-bulk", ORG_ID])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    allowed = _soup(client.get(STEP, headers=headers))
    assert allowed.select_one("#summary-refused") is None and allowed.select_one("#summary-sync-now")
    plan = _plan(allowed)  # what the first sync linked would now be updated, not created
    assert plan["crm-tickets"] == (0, 2) and plan["crm-comments"] == (0, 4)
    assert plan["zendesk-organizations"][1] == len(s.links("organization")) > 0


def test_a_selective_summary_counts_the_chosen_organizations_tickets(synced_installation):
    s = synced_installation
    zendesk = s.account()
    chosen, other = (zendesk.create_organization({"name": name}, notify=False)["id"] for name in ("Chosen", "Other"))
    requester = next(u for u in zendesk.users.values() if u["role"] == "end-user")
    for organization, count in ((chosen, 3), (other, 2)):
        memberships.add(zendesk, requester["id"], organization)  # a ticket's organization is its requester's
        for n in range(count):
            zendesk.create_ticket({"subject": f"Ticket {n}", "requester_id": requester["id"],
                                   "organization_id": organization}, {"body": "Hello"}, requester["id"])
    s.zendesk.state.clock.advance(61)
    settings = s.settings()
    settings.mode, settings.selected_organizations, settings.modules = "selective", [chosen], ["Contacts"]
    db.session.commit()
    client, headers = s.app.test_client(), _headers(s)

    page = _soup(client.get(STEP, headers=headers))
    plan = _plan(page)
    assert set(plan) == {"zendesk-people", "crm-tickets", "crm-comments"}  # Accounts are not chosen
    assert plan["crm-tickets"] == (3, 0) and plan["crm-comments"] == (3, 0)
    assert page.select_one("tr[data-line=crm-tickets]").get_text().count("about 3") == 1  # search counts lag
    assert "estimates" in page.select_one("#summary-notes").get_text()
    assert page.select_one("#wizard-back")["href"].startswith("/settings/wizard/organizations")

    token = page.select_one("#wizard form input[name=csrf_token]")["value"]
    action = page.select_one("#wizard form")["action"]  # without JavaScript: a plain post, a whole page back
    started = _soup(client.post(action, data={"csrf_token": token}))
    assert started.select_one("html") is not None and started.select_one("#sync-settings #sync-progress") is not None
    done = _settle(client, headers)
    assert "Sync finished." in done.get_text(), done.get_text()
    run = db.session.scalar(db.select(SyncRun).filter_by(installation_id=s.installation_id, kind="first"))
    assert run.counts["zendesk_tickets"]["written"] == 3 and run.counts["zendesk_comments"]["written"] == 3


def test_a_service_that_does_not_answer_gives_a_plain_line_quickly(synced_installation):
    s = synced_installation
    s.zendesk.state.faults["error_rate"] = 1.0  # every API call answers 5xx
    try:
        page = _soup(s.app.test_client().get(STEP, headers=_headers(s)))
    finally:
        s.zendesk.state.faults["error_rate"] = 0.0
    # The first call's short tries, then the plain line: not the sync's patient retries, nor call after call.
    assert len(s.zendesk_calls.api_calls()) == PICKER_POLICY.attempts, s.zendesk_calls.api_calls()
    assert page.select_one("#summary-problem").get_text().startswith("Zendesk or Zoho CRM did not answer")
    assert page.select_one("#summary-plan") is None and page.select_one("#summary-sync-now") is not None


def test_only_admins_see_the_summary_or_start_the_sync(synced_installation):
    s = synced_installation
    s.installation().scope_type = "all"  # reps use the extension too: only the admin check stands in their way
    db.session.commit()
    client = s.app.test_client()
    rep = _headers(s, REP)
    assert client.get(STEP, headers=rep).status_code == 403
    assert client.post(STEP, data={}, headers=rep).status_code == 403
    refused = _soup(client.post(STEP, data={}, headers=_headers(s)))  # an admin without the form token
    assert "This form has expired" in refused.get_text()
    assert db.session.scalar(db.select(db.func.count()).select_from(SyncRun)) == 0


def test_saving_the_last_settings_step_leads_to_the_summary(synced_installation):
    s = synced_installation
    client, headers = s.app.test_client(), _headers(s)
    step = _soup(client.get("/settings/wizard/sync", headers=headers))
    token = step.select_one("input[name=csrf_token]")["value"]
    bulk = _soup(client.post("/settings/wizard/sync", headers=headers, data={
        "csrf_token": token, "mode": "bulk", "auto_sync": "yes", "modules": ["Accounts"]}))
    assert bulk.select_one("#wizard-next")["hx-get"] == STEP
    organization = next(iter(s.account().organizations))
    selective = _soup(client.post("/settings/wizard/organizations", headers=headers, data={
        "csrf_token": token, "selected": organization, "action": "save"}))
    assert selective.select_one("#wizard-next")["hx-get"] == STEP
    summary = _soup(client.get(selective.select_one("#wizard-next")["href"]))  # no JavaScript: ?ctx= in the link
    assert summary.select_one("#wizard-steps").get_text() == "Last step: Summary and Sync Now"
