"""Record-widget fixtures: a company synced for real between both sandboxes served over HTTP.

`company` (on `synced_installation`, tests/sync/conftest.py): in the CRM, the Accounts "Hoshizora
Holdings" (A) and "Tsukimi Freight" (B), the Contacts Yui Sato and Ren Ito (A) and Aoi Mori (B), the Lead
Sota Kato, the Deal "Renewal" (Account A) and the Deal "New business" (no Account); pushed to Zendesk by
the people streams. Then, in Zendesk, tickets (`company.tickets[name]` is the Zendesk id):

    yui_open, yui_pending, yui_solved   requested by Yui (A); yui_open has a reply and an internal note
    ren_new, ren_closed                 requested by Ren (A)
    mori_open                           requested by Aoi (B)
    kato_open, kato_solved              requested by the Lead (no organization)
    deal_mori                           created from the Deal, requested by Aoi (B)
    deal_yui                            created from the Deal, requested by Yui (A)
    guest_hold                          requested by a Zendesk user of A the CRM does not know

each updated a minute after the one before (in this order), and synced by the ticket and comment streams.
"""
from dataclasses import dataclass, field

import pytest
from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from tests.sync.conftest import ORG_ID, crm_sandbox, synced_installation, zendesk_sandbox  # noqa: F401 (fixtures)
from widget.sandbox.crm.signing import mint_context

TICKETS = {"yui_open": ("yui", "open"), "yui_pending": ("yui", "pending"), "yui_solved": ("yui", "solved"),
           "ren_new": ("ren", "new"), "ren_closed": ("ren", "closed"), "mori_open": ("mori", "open"),
           "kato_open": ("kato", "open"), "kato_solved": ("kato", "solved"), "deal_mori": ("mori", "open"),
           "deal_yui": ("yui", "pending"), "guest_hold": ("guest", "hold")}
REQUESTERS = {"yui": "yui@hoshizora.example", "ren": "ren@hoshizora.example", "mori": "aoi@tsukimi.example",
              "kato": "kato@lead.example", "guest": "guest@hoshizora.example"}
AGENT_EMAIL = "agent1@acme.example"  # a seeded Zendesk agent (widget/sandbox/zendesk/seed.py)


@dataclass
class Company:
    s: object  # the SyncedInstallation
    records: dict  # {"account_a", "account_b", "yui", "ren", "mori", "kato", "deal", "lonely_deal": CRM id}
    tickets: dict = field(default_factory=dict)  # {name: Zendesk ticket id}
    users: dict = field(default_factory=dict)  # {"yui", ..., "agent", "admin": Zendesk user}
    organizations: dict = field(default_factory=dict)  # {"a", "b": Zendesk organization}

    def context(self, entity, record, user=None, **claims):
        """A widget context signed for the record (`record`: a key of `records`, or a CRM id)."""
        user = dict(user or ADMIN, **claims)
        installation = self.s.installation()
        return mint_context(installation.context_secret, ORG_ID, user, entity, self.records.get(record, record))

    def request(self, method, url, ctx, htmx=True, **kwargs):
        """One request in an app context of its own (the locale and `g` are per app context)."""
        headers = {"X-Widget-Context": ctx, **({"HX-Request": "true"} if htmx else {})}
        with self.s.app.app_context():
            return getattr(self.s.app.test_client(), method)(url, headers=headers, **kwargs)

    def names(self, ids):
        by_id = {zid: name for name, zid in self.tickets.items()}
        return [by_id.get(i, i) for i in ids]


def listed(response):
    """[(ticket id, subject, status, priority, type, assignee, requester, updated, marker)] of a list."""
    page = BeautifulSoup(response.data, "html.parser")
    rows = []
    for row in page.select("table.tickets tbody tr"):
        cells = [cell.get_text(" ", strip=True) for cell in row.select("td")]
        marker = row.select_one(".marker")
        subject = row.select_one("td.subject a").get_text(strip=True)
        rows.append((int(cells[0]), subject, *cells[2:8], marker.get_text(strip=True) if marker else None))
    return rows


@pytest.fixture
def company(synced_installation):  # noqa: F811
    s = synced_installation
    account_a, account_b = s.crm_insert("Accounts", [{"Account_Name": "Hoshizora Holdings"},
                                                     {"Account_Name": "Tsukimi Freight"}])
    yui, ren, mori = s.crm_insert("Contacts", [
        {"First_Name": "Yui", "Last_Name": "Sato", "Email": REQUESTERS["yui"], "Account_Name": {"id": account_a}},
        {"First_Name": "Ren", "Last_Name": "Ito", "Email": REQUESTERS["ren"], "Account_Name": {"id": account_a}},
        {"First_Name": "Aoi", "Last_Name": "Mori", "Email": REQUESTERS["mori"], "Account_Name": {"id": account_b}}])
    [kato] = s.crm_insert("Leads", [{"First_Name": "Sota", "Last_Name": "Kato", "Company": "Kato KK",
                                     "Email": REQUESTERS["kato"]}])
    deal, lonely_deal = s.crm_insert("Deals", [
        {"Deal_Name": "Renewal", "Stage": "Qualification", "Account_Name": {"id": account_a}},
        {"Deal_Name": "New business", "Stage": "Qualification"}])
    s.run("crm_accounts", "crm_contacts", "crm_leads")
    company = Company(s, {"account_a": account_a, "account_b": account_b, "yui": yui, "ren": ren, "mori": mori,
                          "kato": kato, "deal": deal, "lonely_deal": lonely_deal})

    account = s.account()
    for name in ("yui", "ren", "mori", "kato"):
        company.users[name] = account.find_user(email=REQUESTERS[name])
    org_a, org_b = company.users["yui"]["organization_id"], company.users["mori"]["organization_id"]
    assert org_a and org_b and org_a != org_b, "the people streams put the Contacts in their Accounts' organizations"
    company.organizations = {"a": account.organizations[org_a], "b": account.organizations[org_b]}
    company.users["guest"] = account.create_user({"name": "Guest Visitor", "email": REQUESTERS["guest"],
                                                  "organization_id": org_a}, notify=False)
    company.users["agent"] = account.find_user(email=AGENT_EMAIL)
    company.users["admin"] = account.find_user(email="admin@acme.example")

    start = account.now() - 3600
    for n, (name, (who, status)) in enumerate(TICKETS.items()):
        requester = company.users[who]
        fields = {"subject": f"{name.replace('_', ' ').capitalize()} ticket", "requester_id": requester["id"],
                  "status": status, "priority": ("urgent", "high", "normal", "low")[n % 4],
                  "type": ("problem", "incident", "question", "task")[n % 4], "tags": ["crm", who],
                  "assignee_id": company.users["agent"]["id"] if status != "new" else None}
        if name.startswith("deal_"):
            fields["external_id"] = f"zcrm:Deals:{deal}"
        ticket, _ = account.create_ticket(fields, {"body": f"First message of {name}.", "public": True},
                                          requester["id"], ts=start + 60 * n, notify=False)
        company.tickets[name] = ticket["id"]
    first = account.tickets[company.tickets["yui_open"]]
    account.update_ticket(first, {}, {"body": "We are looking into it.", "public": True},
                          company.users["agent"]["id"], ts=start + 60 * len(TICKETS))
    account.update_ticket(first, {}, {"body": "Internal: customer on the enterprise plan.", "public": False},
                          company.users["agent"]["id"], ts=start + 60 * len(TICKETS) + 1)
    s.zendesk.state.clock.advance(120)  # the exports leave out the last minute
    s.run("zendesk_tickets", "zendesk_comments")
    s.crm_calls.reset()
    s.zendesk_calls.reset()
    return company
