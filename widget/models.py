"""Database models. Every table is keyed by installation."""
import secrets
from datetime import datetime, timezone

from .crypto import decrypt_json, decrypt_json_kept, encrypt_json
from .extensions import db
from .notices import stored

SCOPE_TYPES = ("admins", "all", "profiles")


def utcnow():
    return datetime.now(timezone.utc)


def new_context_secret():
    return secrets.token_urlsafe(32)


def as_utc(moment):
    """A stored time, time zone attached: SQLite hands datetimes back naive, and every one we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Installation(db.Model):
    """One CRM org's installation of the extension."""

    id = db.Column(db.Integer, primary_key=True)
    org_id = db.Column(db.String(64), nullable=False, unique=True)
    org_name = db.Column(db.String(255), nullable=False, default="")
    data_center = db.Column(db.String(8), nullable=False)
    scope_type = db.Column(db.String(16), nullable=False, default="admins")
    scope_profiles = db.Column(db.JSON, nullable=False, default=list)
    status = db.Column(db.String(16), nullable=False, default="installed")  # installed | uninstalling
    # Shared with the CRM side, which signs widget contexts (HS256) with it (docs/architecture.md#widget-context);
    # encrypted at rest like the OAuth tokens, so a copy of the database alone can't sign a context.
    context_secret_ciphertext = db.Column(db.Text, nullable=False, default=lambda: encrypt_json(new_context_secret()))
    # Unguessable key in webhook URLs (/webhooks/zendesk/<key>), never the numeric id.
    installation_key = db.Column(db.String(48), nullable=False, unique=True,
                                 default=lambda: secrets.token_urlsafe(24))
    installer_id = db.Column(db.String(64), nullable=False, default="")
    installer_email = db.Column(db.String(255), nullable=False, default="")
    # Zendesk side: the subdomain the admin entered (F6) and the event webhook we registered.
    zendesk_subdomain = db.Column(db.String(63), nullable=True)
    zendesk_webhook_id = db.Column(db.String(64), nullable=True)
    zendesk_webhook_secret_ciphertext = db.Column(db.Text, nullable=True)
    # Our agent sidebar app installed in that Zendesk account (widget/agent/): its app installation id, and
    # the app's public key that verifies the framework's signed first requests (PEM, public: not encrypted).
    zendesk_app_installation_id = db.Column(db.String(32), nullable=True, index=True)
    zendesk_app_public_key = db.Column(db.Text, nullable=True)
    # CRM side: the custom modules we created (F7) and the notification channel.
    crm_modules = db.Column(db.JSON, nullable=False, default=dict)  # {"tickets": api_name, "comments": api_name}
    # The CRM edition (`org.license_details.paid_type`): it sets how many API calls may be in flight.
    crm_edition = db.Column(db.String(32), nullable=True)
    crm_channel_id = db.Column(db.String(32), nullable=True)
    crm_channel_token = db.Column(db.String(64), nullable=True)
    crm_channel_expires_at = db.Column(db.DateTime(timezone=True), nullable=True)
    # Outside clean-up steps still to do while uninstalling, with the last failure in plain words.
    cleanup_pending = db.Column(db.JSON, nullable=False, default=list)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    @property
    def context_secret(self):
        return decrypt_json_kept(self.context_secret_ciphertext)

    @context_secret.setter
    def context_secret(self, value):
        self.context_secret_ciphertext = encrypt_json(value)

    @property
    def zendesk_webhook_secret(self):
        return decrypt_json(self.zendesk_webhook_secret_ciphertext) if self.zendesk_webhook_secret_ciphertext else None

    @zendesk_webhook_secret.setter
    def zendesk_webhook_secret(self, value):
        self.zendesk_webhook_secret_ciphertext = encrypt_json(value) if value else None

    def allows(self, user):
        """F4: is this CRM user (the widget context's `user` claim) inside the install scope?"""
        return in_scope(self.scope_type, self.scope_profiles, user)


def in_scope(scope_type, scope_profiles, user):
    """F4: is the CRM `user` (a widget context's `user` claim) inside an install scope?"""
    if user.get("is_admin") or scope_type == "all":
        return True
    return scope_type == "profiles" and user.get("profile") in (scope_profiles or [])


class Connection(db.Model):
    """An OAuth grant to an outside service (`zendesk` or `crm`), its tokens encrypted at rest."""

    __table_args__ = (db.UniqueConstraint("installation_id", "service"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = db.Column(db.Integer, db.ForeignKey("installation.id", ondelete="CASCADE"), nullable=False)
    service = db.Column(db.String(16), nullable=False)
    # Where the grant lives: the Zendesk subdomain, or the CRM accounts server / API domain.
    account = db.Column(db.String(255), nullable=False, default="")
    api_base = db.Column(db.String(255), nullable=False, default="")
    status = db.Column(db.String(16), nullable=False, default="active")  # active | revoked
    token_ciphertext = db.Column(db.Text, nullable=False)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    # The settings panel's last live check that the grant works, and the Zendesk plan it found: a short
    # cache shared by every worker (widget/settings/status.py, live_status).
    checked_at = db.Column(db.DateTime(timezone=True), nullable=True)
    plan = db.Column(db.String(64), nullable=False, default="")

    installation = db.relationship(Installation, backref=db.backref("connections", cascade="all, delete-orphan",
                                                                    passive_deletes=True))

    @property
    def token(self):
        """The OAuth token dict (access_token, refresh_token, expires_at, ...)."""
        return decrypt_json(self.token_ciphertext)

    @token.setter
    def token(self, value):
        self.token_ciphertext = encrypt_json(value)

    def __repr__(self):  # never show tokens in logs or tracebacks
        return f"<Connection {self.service} installation={self.installation_id} status={self.status}>"


def _installation_fk():
    return db.Column(db.Integer, db.ForeignKey("installation.id", ondelete="CASCADE"), nullable=False, index=True)


class SyncSettings(db.Model):
    """What syncs (F8–F12) and whether the one bulk sync has run (F14)."""

    installation_id = db.Column(db.Integer, db.ForeignKey("installation.id", ondelete="CASCADE"), primary_key=True)
    mode = db.Column(db.String(16), nullable=False, default="bulk")  # bulk | selective
    auto_sync = db.Column(db.Boolean, nullable=False, default=True)
    modules = db.Column(db.JSON, nullable=False, default=lambda: ["Accounts", "Contacts", "Leads"])
    selected_organizations = db.Column(db.JSON, nullable=False, default=list)  # Zendesk organization ids
    bulk_done_at = db.Column(db.DateTime(timezone=True), nullable=True)
    first_sync_done_at = db.Column(db.DateTime(timezone=True), nullable=True)
    paused_reason = db.Column(db.String(255), nullable=True)  # revoked grant, credits exhausted, ...
    paused_notice = db.Column(db.JSON, nullable=True)  # the reason's message id and values (notices.py)
    paused_until = db.Column(db.DateTime(timezone=True), nullable=True)  # credits: resume after this
    crm_credits_remaining = db.Column(db.Integer, nullable=True)  # daily CRM API credits left, as last told
    zendesk_rate_limit = db.Column(db.Integer, nullable=True)  # the Zendesk plan's requests a minute, as last told
    zendesk_rate_remaining = db.Column(db.Integer, nullable=True)  # left in that minute
    zendesk_rate_seen_at = db.Column(db.DateTime(timezone=True), nullable=True)

    def pause(self, reason, until=None):
        """Stop syncing with `reason` for the admin (a notice, shown translated); `until` None: until lifted."""
        self.paused_reason, self.paused_notice = stored(reason, limit=255)
        self.paused_until = until

    def unpause(self):
        self.paused_reason = self.paused_notice = self.paused_until = None


class FieldMapping(db.Model):
    """One CRM field ↔ Zendesk field pair of a module (F11), with its direction and picklist value map."""

    __table_args__ = (db.UniqueConstraint("installation_id", "module", "crm_field"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    module = db.Column(db.String(32), nullable=False)  # Accounts | Contacts | Leads
    crm_field = db.Column(db.String(100), nullable=False)
    zendesk_field = db.Column(db.String(100), nullable=False)
    direction = db.Column(db.String(16), nullable=False, default="both")  # both | to_zendesk | to_crm
    value_map = db.Column(db.JSON, nullable=False, default=dict)  # CRM value -> Zendesk value
    standard = db.Column(db.Boolean, nullable=False, default=False)


class WizardDraft(db.Model):
    """What an admin entered in a wizard step and left unsaved (Back, another module's tab), shown again
    when they return to the step (settings/drafts.py)."""

    __table_args__ = (db.UniqueConstraint("installation_id", "user_id", "step"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    user_id = db.Column(db.String(64), nullable=False)  # the CRM user of the widget context
    step = db.Column(db.String(64), nullable=False)  # sync | organizations | mapping:<module>
    fields = db.Column(db.JSON, nullable=False)  # the form as sent: [[name, value], ...]
    saved_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class Link(db.Model):
    """A Zendesk object and the CRM record it is synced with, and the hash of what we last wrote
    (an incoming change with that hash is our own echo)."""

    __table_args__ = (db.UniqueConstraint("installation_id", "kind", "zendesk_id"),
                      db.Index("ix_link_crm", "installation_id", "crm_module", "crm_id"),
                      db.Index("ix_link_email", "installation_id", "email"))

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    kind = db.Column(db.String(16), nullable=False)  # user | organization | ticket | comment
    zendesk_id = db.Column(db.BigInteger, nullable=False)
    crm_module = db.Column(db.String(64), nullable=False)
    crm_id = db.Column(db.String(32), nullable=False)
    last_hash = db.Column(db.String(64), nullable=True)
    # People: the email the pair shares (lower case), so a Lead never takes a Contact's Zendesk user.
    email = db.Column(db.String(320), nullable=True)
    synced_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


# The columns that tie a ticket to CRM records: its lookups, and its requester's and organization's Links.
RECORD_COLUMNS = (("contact", "crm_contact_id"), ("lead", "crm_lead_id"), ("account", "crm_account_id"),
                  ("deal", "crm_deal_id"), ("requester", "requester_id"), ("organization", "organization_id"))


class Ticket(db.Model):
    """Local copy of a synced Zendesk ticket's listed fields and CRM links (the record widget reads it)."""

    # A record's tickets (record/listing.py): those whose lookup names it, and those of its Zendesk user or
    # organization, each found in an index of its own (README "Benchmarks").
    __table_args__ = (db.UniqueConstraint("installation_id", "zendesk_id"),
                      *(db.Index(f"ix_ticket_{name}", "installation_id", column) for name, column in RECORD_COLUMNS))

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    zendesk_id = db.Column(db.BigInteger, nullable=False)
    subject = db.Column(db.String(255), nullable=False, default="")
    status = db.Column(db.String(16), nullable=False, default="new")
    priority = db.Column(db.String(16), nullable=True)
    type = db.Column(db.String(16), nullable=True)
    tags = db.Column(db.JSON, nullable=False, default=list)
    requester_id = db.Column(db.BigInteger, nullable=True)
    requester_name = db.Column(db.String(255), nullable=False, default="")
    requester_email = db.Column(db.String(255), nullable=False, default="")
    assignee_id = db.Column(db.BigInteger, nullable=True)
    assignee_name = db.Column(db.String(255), nullable=False, default="")
    organization_id = db.Column(db.BigInteger, nullable=True)
    organization_name = db.Column(db.String(255), nullable=False, default="")
    created_at = db.Column(db.DateTime(timezone=True), nullable=True)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=True)
    crm_record_id = db.Column(db.String(32), nullable=True)
    crm_contact_id = db.Column(db.String(32), nullable=True)
    crm_lead_id = db.Column(db.String(32), nullable=True)
    crm_account_id = db.Column(db.String(32), nullable=True)
    crm_deal_id = db.Column(db.String(32), nullable=True)


class DealAccount(db.Model):
    """A CRM Deal's Account, as the CRM last told us (widget/record/deals.py): a Deal page's ticket list
    shows its Account's tickets too, read from the local copy, with no CRM call each time it lists."""

    __table_args__ = (db.UniqueConstraint("installation_id", "deal_id"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    deal_id = db.Column(db.String(32), nullable=False)
    account_id = db.Column(db.String(32), nullable=True)  # None: the Deal has no Account (or was never read)
    read_at = db.Column(db.DateTime(timezone=True), nullable=True)  # last successful read; None: never read
    refresh_after = db.Column(db.DateTime(timezone=True), nullable=False)



class LocalCopyVersion(db.Model):
    """How many times an installation's local copy of what its related lists show has changed
    (widget/local_copy.py): rendered lists are reused while it stays the same."""

    installation_id = db.Column(db.Integer, db.ForeignKey("installation.id", ondelete="CASCADE"), primary_key=True)
    version = db.Column(db.BigInteger, nullable=False, default=1)


class NewTicketRequest(db.Model):
    """One "New Zendesk Ticket" form's key, claimed before its ticket is created: a double click, a
    retried request or two submits racing meet the same row (unique per installation), and every
    repeat answers the ticket the first one created (widget/record/creation.py)."""

    __table_args__ = (db.UniqueConstraint("installation_id", "key"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    key = db.Column(db.String(64), nullable=False)
    entity = db.Column(db.String(16), nullable=False)
    record_id = db.Column(db.String(32), nullable=False)
    zendesk_ticket_id = db.Column(db.BigInteger, nullable=True)  # None while the first request is creating it
    claimed_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class Comment(db.Model):
    """Local copy of a synced ticket comment."""

    __table_args__ = (db.UniqueConstraint("installation_id", "zendesk_id"),
                      db.Index("ix_comment_ticket", "installation_id", "ticket_zendesk_id"))

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    zendesk_id = db.Column(db.BigInteger, nullable=False)
    ticket_zendesk_id = db.Column(db.BigInteger, nullable=False)
    author_id = db.Column(db.BigInteger, nullable=True)
    author_name = db.Column(db.String(255), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")
    public = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=True)
    crm_record_id = db.Column(db.String(32), nullable=True)


class Cursor(db.Model):
    """Where a stream resumes. Only moves forward, and only after the page it covers is written."""

    __table_args__ = (db.UniqueConstraint("installation_id", "stream"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    stream = db.Column(db.String(32), nullable=False)
    value = db.Column(db.String(255), nullable=False)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class SyncRun(db.Model):
    """One sync run (first, catch-up or real time) and its progress counts per stream."""

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    kind = db.Column(db.String(16), nullable=False)  # first | catchup | backfill | reapply | realtime
    mode = db.Column(db.String(16), nullable=True)  # bulk | selective (first syncs)
    status = db.Column(db.String(16), nullable=False, default="queued")  # queued | running | done | failed | paused
    counts = db.Column(db.JSON, nullable=False, default=dict)  # {stream: {"read": n, "written": n, "errors": n}}
    message = db.Column(db.String(500), nullable=True)
    message_notice = db.Column(db.JSON, nullable=True)  # its message id and values, shown translated (notices.py)
    started_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime(timezone=True), nullable=True)
    # The job working on the run ("host:pid:thread") and its last sign of life: a run whose heartbeat
    # lapsed lost its worker (killed, host gone) and is taken over from its committed cursors (runs.py).
    holder = db.Column(db.String(128), nullable=True)
    heartbeat_at = db.Column(db.DateTime(timezone=True), nullable=True, default=utcnow)
    organizations = db.Column(db.JSON, nullable=True)  # a backfill's Zendesk organizations (runs.start_backfill)
    streams = db.Column(db.JSON, nullable=True)  # a re-apply's streams (runs.start_reapply); else all selected


class SyncError(db.Model):
    """A record that failed to sync, with the outside service's message; retried, never blocking the rest."""

    __table_args__ = (db.UniqueConstraint("installation_id", "stream", "object_id"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    stream = db.Column(db.String(32), nullable=False)
    object_id = db.Column(db.String(64), nullable=False)
    message = db.Column(db.String(1000), nullable=False)
    message_notice = db.Column(db.JSON, nullable=True)  # its message id and values, shown translated (notices.py)
    attempts = db.Column(db.Integer, nullable=False, default=1)
    retryable = db.Column(db.Boolean, nullable=False, default=True)
    # When another record stands in the way (e.g. a Zendesk organization with the account's name that
    # another CRM account holds): that Zendesk object and that other CRM record of the stream's module.
    zendesk_id = db.Column(db.BigInteger, nullable=True)
    other_crm_id = db.Column(db.String(64), nullable=True)
    # A comment whose ticket is not in the CRM yet waits for it: the ticket's Zendesk id. Written with
    # its ticket, it is tried again (sync/tickets.py).
    waiting_for_ticket = db.Column(db.BigInteger, nullable=True)
    first_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class InboxEvent(db.Model):
    """A webhook delivery or CRM notification, stored before it is acknowledged; deduplicated by delivery id."""

    __table_args__ = (db.UniqueConstraint("installation_id", "source", "delivery_id"),
                      db.Index("ix_inbox_pending", "installation_id", "status"))

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    source = db.Column(db.String(16), nullable=False)  # zendesk | crm
    delivery_id = db.Column(db.String(128), nullable=False)
    object_kind = db.Column(db.String(32), nullable=True)
    object_id = db.Column(db.String(64), nullable=True)
    payload = db.Column(db.JSON, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="new")  # new | done | failed
    received_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    processed_at = db.Column(db.DateTime(timezone=True), nullable=True)


class StreamLease(db.Model):
    """At most one job per installation and stream at a time, across every worker and host."""

    __table_args__ = (db.UniqueConstraint("installation_id", "stream"),)

    id = db.Column(db.Integer, primary_key=True)
    installation_id = _installation_fk()
    stream = db.Column(db.String(32), nullable=False)
    holder = db.Column(db.String(128), nullable=False)
    expires_at = db.Column(db.DateTime(timezone=True), nullable=False)


class UsedSignature(db.Model):
    """A signed marketplace call we accepted, kept while its signature could still be accepted: the same
    signature again is a replay (widget/lifecycle/replay.py). The unique constraint makes every worker
    and host agree, even on two copies arriving at once."""

    id = db.Column(db.Integer, primary_key=True)
    signature = db.Column(db.String(80), nullable=False, unique=True)
    expires_at = db.Column(db.DateTime(timezone=True), nullable=False, index=True)
