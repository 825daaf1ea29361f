"""One ticket with its whole comment thread, read live from Zendesk, or from the local copy (the
Ticket and Comment tables the sync keeps) when Zendesk is slow, down or refuses — and then the page
says so in plain words."""
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..clients.http import AuthenticationError, NotFound, RetryPolicy, ServiceError
from ..connections import connection, zendesk_base_url, zendesk_client
from ..extensions import db
from ..models import Comment

# A rep waits for the page: a short try, then the local copy (the sync's own policy is patient).
LIVE_POLICY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0, timeout=4.0)


@dataclass
class ThreadComment:
    author: str
    body: str
    public: bool
    created_at: datetime = None


@dataclass
class TicketView:
    id: int
    subject: str
    status: str
    priority: str = None
    type: str = None
    tags: list = field(default_factory=list)
    requester: str = ""
    requester_email: str = ""
    assignee: str = ""
    organization: str = ""
    created_at: datetime = None
    updated_at: datetime = None
    zendesk_url: str = ""
    comments: list = field(default_factory=list)
    live: bool = True
    problem: str = None  # why the local copy shows, in plain words


def ticket_view(installation, row):
    """The ticket of local row `row`, live from Zendesk when it answers in time, else the local copy."""
    grant = connection(installation, "zendesk")
    if grant is None or grant.status != "active":
        return local_view(installation, row, _l("Zendesk is not authorized, so this is the copy saved at the last "
                                                "sync."))
    try:
        return live_view(installation, zendesk_client(installation, grant, policy=LIVE_POLICY), row.zendesk_id)
    except NotFound:
        return local_view(installation, row, _l("Zendesk no longer has this ticket (it may have been deleted). "
                                                "This is the copy saved at the last sync."))
    except AuthenticationError:
        return local_view(installation, row, _l("Zendesk no longer accepts the extension's authorization, so this "
                                                "is the copy saved at the last sync. An administrator can authorize "
                                                "Zendesk again in the extension's settings."))
    except ServiceError:
        return local_view(installation, row, _l("Zendesk is not answering right now, so this is the copy saved at "
                                                "the last sync; it may miss the latest changes. Open it again in a "
                                                "moment to see it live."))


def live_view(installation, client, ticket_id):
    """Read from Zendesk: the ticket, its comments (oldest first) and the names of everyone in them."""
    ticket = client.show_ticket(ticket_id)
    comments = list(client.list_comments(ticket_id))
    people = {ticket.get("requester_id"), ticket.get("assignee_id")} | {c.get("author_id") for c in comments}
    users = {user["id"]: user for user in client.show_users(people - {None})}
    organization = {}
    if ticket.get("organization_id"):
        organization = next(iter(client.show_organizations([ticket["organization_id"]])), {})
    requester, assignee = users.get(ticket.get("requester_id")) or {}, users.get(ticket.get("assignee_id")) or {}
    return TicketView(
        id=ticket["id"], subject=ticket.get("subject") or "", status=ticket.get("status") or "new",
        priority=ticket.get("priority"), type=ticket.get("type"), tags=list(ticket.get("tags") or []),
        requester=requester.get("name") or "", requester_email=requester.get("email") or "",
        assignee=assignee.get("name") or "", organization=organization.get("name") or "",
        created_at=parse_time(ticket.get("created_at")), updated_at=parse_time(ticket.get("updated_at")),
        zendesk_url=agent_url(installation, ticket["id"]),
        comments=[ThreadComment((users.get(c.get("author_id")) or {}).get("name") or "",
                                c.get("plain_body") or c.get("body") or "", bool(c.get("public", True)),
                                parse_time(c.get("created_at"))) for c in comments])


def local_view(installation, row, problem):
    comments = db.session.scalars(db.select(Comment).where(
        Comment.installation_id == installation.id, Comment.ticket_zendesk_id == row.zendesk_id)
        .order_by(Comment.created_at, Comment.zendesk_id)).all()
    return TicketView(
        id=row.zendesk_id, subject=row.subject, status=row.status, priority=row.priority, type=row.type,
        tags=list(row.tags or []), requester=row.requester_name, requester_email=row.requester_email,
        assignee=row.assignee_name, organization=row.organization_name, created_at=row.created_at,
        updated_at=row.updated_at, zendesk_url=agent_url(installation, row.zendesk_id),
        comments=[ThreadComment(c.author_name, c.body, c.public, c.created_at) for c in comments],
        live=False, problem=problem)


def agent_url(installation, ticket_id):
    """The ticket in Zendesk's agent UI, as the dashboard and the CRM records link it."""
    return f"{zendesk_base_url(installation)}/agent/tickets/{ticket_id}"


def parse_time(value):
    """Zendesk's `2024-05-01T09:30:00Z` as an aware datetime (None when absent or unreadable)."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
