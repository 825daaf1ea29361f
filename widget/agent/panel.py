"""What the agent sidebar shows for a ticket's requester: their CRM Contact or Lead, its Account and the
Account's open Deals, the Deal the ticket was created from, their other tickets; and "Create Lead".

The requester comes from our local copy of the ticket (no Zendesk call), else from Zendesk. The CRM
record comes through our Link of that Zendesk user first, else a CRM search by email (Contacts, then
Leads). CRM answers are kept CACHE_SECONDS per requester in the process, so an agent moving between a
customer's tickets spends no CRM credits each time. Every outside call here gets one short try
(PANEL_POLICY): a CRM that is slow or down costs the agent about a second and a plain message, never
a hung page.
"""
import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..clients.http import AuthenticationError, NotFound, RetryPolicy, ServiceError
from ..connections import connection, crm_client, zendesk_client
from ..extensions import db
from ..models import Link, Ticket

PANEL_POLICY = RetryPolicy(attempts=1, timeout=1.5)
# Create Lead is an upsert, safe to repeat: one quick second try when its answer is lost.
LEAD_POLICY = RetryPolicy(attempts=2, base_delay=0.1, max_delay=0.3, timeout=2.0)
# The panel's CRM calls together: past this, the next call is not made and the CRM counts as too slow.
PANEL_DEADLINE = 3.0
CACHE_SECONDS = 60
CLOSED_DEAL_STAGES = ("Closed Won", "Closed Lost", "Closed-Lost to Competition")
PERSON_FIELDS = ("Full_Name", "First_Name", "Last_Name", "Email", "Phone", "Owner", "Title", "Designation",
                 "Account_Name", "Company")
DEAL_FIELDS = ("Deal_Name", "Stage", "Amount", "Closing_Date", "Owner")
CRM_WEB = {"us": "https://crm.zoho.com", "eu": "https://crm.zoho.eu", "in": "https://crm.zoho.in",
           "au": "https://crm.zoho.com.au", "jp": "https://crm.zoho.jp", "cn": "https://crm.zoho.com.cn",
           "ca": "https://crm.zohocloud.ca", "sa": "https://crm.zoho.sa"}


class CrmUnavailable(Exception):
    """The CRM could not answer: `kind` is revoked | down | zendesk_down (the view says it in plain words)."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Requester:
    zendesk_id: int
    name: str
    email: str
    deal_id: str | None  # the Deal the ticket was created from


@dataclass
class Record:
    module: str
    id: str
    name: str
    url: str
    owner: str = ""
    title: str = ""
    phone: str = ""
    email: str = ""
    company: str = ""


@dataclass
class Deal:
    id: str
    name: str
    stage: str
    amount: object
    closing_date: str
    url: str


@dataclass
class Customer:
    person: Record | None = None
    account: Record | None = None
    open_deals: list = field(default_factory=list)
    origin_deal: Deal | None = None


# ---- the requester -------------------------------------------------------------------------------

def requester_of(installation, ticket_id, fresh=False):
    """The ticket's requester, from the local copy (unless `fresh`), else from Zendesk; None when the ticket
    is not in the account. Raises CrmUnavailable("zendesk_down")."""
    row = None if fresh else db.session.scalar(
        db.select(Ticket).filter_by(installation_id=installation.id, zendesk_id=ticket_id))
    if row is not None and row.requester_id and row.requester_email:
        return Requester(row.requester_id, row.requester_name, row.requester_email, row.crm_deal_id)
    grant = connection(installation, "zendesk")
    if grant is None or grant.status != "active":
        raise CrmUnavailable("zendesk_down")
    try:
        client = zendesk_client(installation, grant, policy=PANEL_POLICY)
        ticket = client.show_ticket(ticket_id)
        users = client.show_users([ticket["requester_id"]]) if ticket.get("requester_id") else []
    except NotFound:
        return None
    except ServiceError:
        raise CrmUnavailable("zendesk_down") from None
    if not users:
        return None
    external = str(ticket.get("external_id") or "")
    deal_id = external.split(":", 2)[2] if external.startswith("zcrm:Deals:") else None
    return Requester(users[0]["id"], users[0].get("name") or "", users[0].get("email") or "", deal_id)


def other_tickets(installation, requester, ticket_id):
    """How many other tickets the requester has, in our local copy."""
    return db.session.scalar(db.select(db.func.count(Ticket.id)).where(
        Ticket.installation_id == installation.id, Ticket.requester_id == requester.zendesk_id,
        Ticket.zendesk_id != ticket_id)) or 0


# ---- the CRM side ----------------------------------------------------------------------------------

_cache, _cache_lock = {}, threading.Lock()


def _cache_key(installation, requester, link):
    # The link is part of the key: once a Lead is created and linked (in any worker), the next look is fresh.
    return installation.installation_key, requester.zendesk_id, requester.deal_id, link.crm_id if link else None


def customer_of(installation, requester, now=None):
    """The requester's CRM side (cached CACHE_SECONDS). Raises CrmUnavailable."""
    now = time.monotonic() if now is None else now
    link = _link(installation, requester)
    key = _cache_key(installation, requester, link)
    with _cache_lock:
        kept = _cache.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
    found = _read_customer(installation, requester, link)
    with _cache_lock:
        for old in [k for k, (until, _) in _cache.items() if until <= now]:
            del _cache[old]
        _cache[key] = (now + CACHE_SECONDS, found)
    return found


def forget(installation, requester):
    with _cache_lock:
        for key in [k for k in _cache if k[:2] == (installation.installation_key, requester.zendesk_id)]:
            del _cache[key]


def _link(installation, requester):
    return db.session.scalar(db.select(Link).filter_by(installation_id=installation.id, kind="user",
                                                       zendesk_id=requester.zendesk_id))


def _client(installation, policy=PANEL_POLICY):
    grant = connection(installation, "crm")
    if grant is None or grant.status != "active":
        raise CrmUnavailable("revoked")
    return crm_client(installation, grant, policy=policy)


class _Deadline:
    """Stops a sequence of calls once it has taken PANEL_DEADLINE seconds in all."""

    def __init__(self, client):
        self.client, self.ends = client, time.monotonic() + PANEL_DEADLINE

    def __getattr__(self, name):
        if time.monotonic() > self.ends:
            raise CrmUnavailable("down")
        return getattr(self.client, name)


def _read_customer(installation, requester, link):
    client = _Deadline(_client(installation))
    try:
        found = Customer()
        person = None
        if link is not None and link.crm_module in ("Contacts", "Leads"):
            person = (link.crm_module, client.get_record(link.crm_module, link.crm_id))
        if person is None or person[1] is None:
            person = _search(client, requester.email)
        if person is not None:
            found.person = _record(installation, *person)
            account_id = ((person[1].get("Account_Name") or {}).get("id") if person[0] == "Contacts" else None)
            if account_id:
                account = client.get_record("Accounts", account_id)
                if account is not None:
                    found.account = _record(installation, "Accounts", account)
                    deals = client.related_records("Accounts", account_id, "Deals", DEAL_FIELDS)
                    found.open_deals = [_deal(installation, deal) for deal in deals
                                        if deal.get("Stage") not in CLOSED_DEAL_STAGES]
        if requester.deal_id:
            deal = client.get_record("Deals", requester.deal_id)
            found.origin_deal = _deal(installation, deal) if deal else None
        return found
    except AuthenticationError:
        raise CrmUnavailable("revoked") from None  # the grant keeper marked it revoked if the CRM refused it
    except ServiceError:
        raise CrmUnavailable("down") from None


def _search(client, email):
    if not email:
        return None
    for module in ("Contacts", "Leads"):
        record = next(iter(client.search_records(module, email=email, per_page=10)), None)
        if record is not None:
            return module, record
    return None


def _name(record):
    return record.get("Full_Name") or " ".join(
        part for part in (record.get("First_Name"), record.get("Last_Name")) if part) or record.get(
        "Account_Name") or ""


def _owner(record):
    owner = record.get("Owner")
    return owner.get("name", "") if isinstance(owner, dict) else ""


def _record(installation, module, record):
    name = record.get("Account_Name") if module == "Accounts" else _name(record)
    return Record(module, str(record["id"]), str(name or ""), crm_record_url(installation, module, record["id"]),
                  owner=_owner(record), title=record.get("Title") or record.get("Designation") or "",
                  phone=record.get("Phone") or "", email=record.get("Email") or "", company=record.get("Company") or "")


def _deal(installation, deal):
    return Deal(str(deal["id"]), deal.get("Deal_Name") or "", deal.get("Stage") or "", deal.get("Amount"),
                deal.get("Closing_Date") or "", crm_record_url(installation, "Deals", deal["id"]))


def crm_record_url(installation, module, record_id):
    """The record's page in the CRM's web UI (the sandbox's own in development)."""
    sandbox = current_app.config["CRM_SANDBOX_URL"].rstrip("/")
    if sandbox:
        return f"{sandbox}/crm/tab/{module}/{record_id}"
    web = CRM_WEB.get(installation.data_center, CRM_WEB["us"])
    return f"{web}/crm/org{installation.org_id}/tab/{module}/{record_id}"


# ---- Create Lead ------------------------------------------------------------------------------------

def lead_fields(requester, company):
    """The Lead made of the requester: their name split in two (Last_Name is mandatory), email, company."""
    first, _, last = requester.name.strip().rpartition(" ")
    return {"First_Name": first or None, "Last_Name": last or requester.email.split("@")[0],
            "Email": requester.email, "Company": company or requester.name or requester.email}


def create_lead(installation, requester, company=""):
    """Create the requester's Lead and link it to their Zendesk user; returns the Customer now shown.
    Exactly once: the CRM write is an upsert by Email (a retry, a double click, a lost answer find the
    Lead the first one made and update it), and the Link is unique per Zendesk user; a requester linked
    already (a second click) is only shown."""
    if _link(installation, requester) is not None:
        return customer_of(installation, requester)
    client = _client(installation, LEAD_POLICY)
    try:
        [result] = client.upsert_records("Leads", [lead_fields(requester, company)], ["Email"])
    except AuthenticationError:
        raise CrmUnavailable("revoked") from None
    except ServiceError:
        raise CrmUnavailable("down") from None
    if not result.ok:
        raise CrmUnavailable("down")
    db.session.add(Link(installation_id=installation.id, kind="user", zendesk_id=requester.zendesk_id,
                        crm_module="Leads", crm_id=str(result.id), email=requester.email.lower() or None))
    try:
        db.session.commit()
    except IntegrityError:  # linked meanwhile (another click, the sync): that link stands
        db.session.rollback()
    forget(installation, requester)
    return customer_of(installation, requester)
