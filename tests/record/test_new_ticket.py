""""New Zendesk Ticket" from a Lead, Contact, Account or Deal page (F18, F19), over real HTTP: the extension
served on a loopback port (so the Zendesk sandbox's webhooks reach it), both sandboxes served, both grants
obtained through the real OAuth pages (tests/webhooks/served.py).

The CRM org holds an Account (synced: its Zendesk organization is linked), two of its Contacts, two Leads
(one without email) and a Deal of the Account with the second Contact. Zendesk already knows the first
Contact's email (an end-user of no organization); nobody else is in Zendesk yet."""
import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup

from tests.helpers import REP, zendesk_admin_session
from tests.sync.conftest import crm_sandbox, zendesk_sandbox  # noqa: F401 (fixtures)
from tests.webhooks.served import served_installation, wait_for
from widget.extensions import db
from widget.models import InboxEvent, Link, NewTicketRequest, Ticket, utcnow
from widget.record import creation, prefill
from widget.sandbox.zendesk import memberships
from widget.sandbox.crm.signing import mint_context
from widget.sync import engine, inbox
from widget.sync.tickets import COMMENTS, DEAL_PREFIX, TICKETS

SUBDOMAIN = "acme"


@dataclass
class World:
    served: object
    crm: object
    zendesk: object
    account_id: str  # the CRM Account, linked to `organization_id`
    organization_id: int
    contact_id: str  # Yui Sato, already an end-user in Zendesk (no organization)
    yui_user_id: int
    other_contact_id: str  # Ken Ito, not in Zendesk
    lead_id: str  # Mei Tanaka
    lead_without_email_id: str  # Jun Mori
    deal_id: str  # of the Account, with Ken as its contact

    @property
    def url(self):
        return self.served.url

    def installation(self):
        return self.served.installation()

    def context(self, entity, record_id, user=REP):
        secret = self.served.tenant.installed["context_secret"]
        return mint_context(secret, self.served.tenant.org_id, user, entity, record_id)

    def account(self):
        return self.zendesk.state.accounts[SUBDOMAIN]

    def tickets(self):
        return sorted(self.account().tickets.values(), key=lambda t: t["id"])

    def crm_org(self):
        return self.crm.state.data_centres["jp"].org()

    def crm_records(self, key):
        return list(self.crm_org().modules[self.installation().crm_modules[key]].records.values())

    def agents(self):
        return sorted((u for u in self.account().users.values() if u["role"] in ("agent", "admin")),
                      key=lambda u: u["name"].lower())


def crm_record(crm, module, **values):
    """A CRM record made as a person would in the CRM (no notification: the inbox holds only what the
    ticket's creation causes)."""
    org = crm.state.data_centres["jp"].org()
    user = next(iter(org.users.values()))
    [record] = org.insert_records(org.modules[module], [values], user, notify=False)
    return record["id"]


@pytest.fixture
def world(tmp_path, crm_sandbox, zendesk_sandbox):  # noqa: F811
    prefill._agents.clear()  # a minute's cache per installation key; each test has its own installation
    account_id = crm_record(crm_sandbox, "Accounts", Account_Name="Hanami Kogyo")
    contact_id = crm_record(crm_sandbox, "Contacts", First_Name="Yui", Last_Name="Sato", Email="yui@hanami.example",
                            Account_Name={"id": account_id})
    other_contact_id = crm_record(crm_sandbox, "Contacts", First_Name="Ken", Last_Name="Ito",
                                  Email="ken@hanami.example", Account_Name={"id": account_id})
    lead_id = crm_record(crm_sandbox, "Leads", First_Name="Mei", Last_Name="Tanaka", Email="mei@lead.example",
                         Company="Tanaka Shoji")
    lead_without_email_id = crm_record(crm_sandbox, "Leads", First_Name="Jun", Last_Name="Mori", Company="Mori KK")
    deal_id = crm_record(crm_sandbox, "Deals", Deal_Name="Hanami renewal", Stage="Qualification",
                         Account_Name={"id": account_id}, Contact_Name={"id": other_contact_id})
    yui = zendesk_sandbox.state.accounts[SUBDOMAIN].create_user({"name": "Yui Sato", "email": "yui@hanami.example"})
    # No first sync yet: deliveries about our own writes wait in the inbox until a test applies them.
    with served_installation(tmp_path, crm_sandbox, zendesk_sandbox, first_sync_done=False) as served:
        with served.app.app_context():
            served.installation().scope_type = "all"  # sales reps open the widget too (F4)
            db.session.commit()
            engine.run_streams(served.installation(), ["crm_accounts"])  # the Account's organization
            organization_id = db.session.scalar(db.select(Link.zendesk_id).filter_by(
                kind="organization", crm_module="Accounts", crm_id=account_id))
            crm_sandbox.calls.reset()
            zendesk_sandbox.calls.reset()
            yield World(served, crm_sandbox, zendesk_sandbox, account_id, organization_id, contact_id, yui["id"],
                        other_contact_id, lead_id, lead_without_email_id, deal_id)
    engine.INCREMENTAL_PACERS.clear()


# ---- helpers: the form as a browser sends it ----------------------------------------------------
def form_url(world, entity, record_id):
    return f"{world.url}/record/{entity}/{record_id}/tickets/new"


def open_form(world, entity, record_id, user=REP, htmx=False):
    headers = {"HX-Request": "true", "X-Widget-Context": world.context(entity, record_id, user)} if htmx else {}
    params = {} if htmx else {"ctx": world.context(entity, record_id, user)}
    page = requests.get(form_url(world, entity, record_id), params=params, headers=headers, timeout=10)
    assert page.status_code == 200, page.text
    return page


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


def fields_of(page):
    """Every value the form would send as it stands."""
    form = soup(page).find("form", id="new-ticket-form")
    values = {}
    for element in form.find_all(["input", "select", "textarea"]):
        name = element.get("name")
        if not name:
            continue
        if element.name == "select":
            chosen = element.find("option", selected=True) or element.find("option")
            values[name] = chosen.get("value", "") if chosen else ""
        elif element.name == "textarea":
            values[name] = element.get_text()
        else:
            values[name] = element.get("value", "")
    return values


def send(world, page, changes=None, htmx=False):
    """Submit the form of `page` with `changes`, as its page does (a plain post, or htmx's)."""
    form = soup(page).find("form", id="new-ticket-form")
    data = {**fields_of(page), **(changes or {})}
    if htmx:  # the context htmx sends: the page's (hx-headers), or the one the fragment was asked with
        body = soup(page).find("body")
        ctx = json.loads(body["hx-headers"])["X-Widget-Context"] if body else page.request.headers["X-Widget-Context"]
        return requests.post(urljoin(world.url, form["hx-post"]), data=data,
                             headers={"HX-Request": "true", "X-Widget-Context": ctx}, timeout=30)
    return requests.post(urljoin(world.url, form["action"]), data=data, timeout=30)


def filled(world, subject="Printer on fire", **changes):
    return {"subject": subject, "description": "The office printer caught fire this morning.", **changes}


def options(page, name):
    select = soup(page).find("select", attrs={"name": name})
    return [(o.get("value"), o.get_text(strip=True)) for o in select.find_all("option")]


def error_of(page, field_id):
    """The message next to a field, checked to be announced and tied to the control."""
    control = soup(page).find(id=field_id)
    assert control.get("aria-invalid") == "true", field_id
    message = soup(page).find(id=f"{field_id}-error")
    assert message is not None and f"{field_id}-error" in control["aria-describedby"].split()
    return message.get_text(strip=True)


def created_id(response):
    created = soup(response).find(id="ticket-created")
    assert created is not None, soup(response).get_text(" ", strip=True)[:600]
    return int(created["data-ticket-created"])


# ---- the form ------------------------------------------------------------------------------------
def test_a_contact_or_lead_page_prefills_the_requester_and_offers_every_agent(world):
    page = open_form(world, "Contacts", world.contact_id)
    values = fields_of(page)
    assert (values["requester_name"], values["requester_email"]) == ("Yui Sato", "yui@hanami.example")
    assert "requester_contact" not in values  # a Contact is its own requester
    assert values["status"] == "new" and values["key"] and values["placement"] == "popup"
    assert options(page, "assignee") == [("", "Unassigned")] + [(str(a["id"]), a["name"]) for a in world.agents()]
    assert [value for value, _ in options(page, "ticket_type")] == ["", "problem", "incident", "question", "task"]
    assert [value for value, _ in options(page, "priority")] == ["", "low", "normal", "high", "urgent"]
    assert [value for value, _ in options(page, "status")] == ["new", "open", "pending", "hold", "solved"]
    for element in soup(page).find("form").find_all(["input", "select", "textarea"]):
        if element.get("type") != "hidden":  # every control has its label
            assert soup(page).find("label", attrs={"for": element["id"]}), element

    lead = fields_of(open_form(world, "Leads", world.lead_id))
    assert (lead["requester_name"], lead["requester_email"]) == ("Mei Tanaka", "mei@lead.example")
    assert lead["key"] != values["key"]  # every form shown is a ticket of its own


def test_a_record_without_email_asks_for_it(world):
    page = open_form(world, "Leads", world.lead_without_email_id)
    values = fields_of(page)
    assert (values["requester_name"], values["requester_email"]) == ("Jun Mori", "")
    hint = soup(page).find(id="requester_email-hint")
    assert "no email address" in hint.get_text() and "requester_email-hint" in \
        soup(page).find(id="requester_email")["aria-describedby"]
    answer = send(world, page, filled(world))
    assert error_of(answer, "requester_email").startswith("Enter the requester's email address")
    assert world.tickets() == []


def test_an_account_offers_its_contacts_and_a_deal_its_contact_first(world):
    page = open_form(world, "Accounts", world.account_id)
    assert options(page, "requester_contact") == [
        ("", "Someone else (type below)"), (world.other_contact_id, "Ken Ito <ken@hanami.example>"),
        (world.contact_id, "Yui Sato <yui@hanami.example>")]
    values = fields_of(page)
    assert (values["requester_contact"], values["requester_name"], values["requester_email"]) == ("", "", "")

    deal = open_form(world, "Deals", world.deal_id)
    assert [value for value, _ in options(deal, "requester_contact")] == ["", world.other_contact_id, world.contact_id]
    values = fields_of(deal)
    assert (values["requester_contact"], values["requester_name"], values["requester_email"]) == (
        world.other_contact_id, "Ken Ito", "ken@hanami.example")
    ken = soup(deal).find("option", attrs={"value": world.other_contact_id})
    assert (ken["data-name"], ken["data-email"]) == ("Ken Ito", "ken@hanami.example")  # new_ticket.js fills them in


# ---- creating ------------------------------------------------------------------------------------
def crm_ticket_record(world, ticket_id):
    [record] = [r for r in world.crm_records("tickets") if r["Ticket_ID"] == str(ticket_id)]
    return record


def lookup(record, name):
    return (record.get(name) or {}).get("id")


def local_row(world, ticket_id):
    db.session.expire_all()
    return db.session.scalar(db.select(Ticket).filter_by(installation_id=world.served.installation_id,
                                                         zendesk_id=ticket_id))


def listed(world, entity, record_id):
    """The related list's rows (widget/record/views.py) as the record's page shows them now."""
    page = requests.get(f"{world.url}/record/{entity}/{record_id}/tickets",
                        params={"ctx": world.context(entity, record_id)}, timeout=10)
    return [[cell.get_text(strip=True) for cell in row.select("td")] for row in soup(page).select("tbody tr")]


def crm_writes(world):
    """Record writes the CRM sandbox served (inserts, updates, upserts) since its counter was reset."""
    return [(m, p) for m, p in world.crm.calls.api_calls() if m in ("POST", "PUT") and "/settings/" not in p
            and not p.endswith("/coql")]


def apply_the_webhooks(world):
    """What Zendesk's webhook deliveries about the new ticket (and its requester) lead to: the first sync
    is marked done and the inbox drained, as real time would."""
    wait_for(lambda: db.session.scalar(db.select(db.func.count()).select_from(InboxEvent).filter(
        InboxEvent.object_kind == "ticket")))
    engine.sync_settings(world.installation()).first_sync_done_at = utcnow()
    db.session.commit()
    inbox.drain(world.served.installation_id)
    db.session.expire_all()
    assert {e.status for e in db.session.scalars(db.select(InboxEvent))} == {"done"}


def next_sync(world):
    """The tickets and comments streams a minute on (Zendesk's exports leave out the last minute)."""
    requests.post(f"{world.zendesk.url}/_sandbox/clock", json={"advance": 61}, timeout=5).raise_for_status()
    world.zendesk.calls.reset()
    engine.run_streams(world.installation(), [TICKETS, COMMENTS])


def exported(world):
    """The ticket ids the last sync's export pages held (as the Zendesk sandbox served them)."""
    assert world.zendesk.calls.count("GET", "/incremental/tickets") >= 1
    session = zendesk_admin_session(world.zendesk)
    page = session.get(f"{session.base}/incremental/tickets/cursor.json", params={"start_time": 0}, timeout=10)
    return [t["id"] for t in page.json()["tickets"]]


def test_a_ticket_from_a_contact_matches_its_requester_and_is_listed_at_once(world):
    agent = world.agents()[1]
    page = open_form(world, "Contacts", world.contact_id)
    answer = send(world, page, filled(world, assignee=str(agent["id"]), ticket_type="incident", priority="urgent",
                                      status="open", tags="Printer, vip  floor-3"))
    ticket_id = created_id(answer)
    assert "Ticket #%d was created in Zendesk." % ticket_id in answer.text
    assert soup(answer).find(id="ticket-link")["href"].endswith(f"/agent/tickets/{ticket_id}")

    [ticket] = world.tickets()
    assert ticket["id"] == ticket_id
    assert ticket["requester_id"] == world.yui_user_id  # matched by email, not created again
    assert (ticket["assignee_id"], ticket["type"], ticket["priority"], ticket["status"]) == (
        agent["id"], "incident", "urgent", "open")
    assert ticket["tags"] == ["floor-3", "printer", "vip"]
    assert ticket["organization_id"] == world.organization_id  # the Contact's Account's organization
    assert world.account().users[world.yui_user_id]["organization_id"] == world.organization_id
    assert world.account().comments[ticket_id][0]["body"] == "The office printer caught fire this morning."
    assert world.account().comments[ticket_id][0]["public"] is True

    record = crm_ticket_record(world, ticket_id)
    assert (record["Name"], record["Status"], record["Priority"], record["Type"]) == (
        "Printer on fire", "Open", "Urgent", "Incident")
    assert (lookup(record, "Contact"), lookup(record, "Account"), lookup(record, "Lead"), lookup(record, "Deal")) == (
        world.contact_id, world.account_id, None, None)
    assert (record["Requester_Email"], record["Assignee"]) == ("yui@hanami.example", agent["name"])
    [comment] = world.crm_records("comments")
    assert comment["Zendesk_Ticket"]["id"] == record["id"]
    row = local_row(world, ticket_id)
    assert (row.crm_contact_id, row.crm_account_id, row.crm_record_id) == (world.contact_id, world.account_id,
                                                                           record["id"])
    assert listed(world, "Contacts", world.contact_id)[0][:3] == [str(ticket_id), "Printer on fire", "Open"]
    assert listed(world, "Accounts", world.account_id)[0][0] == str(ticket_id)

    # Zendesk's webhooks about it (ticket created, requester updated) then change nothing.
    world.crm.calls.reset()
    apply_the_webhooks(world)
    assert crm_writes(world) == []
    assert [r["Ticket_ID"] for r in world.crm_records("tickets")] == [str(ticket_id)]
    assert len(world.crm_records("comments")) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 1
    assert len(db.session.scalars(db.select(Link).filter_by(kind="ticket")).all()) == 1
    # And neither does the next sync of tickets and comments, which reads it again.
    next_sync(world)
    assert ticket_id in exported(world)
    assert crm_writes(world) == []
    assert len(world.crm_records("tickets")) == 1 and len(world.crm_records("comments")) == 1
    assert (local_row(world, ticket_id).crm_contact_id, local_row(world, ticket_id).crm_account_id) == (
        world.contact_id, world.account_id)


def test_a_ticket_from_a_deal_creates_the_chosen_contact_in_the_accounts_organization(world):
    page = open_form(world, "Deals", world.deal_id)  # Ken Ito, the Deal's contact, is chosen first
    ticket_id = created_id(send(world, page, filled(world, subject="Renewal quote")))
    [ticket] = world.tickets()
    assert ticket["external_id"] == f"{DEAL_PREFIX}{world.deal_id}"
    ken = world.account().users[ticket["requester_id"]]
    assert (ken["name"], ken["email"], ken["role"], ken["organization_id"]) == (
        "Ken Ito", "ken@hanami.example", "end-user", world.organization_id)
    assert ticket["organization_id"] == world.organization_id
    assert (ticket["status"], ticket["priority"], ticket["type"], ticket["assignee_id"], ticket["tags"]) == (
        "new", None, None, None, [])

    record = crm_ticket_record(world, ticket_id)
    assert (lookup(record, "Deal"), lookup(record, "Contact"), lookup(record, "Account")) == (
        world.deal_id, world.other_contact_id, world.account_id)
    row = local_row(world, ticket_id)
    assert (row.crm_deal_id, row.crm_contact_id, row.crm_account_id) == (world.deal_id, world.other_contact_id,
                                                                         world.account_id)
    assert listed(world, "Deals", world.deal_id)[0][:2] == [str(ticket_id), "Renewal quoteFrom this deal"]  # marked
    assert listed(world, "Contacts", world.other_contact_id)[0][:2] == [str(ticket_id), "Renewal quote"]

    world.crm.calls.reset()
    apply_the_webhooks(world)
    assert crm_writes(world) == [] and len(world.crm_records("tickets")) == 1
    assert lookup(crm_ticket_record(world, ticket_id), "Deal") == world.deal_id


def test_a_ticket_from_a_lead_and_one_from_an_account_for_someone_else(world):
    lead_ticket = created_id(send(world, open_form(world, "Leads", world.lead_id), filled(world, subject="Trial")))
    mei = world.account().users[world.account().tickets[lead_ticket]["requester_id"]]
    assert (mei["email"], mei["organization_id"]) == ("mei@lead.example", None)  # a Lead has no organization
    record = crm_ticket_record(world, lead_ticket)
    assert (lookup(record, "Lead"), lookup(record, "Contact"), lookup(record, "Account")) == (world.lead_id, None, None)
    assert listed(world, "Leads", world.lead_id)[0][0] == str(lead_ticket)

    page = open_form(world, "Accounts", world.account_id)
    account_ticket = created_id(send(world, page, filled(world, subject="Office move", requester_name="Aya Kimura",
                                                         requester_email="aya@hanami.example")))
    aya = world.account().users[world.account().tickets[account_ticket]["requester_id"]]
    assert (aya["name"], aya["organization_id"]) == ("Aya Kimura", world.organization_id)
    record = crm_ticket_record(world, account_ticket)
    assert (lookup(record, "Account"), lookup(record, "Contact")) == (world.account_id, None)
    assert [row[0] for row in listed(world, "Accounts", world.account_id)] == [str(account_ticket)]

    # A Lead without email: the one typed is the requester's, and the Lead is paired by its external id.
    page = open_form(world, "Leads", world.lead_without_email_id)
    jun_ticket = created_id(send(world, page, filled(world, subject="Brochure", requester_email="jun@mori.example")))
    jun = world.account().users[world.account().tickets[jun_ticket]["requester_id"]]
    assert (jun["email"], jun["external_id"]) == ("jun@mori.example", f"zcrm:Leads:{world.lead_without_email_id}")
    assert lookup(crm_ticket_record(world, jun_ticket), "Lead") == world.lead_without_email_id


# ---- mistakes: told next to their field, nothing created ------------------------------------------
def nothing_created(world):
    assert world.tickets() == []
    assert world.zendesk.calls.count("POST", "/api/v2/tickets") == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(NewTicketRequest)) == 0
    assert world.crm_records("tickets") == []


@pytest.mark.parametrize("changes, field_id, message", [
    ({"subject": ""}, "subject", "Enter a subject."),
    ({"subject": "x" * 151}, "subject", "Zendesk takes a subject of at most 150 characters; this one has 151."),
    ({"description": "   "}, "description", "Describe the request: Zendesk needs a description for every ticket."),
    ({"description": "問" * 21846}, "description", "The description is too long: Zendesk takes at most 64 KB"),
    ({"requester_name": ""}, "requester_name", "Enter the requester's name."),
    ({"requester_email": "yui.hanami.example"}, "requester_email", "Enter an email address such as name@example.com."),
    ({"requester_email": "yui@hanami"}, "requester_email", "Enter an email address such as name@example.com."),
    ({"requester_email": "yui @hanami.example"}, "requester_email", "Enter an email address such as name@example.com."),
    ({"assignee": "999"}, "assignee", "This person is not a Zendesk agent (any more). Choose another assignee."),
    ({"tags": "vip billing!"}, "tags", "“billing!” is not a tag Zendesk takes: use letters, digits and _ - / : only"),
    ({"tags": "a" * 256}, "tags", "A tag has at most 255 characters."),
    ({"status": "closed"}, "status", "Choose a status from the list."),
    ({"ticket_type": "bug"}, "ticket_type", "Choose a type from the list."),
    ({"priority": "asap"}, "priority", "Choose a priority from the list."),
])
def test_each_mistake_is_told_next_to_its_field_and_nothing_is_created(world, changes, field_id, message):
    page = open_form(world, "Contacts", world.contact_id)
    answer = send(world, page, filled(world, **changes))
    assert answer.status_code == 200
    assert error_of(answer, field_id).startswith(message)
    assert fields_of(answer)["description"] == filled(world, **changes)["description"].strip()  # the form is kept
    nothing_created(world)


def test_an_end_user_is_no_assignee_and_a_contact_must_be_the_records(world):
    end_user = next(u for u in world.account().users.values() if u["role"] == "end-user")
    page = open_form(world, "Accounts", world.account_id)
    answer = send(world, page, filled(world, assignee=str(end_user["id"]), requester_contact="123"))
    assert error_of(answer, "assignee").startswith("This person is not a Zendesk agent")
    assert error_of(answer, "requester_contact") == "Choose one of this record's contacts, or someone else."
    # Without JavaScript, choosing a contact and typing nothing takes the contact's name and email.
    answer = send(world, page, filled(world, requester_contact=world.contact_id))
    ticket_id = created_id(answer)
    assert world.account().tickets[ticket_id]["requester_id"] == world.yui_user_id


def test_a_form_without_its_token_or_key_is_refused(world):
    page = open_form(world, "Contacts", world.contact_id)
    answer = send(world, page, filled(world, csrf_token="forged"))
    assert "This form has expired. Reload the page and try again." in answer.text
    answer = send(world, page, filled(world, key=""))
    assert "This form is incomplete. Reload it and try again." in answer.text
    nothing_created(world)


# ---- once per form -------------------------------------------------------------------------------
def test_a_repeated_submit_answers_the_first_ticket(world):
    page = open_form(world, "Contacts", world.contact_id)
    first = created_id(send(world, page, filled(world)))
    calls = len(world.zendesk.calls.api_calls()), len(world.crm.calls.api_calls())
    again = send(world, page, filled(world))
    assert created_id(again) == first
    assert "This form already created ticket #%d in Zendesk: it was not created again." % first in again.text
    assert (len(world.zendesk.calls.api_calls()), len(world.crm.calls.api_calls())) == calls  # no outside call
    assert len(world.tickets()) == 1 and len(world.crm_records("tickets")) == 1
    # Another form of the same record is another ticket.
    second = created_id(send(world, open_form(world, "Contacts", world.contact_id), filled(world)))
    assert second != first and len(world.tickets()) == 2


def test_two_submits_at_once_make_one_ticket(world):
    page = open_form(world, "Contacts", world.contact_id)
    world.crm.calls.reset()
    started = threading.Barrier(2)
    world.zendesk.calls.before("POST", "/api/v2/tickets", lambda path: time.sleep(0.5))  # a slow Zendesk
    answers = [None, None]

    def submit(n):
        started.wait()
        answers[n] = send(world, page, filled(world), htmx=n == 1)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert created_id(answers[0]) == created_id(answers[1])
    assert world.crm.calls.count("GET", f"/Contacts/{world.contact_id}") == 2  # both got past the first look
    assert len(world.tickets()) == 1
    assert world.zendesk.calls.count("POST", "/api/v2/tickets") == 1
    assert len(world.crm_records("tickets")) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(NewTicketRequest)) == 1


def test_a_claim_in_progress_is_waited_for_and_one_its_request_left_is_taken_over(world, monkeypatch):
    page = open_form(world, "Contacts", world.contact_id)
    claim = NewTicketRequest(installation_id=world.served.installation_id, key=fields_of(page)["key"],
                             entity="Contacts", record_id=world.contact_id)  # an earlier click, still at work
    db.session.add(claim)
    db.session.commit()
    monkeypatch.setattr(creation, "WAIT_SECONDS", 0.5)
    answer = send(world, page, filled(world))
    assert "This ticket is still being created from an earlier click." in answer.text
    assert world.tickets() == []
    claim.claimed_at = utcnow() - timedelta(seconds=creation.CLAIM_SECONDS + 1)  # its process died
    db.session.commit()
    ticket_id = created_id(send(world, page, filled(world)))
    assert [t["id"] for t in world.tickets()] == [ticket_id]
    db.session.refresh(claim)
    assert claim.zendesk_ticket_id == ticket_id


def test_a_lost_answer_is_retried_without_a_second_ticket(world):
    world.zendesk.calls.lose_answer("POST", "/api/v2/tickets")  # created in Zendesk, the answer lost on the way
    answer = send(world, open_form(world, "Contacts", world.contact_id), filled(world))
    ticket_id = created_id(answer)
    assert world.zendesk.calls.count("POST", "/api/v2/tickets") == 2  # the same Idempotency-Key twice
    assert [t["id"] for t in world.tickets()] == [ticket_id]
    assert crm_ticket_record(world, ticket_id)["Name"] == "Printer on fire"


def test_a_zendesk_refusal_is_told_in_plain_words_and_the_form_is_kept(world):
    agent = world.agents()[2]
    page = open_form(world, "Contacts", world.contact_id)  # the agents are read (and kept a minute)
    world.account().update_user(world.account().users[agent["id"]], {"role": "end-user"})  # demoted meanwhile
    answer = send(world, page, filled(world, assignee=str(agent["id"]), tags="vip"))
    assert error_of(answer, "assignee") == "Zendesk did not accept this: Assignee: is not an agent"
    kept = fields_of(answer)
    assert (kept["subject"], kept["tags"], kept["assignee"], kept["key"]) == (
        "Printer on fire", "vip", str(agent["id"]), fields_of(page)["key"])
    assert world.tickets() == [] and world.crm_records("tickets") == []
    # Corrected, the same form creates its ticket.
    ticket_id = created_id(send(world, answer, {"assignee": ""}))
    assert [t["id"] for t in world.tickets()] == [ticket_id]


def test_only_the_record_the_crm_signed_for(world):
    ctx = world.context("Contacts", world.contact_id)
    page = open_form(world, "Contacts", world.contact_id)
    for entity, record_id in (("Contacts", world.other_contact_id), ("Leads", world.contact_id),
                              ("Deals", world.deal_id)):
        refused = requests.post(f"{world.url}/record/{entity}/{record_id}/tickets",
                                data={**fields_of(page), **filled(world), "ctx": ctx}, timeout=10)
        assert refused.status_code == 403, (entity, record_id)
        opened = requests.get(form_url(world, entity, record_id), params={"ctx": ctx}, timeout=10)
        assert opened.status_code == 403 and "Yui Sato" not in opened.text
    nothing_created(world)


# ---- in place, in Japanese, and when something is missing ------------------------------------------
def test_opened_in_place_the_answer_triggers_the_lists_reload(world):
    page = open_form(world, "Contacts", world.contact_id, htmx=True)
    assert "<html" not in page.text and fields_of(page)["placement"] == "inline"
    assert soup(page).find("button", attrs={"data-new-ticket-cancel": True}) is not None
    answer = send(world, page, filled(world), htmx=True)
    ticket_id = created_id(answer)
    assert json.loads(answer.headers["HX-Trigger"]) == {
        "ticketCreated": {"ticketId": ticket_id, "entity": "Contacts", "recordId": world.contact_id}}
    assert "<html" not in answer.text
    assert soup(answer).find(id="ticket-link")["href"].endswith(f"/agent/tickets/{ticket_id}")
    # A mistake in place is a fragment too, answered 200 (htmx swaps only successful answers).
    mistake = send(world, open_form(world, "Contacts", world.contact_id, htmx=True), {"subject": ""}, htmx=True)
    assert mistake.status_code == 200 and "HX-Trigger" not in mistake.headers
    assert error_of(mistake, "subject") == "Enter a subject."


def test_the_popup_page_is_marked_for_the_crm_page(world):
    page = open_form(world, "Contacts", world.contact_id)
    assert soup(page).body.has_attr("data-new-ticket-popup")  # static/js/new_ticket.js posts to the CRM page
    assert soup(page).find("script", src="/static/js/new_ticket.js") is not None
    assert soup(page).find("button", attrs={"data-new-ticket-cancel": True}) is None  # the CRM's popup closes it
    answer = send(world, page, filled(world))
    created = soup(answer).find(id="ticket-created")
    assert (created["data-entity"], created["data-record-id"]) == ("Contacts", world.contact_id)
    assert soup(answer).body.has_attr("data-new-ticket-popup")


def test_in_japanese_labels_and_values_are_zendesks_own(world):
    japanese = dict(REP, locale="ja_JP")
    page = open_form(world, "Contacts", world.contact_id, user=japanese)
    labels = {label["for"]: label.get_text(" ", strip=True) for label in soup(page).find_all("label")}
    assert (labels["requester_name"], labels["requester_email"], labels["assignee"], labels["ticket_type"],
            labels["priority"], labels["status"], labels["subject"], labels["description"]) == (
        "依頼者名", "依頼者のメールアドレス", "担当者", "タイプ", "優先度", "ステータス", "件名", "説明")
    assert labels["tags"].startswith("タグ")
    assert [label for _, label in options(page, "ticket_type")] == ["-", "問題", "インシデント", "質問", "タスク"]
    assert [label for _, label in options(page, "priority")] == ["-", "低", "普通", "高", "緊急"]
    assert [label for _, label in options(page, "status")] == ["新規", "オープン", "保留中", "待機中", "解決済み"]
    assert options(page, "assignee")[0] == ("", "未割り当て")
    assert soup(page).find(id="new-ticket-save").get_text(strip=True) == "保存"
    assert soup(page).find("html")["lang"] == "ja"
    answer = send(world, page, {"subject": "", "tags": "請求 vip!"})
    assert error_of(answer, "subject") == "件名を入力してください。"
    assert error_of(answer, "tags").startswith("「vip!」は Zendesk のタグに使えません。")
    answer = send(world, page, filled(world, subject="プリンターが故障しました"))
    assert f"チケット #{created_id(answer)} を Zendesk に作成しました。" in answer.text


def test_without_zendesk_authorized_the_form_says_so(world):
    from widget.connections import connection

    connection(world.installation(), "zendesk").status = "revoked"
    db.session.commit()
    page = open_form(world, "Contacts", world.contact_id)
    assert soup(page).find(id="new-ticket-problem").get_text(strip=True).startswith("Zendesk is not authorized yet.")
    assert soup(page).find("form") is None
    refused = requests.post(f"{world.url}/record/Contacts/{world.contact_id}/tickets",
                            data={**filled(world), "ctx": world.context("Contacts", world.contact_id)}, timeout=10)
    assert "Zendesk is not authorized yet." in refused.text
    nothing_created(world)


def crm_faults(world, **faults):
    requests.post(f"{world.crm.url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()


def test_when_the_crm_does_not_answer_the_form_says_so_and_creates_nothing(world):
    page = open_form(world, "Deals", world.deal_id)
    crm_faults(world, error_rate=1.0)
    try:
        unread = open_form(world, "Deals", world.deal_id)
        assert "Zoho CRM did not answer" in soup(unread).find(class_="notice").get_text()
        assert "requester_contact" not in fields_of(unread)  # no contacts to offer; the form still works
        answer = send(world, page, filled(world))
        assert "Zoho CRM did not answer, so nothing was created. Save again in a moment." in answer.text
        assert fields_of(answer)["subject"] == "Printer on fire"
    finally:
        crm_faults(world, error_rate=0.0)
    nothing_created(world)
    assert created_id(send(world, page, filled(world)))  # the same form, once the CRM answers


def test_a_ticket_the_crm_does_not_take_is_still_created_and_retried_by_the_sync(world):
    world.crm.calls.before("POST", "/upsert", lambda path: crm_faults(world, error_rate=1.0))
    try:
        answer = send(world, open_form(world, "Contacts", world.contact_id), filled(world))
    finally:
        crm_faults(world, error_rate=0.0)
    ticket_id = created_id(answer)
    assert "Zendesk has the ticket, but writing it to Zoho CRM failed" in answer.text
    assert [t["id"] for t in world.tickets()] == [ticket_id] and world.crm_records("tickets") == []
    [error] = db.session.scalars(db.select(engine.SyncError).filter_by(stream=TICKETS)).all()
    assert error.object_id == str(ticket_id) and "next sync writes it" in error.message
    world.crm.calls.actions.clear()
    next_sync(world)
    assert lookup(crm_ticket_record(world, ticket_id), "Contact") == world.contact_id
    assert db.session.scalars(db.select(engine.SyncError)).all() == []


def test_a_requester_in_several_organizations_gets_the_ticket_in_the_records_accounts_organization(world):
    """Yui's default organization in Zendesk is another company's; she is also a member of the Account's
    organization: the ticket opened from her Contact page goes there, and so onto the Account."""
    account = world.account()
    other = account.create_organization({"name": "Other Holdings"})
    account.update_user(account.users[world.yui_user_id], {"organization_id": other["id"]})
    memberships.add(account, world.yui_user_id, world.organization_id)
    assert account.users[world.yui_user_id]["organization_id"] == other["id"]  # her default stays the other one

    ticket_id = created_id(send(world, open_form(world, "Contacts", world.contact_id), filled(world)))

    assert account.tickets[ticket_id]["organization_id"] == world.organization_id
    assert account.users[world.yui_user_id]["organization_id"] == other["id"]  # her organizations unchanged
    assert world.zendesk.calls.count("GET", f"/users/{world.yui_user_id}/organization_memberships") == 1
    assert lookup(crm_ticket_record(world, ticket_id), "Account") == world.account_id
    assert listed(world, "Accounts", world.account_id)[0][0] == str(ticket_id)
