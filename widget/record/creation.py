"""Creating a Zendesk ticket from a CRM record (F18): once per form, whatever arrives.

Once per form: the form's random key is claimed in `NewTicketRequest` (unique per installation) before
anything is sent. The request that inserts the row creates the ticket and stores its id there; a repeat
(a double click, a browser's retry, two submits racing) meets the row, waits for the id if the first is
still at work, and answers that same ticket. The same key goes to Zendesk as its `Idempotency-Key`, so a
lost answer is retried without a second ticket, and a claim left by a process that died is taken over
safely after CLAIM_SECONDS.

The ticket: the requester is the Zendesk user with the email given (searched), else one created with it,
placed in the organization of the record's Account (its Link) when there is one. When the requester is
the record's own Contact or Lead (or a chosen Contact) and neither side is paired yet, they are paired
(a `user` Link), as the people sync would by the same email, so the ticket is that record's at once. A
ticket created from a Deal carries the Deal in its external_id (`tickets.DEAL_PREFIX`).

Then, at once, the ticket and its first comment go through the sync's own writers (`tickets.write_tickets`,
`write_comments`): the CRM's "Zendesk Tickets" record (upsert by Ticket_ID), the local Ticket row with
its record links, and the Link with the hash of what was written. The webhook about the new ticket, or
the next sync, then finds everything written and unchanged.
"""
import time
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..clients.http import InvalidRequest, RetryPolicy, ServiceError
from ..connections import crm_client, zendesk_base_url, zendesk_client
from ..extensions import db
from ..models import Link, NewTicketRequest, Ticket, as_utc, utcnow
from ..notices import notice
from ..sync import mapping, tickets
from ..sync.engine import SyncContext
from ..sync.mapping_rows import mappings_for
from ..sync.store import digest

# A person waits on the answer: a few quick tries, then plain words (the sync's own policy is patient).
READ_POLICY = RetryPolicy(attempts=2, base_delay=0.2, timeout=5.0)
WRITE_POLICY = RetryPolicy(attempts=3, base_delay=0.3, timeout=20.0)
CLAIM_SECONDS = 120  # a claim with no ticket this long lost its request (process gone): taken over
WAIT_SECONDS = 30  # how long a repeat waits for the first request's ticket
POLL_SECONDS = 0.1


@dataclass
class Created:
    """What the person is told: the ticket, and whether the CRM has it yet."""

    ticket_id: int
    subject: str = ""
    url: str = ""
    repeated: bool = False  # the form was sent before: this is the ticket that first submit created
    listed: bool = True  # in the CRM and the related list now
    problem: str | None = None  # why not, in plain words


class Refused(Exception):
    """Zendesk refused the ticket (422): `errors` maps form fields (or None, the whole form) to messages."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class Busy(Exception):
    """The same form is still being created by an earlier submit."""


def interactive_clients(installation):
    """(Zendesk, CRM) clients with short tries, for a person's request."""
    return zendesk_client(installation, policy=READ_POLICY), crm_client(installation, policy=READ_POLICY)


def create_ticket(installation, entity, record_id, form, people, agents):
    """Create the ticket the validated `form` describes (once for its key); returns `Created`.
    Raises Refused (Zendesk said no: nothing created), Busy, or the clients' ServiceError."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claim, mine = _claim(installation, form.key.data, entity, record_id)
        if claim.zendesk_ticket_id is not None:
            return _answered(installation, claim.zendesk_ticket_id)
        if mine:
            break
        if time.monotonic() > deadline:
            raise Busy()
        time.sleep(POLL_SECONDS)
    try:
        ctx = SyncContext(installation, zendesk=zendesk_client(installation, policy=WRITE_POLICY),
                          crm=crm_client(installation, policy=WRITE_POLICY))
        ticket, requester = _create_in_zendesk(ctx, entity, record_id, form, people, claim.key)
    except BaseException:
        db.session.rollback()
        _release(claim)  # nothing was created (or Zendesk keeps it under the same key): the form may be sent again
        raise
    claim.zendesk_ticket_id = ticket["id"]
    db.session.commit()
    return _written(ctx, ticket, requester, agents)


# ---- the form's key ------------------------------------------------------------------------------
def _claim(installation, key, entity, record_id):
    """(the key's row, whether this request is the one to create its ticket: it inserted the row, or
    took over a stale one). Another request's row comes back with False."""
    row = NewTicketRequest(installation_id=installation.id, key=key, entity=entity, record_id=str(record_id))
    db.session.add(row)
    try:
        db.session.commit()
        return row, True
    except IntegrityError:
        db.session.rollback()
    row = db.session.scalar(db.select(NewTicketRequest).filter_by(installation_id=installation.id, key=key)
                            .execution_options(populate_existing=True))
    if row is None:  # released meanwhile (its request failed): claim it afresh
        return _claim(installation, key, entity, record_id)
    if (row.entity, row.record_id) != (entity, str(record_id)):  # a key is one form of one record
        raise Refused({None: [_l("This form belongs to another record. Reload it and try again.")]})
    return row, row.zendesk_ticket_id is None and _take_over_stale(row)


def _take_over_stale(row):
    """Take over a claim whose request died before it stored a ticket (compare-and-set on its time)."""
    if utcnow() - as_utc(row.claimed_at) < timedelta(seconds=CLAIM_SECONDS):
        return False
    taken = db.session.execute(db.update(NewTicketRequest).where(
        NewTicketRequest.id == row.id, NewTicketRequest.claimed_at == row.claimed_at,
        NewTicketRequest.zendesk_ticket_id.is_(None)).values(claimed_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()
    return taken.rowcount == 1


def _release(claim):
    db.session.execute(db.delete(NewTicketRequest).where(NewTicketRequest.id == claim.id,
                                                         NewTicketRequest.zendesk_ticket_id.is_(None)))
    db.session.commit()


def created_before(installation, key, entity, record_id):
    """`Created` when this form (its key, for this record) already made its ticket, else None."""
    if not key:
        return None
    ticket_id = db.session.scalar(db.select(NewTicketRequest.zendesk_ticket_id).filter_by(
        installation_id=installation.id, key=key, entity=entity, record_id=str(record_id)))
    return _answered(installation, ticket_id) if ticket_id is not None else None


def _answered(installation, ticket_id):
    """A repeat: the ticket the first submit created, as the local copy has it."""
    row = db.session.scalar(db.select(Ticket).filter_by(installation_id=installation.id, zendesk_id=ticket_id))
    return Created(ticket_id, subject=row.subject if row else "", url=ticket_url(installation, ticket_id),
                   repeated=True, listed=row is not None)


def ticket_url(installation, ticket_id):
    return f"{zendesk_base_url(installation)}/agent/tickets/{ticket_id}"


# ---- Zendesk -------------------------------------------------------------------------------------
def _create_in_zendesk(ctx, entity, record_id, form, people, key):
    organization_id = _organization_id(ctx, people.account_id)
    person = form.chosen_contact or people.person
    requester = _requester(ctx, form.requester_name.data, form.requester_email.data, person, organization_id)
    ticket = {"subject": form.subject.data, "comment": {"body": form.description.data, "public": True},
              "requester_id": requester["id"], "status": form.status.data, "tags": form.tag_list}
    if form.assignee.data:
        ticket["assignee_id"] = int(form.assignee.data)
    if form.ticket_type.data:
        ticket["type"] = form.ticket_type.data
    if form.priority.data:
        ticket["priority"] = form.priority.data
    if organization_id is not None and _belongs(ctx, requester, organization_id):
        # Zendesk takes only an organization the requester is in; without one, the ticket would go to the
        # requester's default organization, and so to another Account when they are in several.
        ticket["organization_id"] = organization_id
    if entity == "Deals":
        ticket["external_id"] = f"{tickets.DEAL_PREFIX}{record_id}"  # how the sync links a ticket to its Deal
    try:
        return ctx.zendesk.create_ticket(ticket, idempotency_key=key), requester
    except InvalidRequest as error:
        raise Refused(refusal_errors(error)) from None


def _belongs(ctx, user, organization_id):
    """True when the Zendesk user is in the organization: their default one, else one of their memberships
    (one call, only then)."""
    if user.get("organization_id") == organization_id:
        return True
    if user.get("organization_id") is None:
        return False  # a user with no default organization has no membership
    return organization_id in ctx.zendesk.user_organization_ids(user["id"])


def _organization_id(ctx, account_id):
    """The Zendesk organization the CRM Account is synced with, or None."""
    if not account_id:
        return None
    return db.session.scalar(db.select(Link.zendesk_id).filter_by(
        installation_id=ctx.installation.id, kind="organization", crm_module="Accounts", crm_id=str(account_id)))


def _requester(ctx, name, email, person, organization_id):
    """The Zendesk user with this email (one search), else a new one (one call). Placed in the
    organization when it has none; given the record's external_id when the record has no email (the
    people sync then matches it by that id) and the user is nobody's yet. Paired with the record's person
    when the people sync would pair them too."""
    found = ctx.zendesk.search_users_by_email(email)
    user = found[0] if found else None
    wanted = {}
    if organization_id is not None and not (user or {}).get("organization_id"):
        wanted["organization_id"] = organization_id
    if person is not None and not person.email and not _record_paired(ctx, person) and (
            user is None or not (user.get("external_id") or _user_paired(ctx, user["id"]))):
        wanted["external_id"] = mapping.external_id(person.module, person.id)
    try:
        if user is None:
            user = ctx.zendesk.create_or_update_user({"name": name, "email": email, **wanted})
        elif wanted:
            user = ctx.zendesk.create_or_update_user({"email": email, **wanted})
    except InvalidRequest as error:
        raise Refused(refusal_errors(error, requester=True)) from None
    _pair(ctx, user, person, email)
    return user


def _record_paired(ctx, person):
    return db.session.scalar(db.select(Link.id).filter_by(installation_id=ctx.installation.id, kind="user",
                                                          crm_module=person.module, crm_id=person.id)) is not None


def _user_paired(ctx, user_id):
    return db.session.scalar(db.select(Link.id).filter_by(installation_id=ctx.installation.id, kind="user",
                                                          zendesk_id=user_id)) is not None


def _pair(ctx, user, person, email):
    """A `user` Link between the requester and the record's person, when the people sync would make the
    same one: the person has this email (or none), and neither is paired with someone else yet. Its
    hash is of the user as Zendesk holds it, so the webhook about the user is an echo."""
    if person is None or (person.email and person.email.lower() != email.lower()):
        return
    if _user_paired(ctx, user["id"]) or _record_paired(ctx, person):
        return
    hashed = digest(mapping.view_of_zendesk(user, mappings_for(ctx, person.module)))
    db.session.add(Link(installation_id=ctx.installation.id, kind="user", zendesk_id=user["id"],
                        crm_module=person.module, crm_id=person.id, last_hash=hashed, email=email.lower()))
    try:
        db.session.commit()
    except IntegrityError:  # paired meanwhile by the sync or another submit: theirs stands
        db.session.rollback()


# Zendesk's RecordInvalid detail keys → the form field each is about.
REFUSED_FIELDS = {"subject": "subject", "description": "description", "comment": "description",
                  "assignee": "assignee", "assignee_id": "assignee", "type": "ticket_type",
                  "priority": "priority", "status": "status", "tags": "tags", "requester": "requester_email",
                  "requester_id": "requester_email", "email": "requester_email", "name": "requester_name"}


def refusal_errors(error, requester=False):
    """A Zendesk refusal in plain words, next to the fields it names: {field or None: [message]}."""
    if error.code == "IdempotentRequestError":  # this form's key came back with other values
        return {None: [_l("This form was sent before with other values, and Zendesk may already have its ticket. "
                          "Reload the form to start another ticket.")]}
    errors = {}
    for key, problems in (error.details or {}).items():
        texts = [p.get("description", "") if isinstance(p, dict) else str(p) for p in problems or []]
        what = "; ".join(t for t in texts if t) or key
        field = REFUSED_FIELDS.get(key)
        if requester and key in ("name", "email"):
            field = "requester_" + key
        errors.setdefault(field, []).append(_l("Zendesk did not accept this: %(reason)s", reason=what))
    if not errors:
        errors[None] = [_l("Zendesk did not accept the ticket: %(reason)s", reason=error.message)]
    return errors


# ---- the CRM and the local copy, through the sync's writers ----------------------------------------
def _written(ctx, ticket, requester, agents):
    """Write the new ticket and its first comment to the CRM and the local tables now. A failure leaves
    the ticket in Zendesk (created, and answered as such) with a SyncError the dashboard's Retry and the
    next sync take up."""
    created = Created(ticket["id"], subject=ticket.get("subject") or "",
                      url=ticket_url(ctx.installation, ticket["id"]))
    users = [requester] + [a for a in agents or [] if a["id"] == ticket.get("assignee_id")]
    try:
        result = tickets.write_tickets(ctx, [ticket], sideloads={"users": users})
        if result.skipped:
            created.listed = False
            created.problem = _l("Zendesk has the ticket, but it is not listed here: this installation syncs "
                                 "only the tickets of the Zendesk organizations an administrator chose.")
        elif result.failed:
            created.listed = False
            created.problem = _l("Zendesk has the ticket, but Zoho CRM did not take it yet. The next sync "
                                 "tries again.")
        else:
            tickets.write_comments(ctx, [(ticket["id"], c) for c in ctx.zendesk.list_comments(ticket["id"])])
    except ServiceError as error:
        db.session.rollback()
        ctx.record_error(tickets.TICKETS, ticket["id"], notice(
            "Created from the CRM, but not written to it yet (%(reason)s). The next sync writes it.",
            reason=error.message))
        created.listed = db.session.scalar(db.select(Ticket.id).filter_by(
            installation_id=ctx.installation.id, zendesk_id=ticket["id"])) is not None
        created.problem = _l("Zendesk has the ticket, but writing it to Zoho CRM failed (%(reason)s). The next "
                             "sync writes it.", reason=error.message)
    return created
