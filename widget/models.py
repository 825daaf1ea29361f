"""Database models. Every table is keyed by installation."""
import secrets
from datetime import datetime, timezone

from .crypto import decrypt_json, encrypt_json
from .extensions import db

SCOPE_TYPES = ("admins", "all", "profiles")


def utcnow():
    return datetime.now(timezone.utc)


class Installation(db.Model):
    """One CRM org's installation of the extension."""

    id = db.Column(db.Integer, primary_key=True)
    org_id = db.Column(db.String(64), nullable=False, unique=True)
    org_name = db.Column(db.String(255), nullable=False, default="")
    data_center = db.Column(db.String(8), nullable=False)
    scope_type = db.Column(db.String(16), nullable=False, default="admins")
    scope_profiles = db.Column(db.JSON, nullable=False, default=list)
    status = db.Column(db.String(16), nullable=False, default="installed")  # installed | uninstalling
    # Shared with the CRM side, which signs widget contexts (HS256) with it (DESIGN §4).
    context_secret = db.Column(db.String(64), nullable=False, default=lambda: secrets.token_urlsafe(32))
    # Unguessable key in webhook URLs (/webhooks/zendesk/<key>), never the numeric id.
    installation_key = db.Column(db.String(48), nullable=False, unique=True,
                                 default=lambda: secrets.token_urlsafe(24))
    installer_id = db.Column(db.String(64), nullable=False, default="")
    installer_email = db.Column(db.String(255), nullable=False, default="")
    # Zendesk side: the subdomain the admin entered (F6) and the event webhook we registered.
    zendesk_subdomain = db.Column(db.String(63), nullable=True)
    zendesk_webhook_id = db.Column(db.String(64), nullable=True)
    zendesk_webhook_secret_ciphertext = db.Column(db.Text, nullable=True)
    # CRM side: the custom modules we created (F7) and the notification channel.
    crm_modules = db.Column(db.JSON, nullable=False, default=dict)  # {"tickets": api_name, "comments": api_name}
    crm_channel_id = db.Column(db.String(32), nullable=True)
    crm_channel_token = db.Column(db.String(64), nullable=True)
    crm_channel_expires_at = db.Column(db.DateTime(timezone=True), nullable=True)
    # Outside clean-up steps still to do while uninstalling, with the last failure in plain words.
    cleanup_pending = db.Column(db.JSON, nullable=False, default=list)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    @property
    def zendesk_webhook_secret(self):
        return decrypt_json(self.zendesk_webhook_secret_ciphertext) if self.zendesk_webhook_secret_ciphertext else None

    @zendesk_webhook_secret.setter
    def zendesk_webhook_secret(self, value):
        self.zendesk_webhook_secret_ciphertext = encrypt_json(value) if value else None

    def allows(self, user):
        """F4: is this CRM user (the widget context's `user` claim) inside the install scope?"""
        if user.get("is_admin"):
            return True
        if self.scope_type == "all":
            return True
        if self.scope_type == "profiles":
            return user.get("profile") in (self.scope_profiles or [])
        return False


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
