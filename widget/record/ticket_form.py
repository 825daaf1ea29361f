"""The "New Zendesk Ticket" form (F19), its fields as the help page lists them: Requester Name and
Email, Assignee, Type, Priority, Tags, Status, Subject, Description. Each value is checked against what
Zendesk accepts, so a mistake is told next to its field before anything is sent.

The form also carries a random key of its own (`key`): every submit of one form shown is one ticket,
however often it arrives (widget/record/creation.py).
"""
import re
import secrets

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.fields.choices import SelectChoice

from ..labels import TICKET_PRIORITY_LABELS, TICKET_STATUS_LABELS, TICKET_TYPE_LABELS
from ..settings.forms import WidgetForm

# What Zendesk takes (its agent UI and API): a subject of at most 150 characters, a comment of at most
# 64 KB, names of 255 characters, an email address of 254.
SUBJECT_LENGTH = 150
DESCRIPTION_BYTES = 65535
NAME_LENGTH = 255
EMAIL_LENGTH = 254
# A tag is one word: letters (any script), digits and _ - / : with no spaces (a space or a comma
# separates tags); Zendesk keeps tags in lower case, and at most 255 characters each.
TAG = re.compile(r"^[\w/:-]+$")
TAG_LENGTH = 255
TAG_SEPARATORS = re.compile(r"[\s,、，]+")
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Statuses a new ticket may have (closed comes only after solved).
NEW_TICKET_STATUSES = ("new", "open", "pending", "hold", "solved")
TYPES = ("problem", "incident", "question", "task")
PRIORITIES = ("low", "normal", "high", "urgent")


def new_key():
    return secrets.token_urlsafe(24)


def split_tags(text):
    """Tags typed with spaces or commas between them, lower case, each once, in the order typed."""
    return list(dict.fromkeys(tag.lower() for tag in TAG_SEPARATORS.split(text or "") if tag))


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class NewTicketForm(WidgetForm):
    """Validated with `offer()` called first: the contacts the record offers and the agents to assign."""

    requester_contact = SelectField(_l("Contact"), validate_choice=False)
    requester_name = StringField(_l("Requester Name"), filters=[_stripped])
    requester_email = StringField(_l("Requester Email"), filters=[_stripped])
    assignee = SelectField(_l("Assignee"), validate_choice=False)
    ticket_type = SelectField(_l("Type"), validate_choice=False,
                              choices=[SelectChoice("", "-")] + [SelectChoice(v, TICKET_TYPE_LABELS[v]) for v in TYPES])
    priority = SelectField(_l("Priority"), validate_choice=False,
                           choices=[SelectChoice("", "-")] + [SelectChoice(v, TICKET_PRIORITY_LABELS[v])
                                                              for v in PRIORITIES])
    status = SelectField(_l("Status"), validate_choice=False, default="new",
                         choices=[SelectChoice(v, TICKET_STATUS_LABELS[v]) for v in NEW_TICKET_STATUSES])
    tags = StringField(_l("Tags"), filters=[_stripped])
    subject = StringField(_l("Subject"), filters=[_stripped])
    description = TextAreaField(_l("Description"), filters=[_stripped])
    key = HiddenField()

    def offer(self, people, agents, agents_problem=None):
        """The record's contacts (a `prefill.RecordPeople`) and Zendesk's agents (None: unreadable)."""
        self.people, self.agents, self.agents_problem = people, agents, agents_problem
        self.requester_contact.choices = [SelectChoice("", _l("Someone else (type below)"))] + [
            SelectChoice(c.id, f"{c.name} <{c.email}>" if c.email else c.name) for c in people.contacts]
        self.assignee.choices = [SelectChoice("", _l("Unassigned"))] + [
            SelectChoice(str(a["id"]), a["name"]) for a in agents or []]
        return self

    def token_is_valid(self):
        """The form's context-bound token alone (widget/settings/forms.py)."""
        try:
            self.csrf_token.pre_validate(self)
        except ValidationError:
            return False
        return True

    @property
    def chosen_contact(self):
        return self.people.contact(self.requester_contact.data) if self.requester_contact.data else None

    @property
    def tag_list(self):
        return split_tags(self.tags.data)

    # ---- one check a field, in our own words (WTForms' are not ours to translate) ------------------
    def validate_requester_contact(self, field):
        if field.data and self.chosen_contact is None:
            raise ValidationError(_l("Choose one of this record's contacts, or someone else."))
        contact = self.chosen_contact
        if contact is not None:  # without JavaScript, choosing a contact fills nothing in: take its own
            self.requester_name.data = self.requester_name.data or contact.name
            self.requester_email.data = self.requester_email.data or contact.email

    def validate_requester_name(self, field):
        if not field.data:
            raise ValidationError(_l("Enter the requester's name."))
        if len(field.data) > NAME_LENGTH:
            raise ValidationError(_l("A name has at most %(count)s characters.", count=NAME_LENGTH))

    def validate_requester_email(self, field):
        if not field.data:
            raise ValidationError(_l("Enter the requester's email address: Zendesk finds or adds the requester "
                                     "by it."))
        if len(field.data) > EMAIL_LENGTH or not EMAIL.match(field.data):
            raise ValidationError(_l("Enter an email address such as name@example.com."))

    def validate_assignee(self, field):
        if not field.data:
            return
        if self.agents is None:
            raise ValidationError(_l("Zendesk's agents could not be read, so no one can be assigned now. "
                                     "Choose “Unassigned” or try again in a moment."))
        if field.data not in {str(a["id"]) for a in self.agents}:
            raise ValidationError(_l("This person is not a Zendesk agent (any more). Choose another assignee."))

    def validate_ticket_type(self, field):
        if field.data and field.data not in TYPES:
            raise ValidationError(_l("Choose a type from the list."))

    def validate_priority(self, field):
        if field.data and field.data not in PRIORITIES:
            raise ValidationError(_l("Choose a priority from the list."))

    def validate_status(self, field):
        if field.data not in NEW_TICKET_STATUSES:
            raise ValidationError(_l("Choose a status from the list."))

    def validate_tags(self, field):
        wrong = [tag for tag in self.tag_list if not TAG.match(tag)]
        if wrong:
            raise ValidationError(_l("“%(tag)s” is not a tag Zendesk takes: use letters, digits and _ - / : only, "
                                     "with a space or a comma between tags.", tag=wrong[0]))
        long = [tag for tag in self.tag_list if len(tag) > TAG_LENGTH]
        if long:
            raise ValidationError(_l("A tag has at most %(count)s characters.", count=TAG_LENGTH))

    def validate_subject(self, field):
        if not field.data:
            raise ValidationError(_l("Enter a subject."))
        if len(field.data) > SUBJECT_LENGTH:
            raise ValidationError(_l("Zendesk takes a subject of at most %(count)s characters; this one has "
                                     "%(length)s.", count=SUBJECT_LENGTH, length=len(field.data)))

    def validate_description(self, field):
        if not field.data:
            raise ValidationError(_l("Describe the request: Zendesk needs a description for every ticket."))
        if len(field.data.encode()) > DESCRIPTION_BYTES:
            raise ValidationError(_l("The description is too long: Zendesk takes at most 64 KB (about 65,000 "
                                     "letters, or 21,000 in Japanese)."))

    def validate_key(self, field):
        if not KEY.match(field.data or ""):
            raise ValidationError(_l("This form is incomplete. Reload it and try again."))
