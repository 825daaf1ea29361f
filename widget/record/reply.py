"""A rep's reply to a ticket from the CRM: a public reply or an internal note, and/or a new status.

The comment is posted as the Zendesk agent whose email is the CRM user's (a user search by email; an
agent or admin, not suspended). A rep with no such agent posts through the authorizing admin (the
grant's user, Zendesk's author when none is given), the note's first line naming the rep. The local
copy is updated at once, so the thread and the list show the reply; the CRM's comments module gets it
through the sync like any other comment (Zendesk's webhook, then the real-time pass).
"""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from wtforms import RadioField, SelectField, TextAreaField, ValidationError
from wtforms.fields.choices import SelectChoice

from ..clients.http import (AuthenticationError, Conflict, InvalidRequest, NetworkError, NotFound, PermissionDenied,
                            RateLimited, RetryPolicy, ServiceError)
from ..connections import connection, zendesk_client
from ..extensions import db
from ..labels import TICKET_STATUS_LABELS
from ..models import Comment
from ..settings.forms import WidgetForm
from .thread import parse_time

MAX_LENGTH = 30000  # characters: the CRM keeps 32,000 of a comment's body, the "posted by" line included
# What a rep may set: "new" is gone once a ticket is worked on, and Zendesk closes solved tickets itself.
STATUSES = ("open", "pending", "hold", "solved")
STAFF_ROLES = ("agent", "admin")
# A write the rep waits for: a quick second try only where nothing can have been posted (send() knows).
REPLY_POLICY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=2.0, timeout=10.0)


class ReplyForm(WidgetForm):
    """The reply box: the text, public reply or internal note (internal by default), the status after."""

    body = TextAreaField(_l("Reply"))
    visibility = RadioField(_l("Send as"), choices=[SelectChoice("internal", _l("Internal note")),
                                                    SelectChoice("public", _l("Public reply"))],
                            default="internal", validate_choice=False)
    status = SelectField(_l("Status after sending"), default="", validate_choice=False)

    def __init__(self, *args, current_status=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_status = current_status
        unchanged = _l("Unchanged (%(status)s)", status=TICKET_STATUS_LABELS.get(current_status, current_status or ""))
        self.status.choices = [SelectChoice("", unchanged)] + [SelectChoice(s, TICKET_STATUS_LABELS[s])
                                                               for s in STATUSES if s != current_status]

    def validate_visibility(self, field):
        if field.data not in ("internal", "public"):
            raise ValidationError(_l("Choose a public reply or an internal note."))

    def validate_status(self, field):
        if field.data and field.data not in STATUSES:
            raise ValidationError(_l("Choose a status from the list."))

    def validate_body(self, field):
        text = self.text
        if len(text) > MAX_LENGTH:
            raise ValidationError(_l("A reply can have at most %(max)s characters; this one has %(count)s.",
                                     max=f"{MAX_LENGTH:,}", count=f"{len(text):,}"))
        if not text and not self.new_status:
            raise ValidationError(_l("Write a reply, or choose a new status."))

    @property
    def text(self):
        return (self.body.data or "").strip()

    @property
    def new_status(self):
        status = self.status.data or ""
        return status if status in STATUSES and status != self.current_status else None


class ReplyFailed(Exception):
    """Nothing was posted (or Zendesk did not say whether): `message` says which, in plain words."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def post_reply(installation, row, user, text, public, status):
    """Post the reply to ticket `row` (its local copy) and update the local copy; raises ReplyFailed."""
    grant = connection(installation, "zendesk")
    if grant is None or grant.status != "active":
        raise ReplyFailed(_("Zendesk is not authorized yet. A CRM administrator can authorize it in the "
                            "extension's settings."))
    client = zendesk_client(installation, grant, policy=REPLY_POLICY)
    try:
        agent = matching_agent(client, user.get("email"))
    except ServiceError as error:
        raise ReplyFailed(failure_message(error, sent=False)) from None
    comment = None
    if text:
        comment = {"body": text if agent else f"{posted_by(user)}\n\n{text}", "public": public}
        if agent:
            comment["author_id"] = agent["id"]
    try:
        ticket, added = client.comment_on_ticket(row.zendesk_id, comment, **({"status": status} if status else {}))
    except ServiceError as error:
        raise ReplyFailed(failure_message(error)) from None
    author = agent
    if added is not None and agent is None:
        try:  # the grant's user: one more read, for the name the thread shows
            author = next(iter(client.show_users([added.get("author_id")])), None)
        except ServiceError:
            author = None  # posted all the same; the sync brings the name
    save_locally(installation, row, ticket, added, (author or {}).get("name") or "")


def matching_agent(client, email):
    """The Zendesk agent or admin whose email is `email`, or None."""
    if not email:
        return None
    return next((user for user in client.search_users_by_email(email)
                 if user.get("role") in STAFF_ROLES and not user.get("suspended")), None)


def posted_by(user):
    return _("— posted by %(name)s from Zoho CRM", name=user.get("name") or user.get("email") or user.get("id"))


def save_locally(installation, row, ticket, added, author_name):
    """The reply and the new state in the local copy at once (the sync writes the same values later)."""
    row.status = ticket.get("status") or row.status
    row.subject = (ticket.get("subject") or row.subject)[:255]
    row.priority, row.type = ticket.get("priority"), ticket.get("type")
    row.tags = list(ticket.get("tags") or [])
    row.updated_at = parse_time(ticket.get("updated_at")) or row.updated_at
    if added is not None:
        comment = db.session.scalar(db.select(Comment).filter_by(installation_id=installation.id,
                                                                 zendesk_id=added["id"]))
        comment = comment or Comment(installation_id=installation.id, zendesk_id=added["id"])
        comment.ticket_zendesk_id, comment.author_id = row.zendesk_id, added.get("author_id")
        comment.author_name = comment.author_name or author_name[:255]
        comment.body = added.get("plain_body") or added.get("body") or ""
        comment.public = bool(added.get("public", True))
        comment.created_at = comment.created_at or parse_time(added.get("created_at"))
        db.session.add(comment)
    try:
        db.session.commit()
    except IntegrityError:  # the sync saved the same comment meanwhile: its row stands
        db.session.rollback()


def failure_message(error, sent=True):
    """Why the reply was not posted, in plain words; `sent` False: the update was never sent."""
    if isinstance(error, InvalidRequest):
        if "closed" in str((error.details or {}).get("status", "")):
            return _("This ticket is closed in Zendesk, and a closed ticket takes no replies or changes. "
                     "Nothing was posted.")
        return _("Zendesk refused the reply: %(reason)s. Nothing was posted.", reason=_reason(error))
    if isinstance(error, AuthenticationError):
        return _("Zendesk no longer accepts the extension's authorization, so nothing was posted. An "
                 "administrator can authorize Zendesk again in the extension's settings.")
    if isinstance(error, PermissionDenied):
        return _("Zendesk did not allow this: %(reason)s. Nothing was posted.", reason=_reason(error))
    if isinstance(error, NotFound):
        return _("Zendesk no longer has this ticket. Nothing was posted.")
    if isinstance(error, (RateLimited, Conflict)):
        return _("Zendesk is busy right now. Nothing was posted: try again in a minute.")
    if not sent or (isinstance(error, NetworkError) and not error.sent):
        return _("Zendesk could not be reached. Nothing was posted: try again in a moment.")
    return _("Zendesk did not confirm the reply in time. It may have been posted all the same: look at the "
             "thread in Zendesk before sending it again.")


def _reason(error):
    """Zendesk's own description of what it refused (its field messages when it gives them)."""
    texts = []
    for problems in (error.details or {}).values():
        for problem in problems if isinstance(problems, list) else [problems]:
            texts.append(problem.get("description", "") if isinstance(problem, dict) else str(problem))
    return "; ".join(t for t in texts if t) or error.message
