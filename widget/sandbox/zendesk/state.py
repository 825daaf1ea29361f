"""In-memory state of the Zendesk sandbox: accounts and their objects, and the primitives that change them.

Every change to a ticket, comment, user or organization goes through the functions here, so the HTTP
API, the agent UI and the seeder all bump `generated_timestamp`, keep the incremental-export order,
record ticket events and notify webhook listeners the same way.

Objects are stored as plain dicts shaped like the API's (without `url`, added on rendering).
"""
import bisect
import copy
import itertools
import secrets
import threading
import time
from collections import ChainMap
from dataclasses import dataclass, field

from ..clock import Clock
from . import field_tags

# Requests per minute by plan (https://developer.zendesk.com/api-reference/introduction/rate-limits).
# NB: Zendesk publishes no figure for trials; the sandbox gives a trial the Professional budget.
PLAN_RATE_LIMITS = {"trial": 400, "team": 200, "professional": 400, "enterprise": 700}
# Plans on which the account can no longer be used as a paid help desk (F2 refuses them).
UNPAID_PLANS = ("expired", "free")
PLANS = tuple(PLAN_RATE_LIMITS) + UNPAID_PLANS
INCREMENTAL_RATE_LIMIT = 10  # per minute (incremental_exports reference)

TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TICKET_PRIORITIES = ("urgent", "high", "normal", "low")
TICKET_TYPES = ("problem", "incident", "question", "task")
USER_ROLES = ("end-user", "agent", "admin")


class RecordInvalid(Exception):
    """A write the real API answers with 422 RecordInvalid; `details` is keyed by field name."""

    def __init__(self, details):
        super().__init__(details)
        self.details = details


def invalid(field_name, description, error="InvalidValue"):
    return RecordInvalid({field_name: [{"description": description, "error": error}]})


def iso(ts):
    """Unix seconds -> the API's `YYYY-MM-DDTHH:MM:SSZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class ExportIndex:
    """Objects ordered by (timestamp, id), as the incremental cursor exports walk them."""

    def __init__(self):
        self.keys = []  # sorted list of (timestamp, id)

    def put(self, old_key, new_key):
        if old_key is not None:
            pos = bisect.bisect_left(self.keys, old_key)
            if pos < len(self.keys) and self.keys[pos] == old_key:
                del self.keys[pos]
        bisect.insort(self.keys, new_key)

    def after(self, key, limit, until=None):
        """Up to `limit` keys strictly after `key` (and with timestamp < `until` when given)."""
        start = bisect.bisect_right(self.keys, key)
        out = []
        for k in itertools.islice(self.keys, start, None):
            if (until is not None and k[0] >= until) or len(out) >= limit:
                break
            out.append(k)
        return out


@dataclass
class OAuthClient:
    identifier: str
    secret: str
    name: str
    # Loopback redirect URIs are open (any port/path on 127.0.0.1 or localhost), as documented in the README.
    redirect_uris: list = field(default_factory=list)


@dataclass
class Grant:
    """An OAuth access/refresh token pair (rotated together on refresh)."""

    access_token: str
    refresh_token: str
    client_id: str
    user_id: int
    scope: str
    expires_at: float
    refresh_expires_at: float
    created_at: float


class Account:
    """One Zendesk account (a subdomain) with its users, organizations, tickets and settings."""

    def __init__(self, state, account_id, subdomain, plan="professional"):
        self.state = state
        self.id = account_id
        self.subdomain = subdomain
        self.plan = plan
        self.lock = threading.RLock()
        self.users, self.organizations, self.tickets = {}, {}, {}
        self.memberships = {}  # organization membership id -> membership (memberships.py)
        self.memberships_by_user = {}  # user id -> their memberships, oldest first
        self.deleted_tickets = {}  # soft-deleted: gone from the API, still in the ticket exports
        self.comments = {}  # ticket id -> [comment]
        self.ticket_events = []  # audits for /incremental/ticket_events, in time order
        self.webhooks, self.job_statuses = {}, {}
        self.idempotent_answers, self.idempotency_lock = {}, threading.Lock()  # Idempotency-Key -> kept answer
        self.ticket_fields, self.user_fields, self.organization_fields = [], [], []
        self.users_by_email, self.users_by_external_id = {}, {}
        self.orgs_by_external_id, self.orgs_by_name = {}, {}
        self.ticket_index, self.user_index = ExportIndex(), ExportIndex()
        self.org_index = ExportIndex()
        self.api_tokens = {}  # token -> True (API-token Basic auth: "{email}/token:{token}")
        self.passwords = {}  # user id -> password (sign-in page)
        self.grants = {}  # access token -> Grant
        self.refresh_tokens = {}  # refresh token -> access token
        self.codes = {}  # authorization code -> dict(client_id, user_id, redirect_uri, scope, expires_at)
        self._next_ticket_id = itertools.count(1)
        self._next_big_id = itertools.count(360_000_000_000 + account_id * 1_000_000_000)

    # ---- ids and time -------------------------------------------------------------------------
    def now(self):
        return self.state.clock.now()

    def big_id(self):
        """Users, organizations, comments and audits have large ids in real Zendesk."""
        return next(self._next_big_id)

    # ---- change notification ------------------------------------------------------------------
    def emit(self, event_type, subject_kind, obj, previous=None, current=None):
        """Tell every listener (webhook delivery) that an object changed."""
        for listener in list(self.state.listeners):
            listener(self, event_type, subject_kind, obj, previous, current)

    def _emit_changes(self, kind, obj, previous, event_names):
        """One event per changed field that has a real event type (fields without one emit nothing)."""
        for key, old in previous.items():
            if key in event_names and obj.get(key) != old:
                self.emit(f"zen:event-type:{kind}.{event_names[key]}", kind, obj, {key: old}, {key: obj.get(key)})

    # ---- organizations ------------------------------------------------------------------------
    def create_organization(self, fields, ts=None, notify=True):
        ts = self.now() if ts is None else ts
        with self.lock:
            name = (fields.get("name") or "").strip()
            if not name:
                raise invalid("name", "Name: cannot be blank", "BlankValue")
            if name.lower() in self.orgs_by_name:
                raise invalid("name", f"Name: {name} has already been taken", "DuplicateValue")
            external_id = fields.get("external_id")
            if external_id and str(external_id).lower() in self.orgs_by_external_id:
                raise invalid("external_id", "External: has already been taken", "DuplicateValue")
            org = {
                "id": self.big_id(), "name": name, "external_id": external_id,
                "domain_names": list(fields.get("domain_names") or []), "details": fields.get("details"),
                "notes": fields.get("notes"), "group_id": fields.get("group_id"),
                "shared_tickets": bool(fields.get("shared_tickets", False)),
                "shared_comments": bool(fields.get("shared_comments", False)),
                "tags": list(fields.get("tags") or []),
                "organization_fields": dict(fields.get("organization_fields") or {}),
                "created_at": iso(ts), "updated_at": iso(ts), "_ts": int(ts),
            }
            self.organizations[org["id"]] = org
            self.orgs_by_name[name.lower()] = org["id"]
            if external_id:
                self.orgs_by_external_id[str(external_id).lower()] = org["id"]
            self.org_index.put(None, (org["_ts"], org["id"]))
        if notify:
            self.emit("zen:event-type:organization.created", "organization", org)
        return org

    def update_organization(self, org, fields, ts=None):
        ts = self.now() if ts is None else ts
        with self.lock:
            previous = {k: copy.deepcopy(org.get(k)) for k in fields if k in org}
            name = fields.get("name")
            if name is not None:
                name = name.strip()
                if not name:
                    raise invalid("name", "Name: cannot be blank", "BlankValue")
                holder = self.orgs_by_name.get(name.lower())
                if holder is not None and holder != org["id"]:
                    raise invalid("name", f"Name: {name} has already been taken", "DuplicateValue")
            if "external_id" in fields and fields["external_id"]:
                holder = self.orgs_by_external_id.get(str(fields["external_id"]).lower())
                if holder is not None and holder != org["id"]:
                    raise invalid("external_id", "External: has already been taken", "DuplicateValue")
            if name is not None:
                self.orgs_by_name.pop(org["name"].lower(), None)
                org["name"] = name
                self.orgs_by_name[name.lower()] = org["id"]
            if "external_id" in fields:
                if org.get("external_id"):
                    self.orgs_by_external_id.pop(str(org["external_id"]).lower(), None)
                org["external_id"] = fields["external_id"]
                if fields["external_id"]:
                    self.orgs_by_external_id[str(fields["external_id"]).lower()] = org["id"]
            for key in ("domain_names", "details", "notes", "group_id", "shared_tickets", "shared_comments", "tags"):
                if key in fields:
                    org[key] = fields[key]
            if "organization_fields" in fields:
                org["organization_fields"].update(fields["organization_fields"] or {})
            old_key = (org["_ts"], org["id"])
            org["_ts"], org["updated_at"] = int(ts), iso(ts)
            self.org_index.put(old_key, (org["_ts"], org["id"]))
        self._emit_changes("organization", org, previous, _ORGANIZATION_CHANGE_EVENTS)
        return org

    # ---- users --------------------------------------------------------------------------------
    def create_user(self, fields, ts=None, notify=True):
        ts = self.now() if ts is None else ts
        with self.lock:
            name = (fields.get("name") or "").strip()
            if not name:
                raise invalid("name", "Name: cannot be blank", "BlankValue")
            email = (fields.get("email") or "").strip().lower() or None
            if email and email in self.users_by_email:
                raise invalid("email", f"Email: {email} is already being used by another user", "DuplicateValue")
            if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
                raise invalid("email", f"Email: {email} is not properly formatted", "InvalidFormat")
            external_id = fields.get("external_id")
            if external_id and str(external_id).lower() in self.users_by_external_id:
                raise invalid("external_id", "External: has already been taken", "DuplicateValue")
            role = fields.get("role") or "end-user"
            if role not in USER_ROLES:
                raise invalid("role", f"Role: {role} is not a valid role", "InvalidValue")
            org_id = fields.get("organization_id")
            if org_id is not None and org_id not in self.organizations:
                raise invalid("organization_id", "Organization: is invalid", "InvalidValue")
            user = {
                "id": self.big_id(), "name": name, "email": email, "role": role,
                "role_type": 4 if role == "admin" else None,
                "external_id": external_id, "organization_id": org_id,
                "phone": fields.get("phone"), "tags": list(fields.get("tags") or []),
                "user_fields": dict(fields.get("user_fields") or {}),
                "active": True, "verified": bool(fields.get("verified", False)), "suspended": False,
                "moderator": role != "end-user", "restricted_agent": role == "end-user",
                "only_private_comments": False,
                "ticket_restriction": "requested" if role == "end-user" else None,
                "locale": fields.get("locale", "en-US"), "locale_id": 1,
                "time_zone": fields.get("time_zone", "Tokyo"), "iana_time_zone": "Asia/Tokyo",
                "alias": fields.get("alias"), "details": fields.get("details"), "notes": fields.get("notes"),
                "signature": None, "shared": False, "shared_agent": False, "two_factor_auth_enabled": False,
                "default_group_id": None, "custom_role_id": None, "report_csv": role != "end-user",
                "photo": None, "last_login_at": None,
                "created_at": iso(ts), "updated_at": iso(ts), "_ts": int(ts),
            }
            self.users[user["id"]] = user
            if org_id is not None:
                memberships().set_user_organization(self, user, org_id)
            if email:
                self.users_by_email[email] = user["id"]
            if external_id:
                self.users_by_external_id[str(external_id).lower()] = user["id"]
            self.user_index.put(None, (user["_ts"], user["id"]))
        if notify:
            self.emit("zen:event-type:user.created", "user", user)
        return user

    def update_user(self, user, fields, ts=None):
        """Update a user. NB: as in Zendesk, an email on update adds an identity; here it replaces
        the primary one only when the user has none."""
        ts = self.now() if ts is None else ts
        with self.lock:
            previous = {k: copy.deepcopy(user.get(k)) for k in fields if k in user}
            if "name" in fields and not (fields["name"] or "").strip():
                raise invalid("name", "Name: cannot be blank", "BlankValue")
            if "role" in fields and fields["role"] not in USER_ROLES:
                raise invalid("role", f"Role: {fields['role']} is not a valid role", "InvalidValue")
            if fields.get("organization_id") is not None and fields["organization_id"] not in self.organizations:
                raise invalid("organization_id", "Organization: is invalid", "InvalidValue")
            if fields.get("external_id"):
                holder = self.users_by_external_id.get(str(fields["external_id"]).lower())
                if holder is not None and holder != user["id"]:
                    raise invalid("external_id", "External: has already been taken", "DuplicateValue")
            email = (fields.get("email") or "").strip().lower()
            if email and not user.get("email"):
                holder = self.users_by_email.get(email)
                if holder is not None and holder != user["id"]:
                    raise invalid("email", f"Email: {email} is already being used by another user", "DuplicateValue")
                user["email"] = email
                self.users_by_email[email] = user["id"]
            if "external_id" in fields:
                if user.get("external_id"):
                    self.users_by_external_id.pop(str(user["external_id"]).lower(), None)
                user["external_id"] = fields["external_id"]
                if fields["external_id"]:
                    self.users_by_external_id[str(fields["external_id"]).lower()] = user["id"]
            if "organization_id" in fields and fields["organization_id"] != user["organization_id"]:
                memberships().set_user_organization(self, user, fields["organization_id"])
            for key in ("name", "role", "phone", "tags", "alias", "details", "notes",
                        "locale", "time_zone", "verified", "suspended"):
                if key in fields:
                    user[key] = fields[key].strip() if key == "name" else fields[key]
            if "user_fields" in fields:
                user["user_fields"].update(fields["user_fields"] or {})
            old_key = (user["_ts"], user["id"])
            user["_ts"], user["updated_at"] = int(ts), iso(ts)
            self.user_index.put(old_key, (user["_ts"], user["id"]))
        self._emit_changes("user", user, previous, _USER_CHANGE_EVENTS)
        return user

    def find_user(self, email=None, external_id=None):
        if email and email.strip().lower() in self.users_by_email:
            return self.users[self.users_by_email[email.strip().lower()]]
        if external_id and str(external_id).lower() in self.users_by_external_id:
            return self.users[self.users_by_external_id[str(external_id).lower()]]
        return None

    # ---- tickets and comments -----------------------------------------------------------------
    def create_ticket(self, fields, comment, author_id, ts=None, via="api", notify=True):
        """Create a ticket with its first comment. `fields` are already-resolved ticket fields."""
        ts = self.now() if ts is None else ts
        with self.lock:
            requester_id = fields.get("requester_id")
            if requester_id not in self.users:
                raise invalid("requester", "Requester: is invalid", "InvalidValue")
            self._validate_ticket_fields(fields)
            ticket_id = next(self._next_ticket_id)
            organization_id = memberships().ticket_organization(
                self, requester_id, fields.get("organization_id", self.users[requester_id].get("organization_id")))
            custom_fields = [dict(f) for f in fields.get("custom_fields") or []]
            tags = field_tags.follow_fields(self.ticket_fields, {}, _values(custom_fields), fields.get("tags") or [])
            ticket = {
                "id": ticket_id, "external_id": fields.get("external_id"),
                "via": {"channel": via, "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": iso(ts), "updated_at": iso(ts), "generated_timestamp": int(ts),
                "type": fields.get("type"), "subject": fields.get("subject") or "",
                "raw_subject": fields.get("subject") or "", "description": comment["body"],
                "priority": fields.get("priority"), "status": fields.get("status") or "new",
                "recipient": None, "requester_id": requester_id, "submitter_id": author_id,
                "assignee_id": fields.get("assignee_id"), "organization_id": organization_id,
                "group_id": fields.get("group_id"), "collaborator_ids": [], "follower_ids": [],
                "email_cc_ids": [], "forum_topic_id": None, "problem_id": None, "has_incidents": False,
                "is_public": comment.get("public", True), "due_at": None,
                "tags": sorted(tags), "custom_fields": custom_fields,
                "satisfaction_rating": None, "sharing_agreement_ids": [], "followup_ids": [],
                "brand_id": None, "allow_channelback": False, "allow_attachments": True,
                "from_messaging_channel": False, "custom_status_id": None,
            }
            self.tickets[ticket_id] = ticket
            self.comments[ticket_id] = []
            created = [{"type": "Create", "field_name": k, "value": _event_value(ticket.get(k))}
                       for k in ("subject", "status", "priority", "type", "requester_id", "assignee_id") if ticket.get(k) is not None]
            new_comment = self._add_comment(ticket, comment, author_id, ts)
            self._touch_ticket(ticket, None, ts, author_id, "Create", created, new_comment)
        if notify:
            self.emit("zen:event-type:ticket.created", "ticket", ticket)
        return ticket, new_comment

    def update_ticket(self, ticket, fields, comment=None, author_id=None, ts=None):
        """Update fields and/or add a comment. Raises RecordInvalid for a closed ticket."""
        ts = self.now() if ts is None else ts
        with self.lock:
            if ticket["status"] == "closed":
                raise invalid("status", "Status: closed prevents ticket update", "InvalidValue")
            self._validate_ticket_fields(fields)
            if "requester_id" in fields and fields["requester_id"] not in self.users:
                raise invalid("requester", "Requester: is invalid", "InvalidValue")
            if fields.get("organization_id") is not None:
                memberships().ticket_organization(self, fields.get("requester_id", ticket["requester_id"]),
                                                  fields["organization_id"])
            fields, custom_fields = self._with_field_tags(ticket, fields)
            previous, changes = {}, []
            for key in ("subject", "status", "priority", "type", "assignee_id", "requester_id", "organization_id",
                        "group_id", "external_id", "tags", "due_at"):
                if key in fields and fields[key] != ticket.get(key):
                    previous[key] = ticket.get(key)
                    ticket[key] = sorted(set(fields[key] or [])) if key == "tags" else fields[key]
                    if key == "subject":
                        ticket["raw_subject"] = fields[key]
                    changes.append({"type": "Change", "field_name": key, "value": _event_value(ticket[key]),
                                    "previous_value": _event_value(previous[key])})
            ticket["custom_fields"] = custom_fields
            new_comment = self._add_comment(ticket, comment, author_id, ts) if comment else None
            self._touch_ticket(ticket, ticket["generated_timestamp"], ts, author_id, "Update", changes, new_comment)
        self._emit_changes("ticket", ticket, previous, _TICKET_CHANGE_EVENTS)
        if new_comment is not None:
            self.emit("zen:event-type:ticket.comment_added", "ticket", ticket, None, {"comment": new_comment})
        return ticket, new_comment

    def _with_field_tags(self, ticket, fields):
        """(fields with the tags the custom fields imply, the ticket's custom fields after the update).
        NB: custom_fields updates merge field by field (docs/outside-apis.md#zendesk-writes-and-search); tags follow the
        drop-down, multi-select and checkbox fields, and drop-down fields follow the tags (field_tags.py)."""
        by_id = {f["id"]: dict(f) for f in ticket["custom_fields"]}
        for f in fields.get("custom_fields") or []:
            by_id.setdefault(f["id"], {"id": f["id"]})["value"] = f.get("value")
        before, after = _values(ticket["custom_fields"]), _values(by_id.values())
        tags = set(fields["tags"] or []) if "tags" in fields else set(ticket["tags"])
        for field_id, value in field_tags.follow_tags(self.ticket_fields, after, ticket["tags"], tags).items():
            if field_id not in _values(fields.get("custom_fields") or []):
                by_id.setdefault(field_id, {"id": field_id})["value"] = after[field_id] = value
        tags = field_tags.follow_fields(self.ticket_fields, before, after, tags)
        if tags != set(ticket["tags"]):
            fields = {**fields, "tags": sorted(tags)}
        return fields, list(by_id.values())

    def delete_ticket(self, ticket_id, ts=None):
        """Soft-delete: the API answers 404 for it from now on; the ticket exports list it once more, with
        `status: "deleted"` (docs/outside-apis.md#zendesk-incremental-exports). NB: no webhook event is sent: the ticket
        event types for deletions are not published (docs/outside-apis.md#zendesk-open-points)."""
        ts = self.now() if ts is None else ts
        with self.lock:
            ticket = self.tickets.pop(ticket_id)
            ticket["status"] = "deleted"
            self._move_in_export(ticket, ticket["generated_timestamp"], ts)
            self.deleted_tickets[ticket_id] = ticket

    @property
    def exported_tickets(self):
        """What the ticket exports read: live tickets and soft-deleted ones."""
        return ChainMap(self.tickets, self.deleted_tickets)

    def _validate_ticket_fields(self, fields):
        for key, allowed in (("status", TICKET_STATUSES), ("priority", TICKET_PRIORITIES), ("type", TICKET_TYPES)):
            value = fields.get(key)
            if value is not None and value not in allowed:
                raise invalid(key, f"{key.capitalize()}: {value} is not valid", "InvalidValue")
        assignee = fields.get("assignee_id")
        if assignee is not None and (assignee not in self.users or self.users[assignee]["role"] == "end-user"):
            raise invalid("assignee", "Assignee: is not an agent", "InvalidValue")

    def _add_comment(self, ticket, comment, author_id, ts):
        body = (comment.get("body") or comment.get("html_body") or "").strip()
        if not body:
            raise invalid("comment", "Comment: cannot be blank", "BlankValue")
        if len(self.comments[ticket["id"]]) >= 5000:
            raise invalid("comment", "Comment: this ticket has reached the limit of 5000 comments", "InvalidValue")
        # NB: the comment's author may be another user than the caller (`author_id`); the caller stays the
        # updater (the audit's author). A comment sent without `public` takes the first comment's: "The
        # initial value set on ticket creation persists for any additional comment unless you change it"
        # (Zendesk's Ticket Comments reference); the ticket is public once any comment is.
        author = comment.get("author_id") or author_id or ticket["requester_id"]
        earlier = self.comments[ticket["id"]]
        public = bool(comment.get("public", earlier[0]["public"] if earlier else True))
        ticket["is_public"] = bool(ticket.get("is_public")) or public
        new_comment = {
            "id": self.big_id(), "type": "Comment", "author_id": author, "body": body,
            "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{_escape(body)}</p></div>',
            "plain_body": body, "public": public, "attachments": [],
            "audit_id": None, "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(ts),
            "metadata": {"system": {"client": "sandbox", "ip_address": "127.0.0.1"}, "custom": {}},
        }
        self.comments[ticket["id"]].append(new_comment)
        return new_comment

    def _move_in_export(self, ticket, old_ts, ts):
        """Bump the ticket's timestamps and its place in the export order (`old_ts` None: a new ticket)."""
        # NB: generated_timestamp must only move forward per ticket, or cursor exports would miss it.
        new_ts = max(int(ts), ticket["generated_timestamp"] if old_ts is not None else 0)
        old_key = (old_ts, ticket["id"]) if old_ts is not None else None
        ticket["generated_timestamp"], ticket["updated_at"] = new_ts, iso(ts)
        self.ticket_index.put(old_key, (new_ts, ticket["id"]))

    def _touch_ticket(self, ticket, old_ts, ts, author_id, event_type, child_events, new_comment):
        """Bump timestamps, keep the export order and record the audit for /incremental/ticket_events."""
        self._move_in_export(ticket, old_ts, ts)
        audit_id = self.big_id()
        if new_comment is not None:
            new_comment["audit_id"] = audit_id
            child_events = child_events + [{
                "id": new_comment["id"], "type": "Comment", "author_id": new_comment["author_id"],
                "body": new_comment["body"], "html_body": new_comment["html_body"],
                "public": new_comment["public"], "attachments": [], "audit_id": audit_id,
                "created_at": new_comment["created_at"], "event_type": "Comment",
            }]
        self.ticket_events.append({
            "id": audit_id, "ticket_id": ticket["id"], "timestamp": int(ts), "created_at": iso(ts),
            "updater_id": author_id or ticket["requester_id"], "via": "API",
            "event_type": event_type, "child_events": child_events, "system": {"client": "sandbox"},
        })


# Ticket field -> the zen:event-type:ticket.* name emitted when it changes (ticket-events docs).
_TICKET_CHANGE_EVENTS = {
    "status": "status_changed", "priority": "priority_changed", "assignee_id": "agent_assignment_changed",
    "subject": "subject_changed", "tags": "tags_changed", "type": "type_changed",
    "external_id": "external_id_changed", "requester_id": "requester_changed",
    "organization_id": "organization_changed", "group_id": "group_assignment_changed",
}


# User/organization field -> its zen:event-type name (webhooks user-events and organization-events
# docs, docs/outside-apis.md#zendesk-webhook-events). Real Zendesk has no generic "updated" event type.
_USER_CHANGE_EVENTS = {
    "name": "name_changed", "external_id": "external_id_changed", "role": "role_changed",
    "tags": "tags_changed", "alias": "alias_changed", "details": "details_changed", "notes": "notes_changed",
    "user_fields": "custom_field_changed",
}
_ORGANIZATION_CHANGE_EVENTS = {
    "name": "name_changed", "external_id": "external_id_changed", "tags": "tags_changed",
    "organization_fields": "custom_field_changed",
}


def memberships():
    """The organization memberships module (it imports this one)."""
    from . import memberships as module
    return module


def _values(custom_fields):
    return {f["id"]: f.get("value") for f in custom_fields}


def _event_value(value):
    """Audit event values are strings in real Zendesk ([ZENPY-CASS] ticket create audits)."""
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SandboxState:
    """The whole sandbox: several accounts at once, OAuth clients, the clock and runtime switches."""

    def __init__(self):
        self.clock = Clock()
        self.accounts = {}  # subdomain -> Account
        self.default_subdomain = None
        self.oauth_clients = {}  # identifier -> OAuthClient
        self.listeners = []  # callables(account, event_type, kind, obj, previous, current)
        self.rate_limits_enabled = True
        # Fault injection: added latency (s) and shares (0..1) of 500s, 429s and dropped connections.
        self.faults = {"latency": 0.0, "error_rate": 0.0, "rate_limit_rate": 0.0, "drop_rate": 0.0}
        self._next_account_id = itertools.count(18_525_119)

    def add_account(self, subdomain, plan="professional"):
        account = Account(self, next(self._next_account_id), subdomain, plan)
        self.accounts[subdomain] = account
        self.default_subdomain = self.default_subdomain or subdomain
        return account

    def account(self, subdomain=None):
        return self.accounts.get(subdomain or self.default_subdomain)

    def add_oauth_client(self, identifier, name):
        client = OAuthClient(identifier, secrets.token_hex(32), name)
        self.oauth_clients[identifier] = client
        return client
