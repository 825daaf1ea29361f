"""What the "New Zendesk Ticket" form offers: the CRM record's people, read live from the CRM, and
Zendesk's agents and admins (the assignees), kept a minute per installation.

A Contact or Lead page prefills the requester with the record itself. An Account page offers the
Account's contacts; a Deal page the Deal's contact first, then its Account's contacts. The Account (the
record itself, a Contact's or a Deal's) is where the ticket's organization comes from.
"""
import threading
import time
from dataclasses import dataclass, field
from itertools import islice

from ..sync.mapping import FULL_NAME, crm_value

CONTACTS_OFFERED = 200  # one page of an Account's related Contacts
AGENTS_SECONDS = 60  # agents change rarely; a minute spares a listing per form shown
PERSON_FIELDS = ["First_Name", "Last_Name", "Full_Name", "Email"]


@dataclass(frozen=True)
class Person:
    """A CRM Contact or Lead as the form names it."""

    module: str  # Contacts | Leads
    id: str
    name: str
    email: str


@dataclass
class RecordPeople:
    """The record's own person (Contact/Lead pages), the contacts offered (Account/Deal pages), the
    contact chosen first, and the CRM Account whose Zendesk organization the ticket belongs to.
    `loaded` is False when the CRM could not be read."""

    person: Person | None = None
    contacts: list = field(default_factory=list)
    suggested: Person | None = None
    account_id: str | None = None
    loaded: bool = True

    def contact(self, contact_id):
        return next((c for c in self.contacts if c.id == str(contact_id)), None)


def record_people(crm, entity, record_id):
    """Read the record's people from the CRM (one to three calls). Raises the client's ServiceError."""
    if entity in ("Contacts", "Leads"):
        record = crm.get_record(entity, record_id) or {}
        person = _person(entity, record) if record else None
        return RecordPeople(person=person, suggested=person, account_id=_lookup_id(record.get("Account_Name")))
    if entity == "Accounts":
        return RecordPeople(contacts=_account_contacts(crm, record_id), account_id=str(record_id))
    deal = crm.get_record("Deals", record_id) or {}
    account_id, contact_id = _lookup_id(deal.get("Account_Name")), _lookup_id(deal.get("Contact_Name"))
    contacts = _account_contacts(crm, account_id) if account_id else []
    deal_contact = next((c for c in contacts if c.id == contact_id), None)
    if contact_id and deal_contact is None:
        record = crm.get_record("Contacts", contact_id)
        deal_contact = _person("Contacts", record) if record else None
    if deal_contact is not None:
        contacts = [deal_contact] + [c for c in contacts if c.id != deal_contact.id]
    return RecordPeople(contacts=contacts, suggested=deal_contact, account_id=account_id)


def _account_contacts(crm, account_id):
    records = crm.related_records("Accounts", account_id, "Contacts", PERSON_FIELDS)
    return sorted((_person("Contacts", r) for r in islice(records, CONTACTS_OFFERED)), key=lambda p: p.name.lower())


def _person(module, record):
    name = (crm_value(record, FULL_NAME) or "").strip()
    return Person(module, str(record["id"]), name, (record.get("Email") or "").strip())


def _lookup_id(value):
    return str(value["id"]) if isinstance(value, dict) and value.get("id") else None


# ---- Zendesk's agents ----------------------------------------------------------------------------
_agents = {}  # installation key -> (monotonic time read, [agent])
_agents_lock = threading.Lock()


def zendesk_agents(installation, zendesk, fresh=False):
    """Every active agent and admin of the installation's Zendesk ({id, name, email, role}, by name),
    read at most once a minute per installation unless `fresh`. Raises the client's ServiceError."""
    now = time.monotonic()
    with _agents_lock:
        kept = _agents.get(installation.installation_key)
    if kept is not None and not fresh and now - kept[0] < AGENTS_SECONDS:
        return kept[1]
    agents = sorted(({"id": u["id"], "name": u.get("name") or u.get("email") or str(u["id"]),
                      "email": u.get("email"), "role": u.get("role")}
                     for u in zendesk.list_agents() if u.get("active", True) and not u.get("suspended")),
                    key=lambda agent: agent["name"].lower())
    with _agents_lock:
        for key in [k for k, (read, _) in _agents.items() if now - read >= AGENTS_SECONDS]:
            del _agents[key]  # keep only live entries: one per installation in use
        _agents[installation.installation_key] = (now, agents)
    return agents
