"""The dry run behind the wizard's summary (F13): what a first sync would create or update on each side,
for the saved settings, read live and written nowhere.

Totals come from the services' count endpoints (Zoho CRM `{module}/actions/count`; Zendesk
`tickets/count`, and for a Selective sync `search/count` per chosen organization); what is already
linked here (Link, Ticket, Comment) is what would be updated rather than created. Neither service counts
all comments, so they are estimated from a sample of tickets (`tickets/{id}/comments/count`), exact when
the sample holds every ticket. A line is an estimate when its number or its create/update split may be
off: search counts lag behind new tickets (Zendesk indexes them within minutes), Zendesk matches people
by email (a "new" one may be someone it already has), and a Selective sync's accounts are those whose
organization is among the chosen ones (at most one each).
"""
from dataclasses import dataclass

from ..extensions import db
from ..models import Comment, Link, Ticket
from .engine import sync_settings

COMMENT_SAMPLE = 10  # tickets whose comments are counted, one call each


@dataclass
class Line:
    """One kind of record written to one side: `side` is where it is written ("zendesk" or "crm")."""

    kind: str  # organizations | people | tickets | comments
    side: str
    create: int
    update: int
    estimate: bool = False

    @property
    def total(self):
        return self.create + self.update


def dry_run(installation, zendesk, crm):
    """The lines of a first sync with the installation's saved settings. Only reads (counts and searches);
    the caller's clients decide how long to wait. Raises the clients' ServiceError when a service fails."""
    settings = sync_settings(installation)
    chosen = [int(i) for i in settings.selected_organizations or []] if settings.mode == "selective" else None
    modules = set(settings.modules or [])
    lines = []
    if "Accounts" in modules:
        lines.append(_organizations(installation, crm, chosen))
    people = [module for module in ("Contacts", "Leads") if module in modules]
    if people:
        lines.append(_people(installation, zendesk, crm, people, chosen))
    tickets = _tickets(installation, zendesk, chosen)
    lines += [tickets, _comments(installation, zendesk, chosen, tickets.total)]
    return lines


def _split(kind, side, total, linked, estimate=False):
    linked = min(linked, total)
    return Line(kind, side, total - linked, linked, estimate)


def _links(installation, kind, *conditions):
    query = db.select(db.func.count()).select_from(Link).where(Link.installation_id == installation.id,
                                                               Link.kind == kind, *conditions)
    return db.session.scalar(query)


def _organizations(installation, crm, chosen):
    """CRM Accounts → Zendesk organizations."""
    if chosen is None:
        return _split("organizations", "zendesk", crm.count_records("Accounts"), _links(installation, "organization"))
    linked = _links(installation, "organization", Link.zendesk_id.in_(chosen)) if chosen else 0
    return _split("organizations", "zendesk", len(chosen), linked, estimate=True)


def _people(installation, zendesk, crm, modules, chosen):
    """CRM Contacts and Leads → Zendesk users (Selective: as many as the chosen organizations have)."""
    if chosen is None:
        total = sum(crm.count_records(module) for module in modules)
        linked = _links(installation, "user", Link.crm_module.in_(modules))
    else:
        total = sum(zendesk.search_count(f"type:user organization:{org_id}") for org_id in chosen)
        linked = 0  # a person's organization is Zendesk's to know: assume each is new
    return _split("people", "zendesk", total, linked, estimate=True)


def _tickets(installation, zendesk, chosen):
    """Zendesk tickets → the CRM's Zendesk Tickets module."""
    if chosen is None:
        return _split("tickets", "crm", zendesk.count("tickets"), _links(installation, "ticket"))
    total = sum(zendesk.search_count(f"type:ticket organization:{org_id}") for org_id in chosen)
    return _split("tickets", "crm", total, _local(installation, Ticket, chosen), estimate=True)


def _comments(installation, zendesk, chosen, ticket_total):
    """Zendesk comments → the CRM's Zendesk Ticket Comments module: the sample's average per ticket."""
    queries = ["type:ticket"] if chosen is None else [f"type:ticket organization:{org_id}" for org_id in chosen]
    sample = []
    for query in queries:
        if len(sample) >= COMMENT_SAMPLE or len(sample) >= ticket_total:
            break
        sample += zendesk.search_ids(query, COMMENT_SAMPLE - len(sample))
    counted = sum(zendesk.count_comments(ticket_id) for ticket_id in sample)
    total = round(counted * ticket_total / len(sample)) if sample else 0
    if chosen is None:
        linked = _links(installation, "comment")
    else:
        linked = _local(installation, Comment, chosen)
    return _split("comments", "crm", total, linked, estimate=chosen is not None or len(sample) < ticket_total)


def _local(installation, model, chosen):
    """Tickets (or their comments) of the chosen organizations already in our tables."""
    tickets = db.select(Ticket.zendesk_id).where(Ticket.installation_id == installation.id,
                                                 Ticket.organization_id.in_(chosen))
    if model is Ticket:
        query = db.select(db.func.count()).select_from(tickets.subquery())
    else:
        query = db.select(db.func.count()).select_from(Comment).where(
            Comment.installation_id == installation.id, Comment.ticket_zendesk_id.in_(tickets))
    return db.session.scalar(query)
