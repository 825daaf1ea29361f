"""Which tickets a CRM record shows, read from the local copies the sync keeps (docs/architecture.md#data-model), so the
widget never waits on an outside API to list.

- A Contact or a Lead: the tickets they requested.
- An Account: the tickets of its Zendesk organization, whoever of its people requested them.
- A Deal: the tickets created from it (external_id "zcrm:Deals:<id>", widget/sync/tickets.py) and those
  of its Account's organization, each marked with where it comes from.

A ticket's crm_*_id columns are the lookups the sync wrote to its CRM record, as they were when the
ticket last changed. A person or an organization linked later (a backfill, an organization adopted by
name, a Contact synced after its tickets) leaves older tickets without the lookup until they change
again, so the Link table (the current pairs) counts too: a Contact's tickets are those whose lookup
names it or whose requester is linked to it now; an Account's, those whose lookup names it or whose
organization is linked to it now.
"""
from dataclasses import dataclass, field

from ..extensions import db
from ..models import Link, Ticket
from .deals import deal_account

PAGE_SIZE = 10
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
UNSOLVED = ("new", "open", "pending", "hold")
FILTERS = {"unsolved": UNSOLVED, "all": STATUSES, **{status: (status,) for status in STATUSES}}
DEFAULT_FILTER = "unsolved"  # open tickets first; "all" on demand


@dataclass
class Scope:
    """The record's tickets as an SQL condition; for a Deal, `marker` says where each comes from
    ("deal" or "account"), `account_unknown` that its Account could not be read yet, and `until` when
    its Account is read again (the tickets it shows may change then)."""

    condition: object
    marker: object = None
    account_unknown: bool = False
    until: object = None


@dataclass
class TicketPage:
    rows: list  # [(Ticket, marker or None)]
    counts: dict  # {status: tickets of the record}
    filter: str
    page: int
    pages: int
    total: int  # tickets in the filter
    account_unknown: bool = False
    filter_counts: dict = field(default_factory=dict)  # {filter: tickets}
    until: object = None  # Scope.until


def record_scope(installation, entity, record_id):
    record_id = str(record_id)
    if entity in ("Contacts", "Leads"):
        return Scope(_requested_by(installation, entity, record_id))
    if entity == "Accounts":
        return Scope(_of_account(installation, record_id))
    from_deal = Ticket.crm_deal_id == record_id
    account_id, known, until = deal_account(installation, record_id)
    of_account = _account_terms(installation, account_id) if account_id else ()
    return Scope(_any_of(installation, from_deal, *of_account), db.case((from_deal, "deal"), else_="account"),
                 account_unknown=not known, until=until)


def _requested_by(installation, module, record_id):
    linked = db.select(Link.zendesk_id).where(Link.installation_id == installation.id, Link.kind == "user",
                                              Link.crm_module == module, Link.crm_id == record_id)
    lookup = Ticket.crm_contact_id if module == "Contacts" else Ticket.crm_lead_id
    return _any_of(installation, lookup == record_id, Ticket.requester_id.in_(linked))


def _of_account(installation, account_id):
    return _any_of(installation, *_account_terms(installation, account_id))


def _account_terms(installation, account_id):
    linked = db.select(Link.zendesk_id).where(Link.installation_id == installation.id, Link.kind == "organization",
                                              Link.crm_module == "Accounts", Link.crm_id == account_id)
    return Ticket.crm_account_id == account_id, Ticket.organization_id.in_(linked)


def _any_of(installation, *terms):
    """The tickets meeting any of `terms`, found term by term, each in its own index (models.Ticket). NB: as
    one OR, SQLite read every ticket of the installation for a record (README "Benchmarks")."""
    return Ticket.id.in_(db.union(*(db.select(Ticket.id).where(Ticket.installation_id == installation.id, term)
                                    for term in terms)))


def ticket_page(installation, entity, record_id, filter_name=DEFAULT_FILTER, page=1):
    """One page of the record's tickets in a filter (FILTERS), the last updated first, with the counts
    per status of all of them."""
    filter_name = filter_name if filter_name in FILTERS else DEFAULT_FILTER
    scope = record_scope(installation, entity, record_id)
    mine = (scope.condition,)  # the installation's only (`_any_of`)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(db.session.execute(db.select(Ticket.status, db.func.count()).where(*mine)
                                     .group_by(Ticket.status)).all())
    filter_counts = {name: sum(counts.get(status, 0) for status in statuses) for name, statuses in FILTERS.items()}
    total = filter_counts[filter_name]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    marker = scope.marker if scope.marker is not None else db.null()
    rows = db.session.execute(
        db.select(Ticket, marker).where(*mine, Ticket.status.in_(FILTERS[filter_name]))
        .order_by(Ticket.updated_at.desc().nulls_last(), Ticket.zendesk_id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return TicketPage([tuple(row) for row in rows], counts, filter_name, page, pages, total, scope.account_unknown,
                      filter_counts, scope.until)


def visible_ticket(installation, entity, record_id, ticket_id):
    """The local copy of ticket `ticket_id` when it is one of the record's tickets, else None."""
    scope = record_scope(installation, entity, record_id)
    return db.session.scalar(db.select(Ticket).where(Ticket.installation_id == installation.id, scope.condition,
                                                     Ticket.zendesk_id == ticket_id))
