"""What an installation creates outside once a CRM grant is stored (F7; docs/architecture.md#real-time,
docs/architecture.md#uninstall); uninstall.py removes it all again.

`on_crm_connected(installation)` runs once a CRM grant is stored (and at re-install when one exists):
it creates the custom modules "Zendesk Tickets" and "Zendesk Ticket Comments" with the fields the sync
writes, and enables the CRM notification channel. It is idempotent: it looks everything up first and
only adds what is missing, so a retry after any failure finishes the job.
"""
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _

from ..clients.http import AuthenticationError, NetworkError, PermissionDenied, RateLimited, ServerError, ServiceError
from ..connections import connection, crm_client, mark_revoked
from ..extensions import db
from ..models import utcnow
from ..urls import external_root

# Failures that pass by themselves (network, 5xx, rate limit): the step is tried again later.
PASSING = (NetworkError, ServerError, RateLimited)

# ---- the custom modules (F7) ---------------------------------------------------------------------


def _text(label, api_name, length=255, unique=False):
    spec = {"field_label": label, "api_name": api_name, "data_type": "text", "length": length}
    if unique:
        spec["unique"] = True
    return spec


def _picklist(label, api_name, values):
    # Zendesk's own values, capitalised for CRM users ("hold" → "Hold"); the sync maps them both ways.
    return {"field_label": label, "api_name": api_name, "data_type": "picklist",
            "pick_list_values": [{"display_value": v.capitalize(), "actual_value": v.capitalize()} for v in values]}


def _typed(label, api_name, data_type):
    return {"field_label": label, "api_name": api_name, "data_type": data_type}


def _lookup(label, api_name, module):
    return {"field_label": label, "api_name": api_name, "data_type": "lookup", "lookup": {"module": {"api_name": module}}}


@dataclass(frozen=True)
class ModuleSpec:
    key: str  # our name for it in Installation.crm_modules
    singular: str
    plural: str
    api_name: str
    display_label: str  # the label of its `Name` display field
    fields: tuple = field(default_factory=tuple)  # settings/fields bodies; "{tickets}" = the tickets module


TICKETS = ModuleSpec("tickets", "Zendesk Ticket", "Zendesk Tickets", "Zendesk_Tickets", "Subject", (
    # The upsert duplicate-check field (docs/architecture.md#what-maps-to-what): a replay never duplicates a ticket.
    _text("Ticket ID", "Ticket_ID", length=20, unique=True),
    _picklist("Status", "Status", ("new", "open", "pending", "hold", "solved", "closed")),
    _picklist("Priority", "Priority", ("low", "normal", "high", "urgent")),
    _picklist("Type", "Type", ("problem", "incident", "question", "task")),
    _typed("Tags", "Tags", "textarea"),
    _text("Requester Name", "Requester_Name"),
    _typed("Requester Email", "Requester_Email", "email"),
    _text("Assignee", "Assignee"),
    _text("Organization", "Organization"),
    _typed("Zendesk Link", "Zendesk_Link", "website"),
    # NB: "Created Time"/"Modified Time" are the CRM's own audit fields; these are Zendesk's times.
    _typed("Zendesk Created Time", "Zendesk_Created_Time", "datetime"),
    _typed("Zendesk Updated Time", "Zendesk_Updated_Time", "datetime"),
    # Each lookup gives the target module a "Zendesk Tickets" related list (F22): the CRM makes a
    # lookup-based related list by itself (docs/outside-apis.md#crm-related-records), so none is created separately.
    _lookup("Contact", "Contact", "Contacts"),
    _lookup("Lead", "Lead", "Leads"),
    _lookup("Account", "Account", "Accounts"),
    _lookup("Deal", "Deal", "Deals"),
))
COMMENTS = ModuleSpec("comments", "Zendesk Ticket Comment", "Zendesk Ticket Comments", "Zendesk_Ticket_Comments",
                      "Summary", (
    _text("Comment ID", "Comment_ID", length=20, unique=True),
    _lookup("Zendesk Ticket", "Zendesk_Ticket", "{tickets}"),
    _text("Author", "Author"),
    _typed("Body", "Body", "textarea"),
    _typed("Public", "Public", "boolean"),
    _typed("Zendesk Created Time", "Zendesk_Created_Time", "datetime"),
))
MODULE_SPECS = (TICKETS, COMMENTS)  # tickets first: comments look them up

# ---- the notification channel (docs/architecture.md#real-time) -------------------------------------------------------
WATCHED_MODULES = ("Contacts", "Leads", "Accounts")
WATCH_EVENTS = tuple(f"{module}.{operation}" for module in WATCHED_MODULES for operation in ("create", "edit", "delete"))
# NB: at most one week; a longer (or missing) expiry silently becomes one hour (docs/outside-apis.md#crm-notifications).
# An hour less than a week, so a clock a little ahead of the CRM's still asks for a valid expiry.
CHANNEL_LIFETIME = timedelta(days=7) - timedelta(hours=1)


class ProvisioningError(Exception):
    """Setting up the CRM side failed; `message` says why in plain words, for the settings page."""

    def __init__(self, message, step):
        super().__init__(message)
        self.message, self.step = message, step


def crm_notify_url(installation):
    """Where the CRM posts change notifications: `<extension base>/webhooks/crm/<installation_key>`.
    The base is `EXTENSION_URL` (in development only, without it, this request's root: widget/urls.py)."""
    base = external_root()
    if not base:
        raise ProvisioningError(_("The extension's public URL is not configured (EXTENSION_URL)."), "crm_channel")
    return f"{base.rstrip('/')}/webhooks/crm/{installation.installation_key}"


def on_crm_connected(installation, client=None):
    """Create the custom modules (if missing) and enable the notification channel. Idempotent."""
    if installation.status != "installed":  # uninstalling: nothing new is created
        raise ProvisioningError(_("Zendesk for Zoho CRM is being uninstalled from this CRM account."), "crm_modules")
    grant = connection(installation, "crm")
    if grant is None or grant.status != "active":
        raise ProvisioningError(_("Zoho CRM is not authorized. Authorize Zoho CRM first."), "crm_modules")
    client = client or crm_client(installation, grant)
    try:
        _ensure_modules(installation, client)
        _enable_channel(installation, client)
    except ServiceError as error:
        db.session.rollback()
        if isinstance(error, AuthenticationError):
            mark_revoked(grant)
        raise ProvisioningError(_crm_failure(error), getattr(error, "step", "crm_modules")) from error


def _ensure_modules(installation, client):
    found = {}
    for spec in MODULE_SPECS:
        api_name = _existing_module(client.list_modules(), spec)
        if api_name is None:
            api_name = _create_module(client, spec, found)
        _add_missing_fields(client, spec, api_name, found)
        found[spec.key] = api_name
        # Saved at once, so an uninstall after a half-finished run still knows what to delete.
        installation.crm_modules = {**(installation.crm_modules or {}), spec.key: api_name}
        db.session.commit()


def _existing_module(modules, spec):
    """Our module's API name if it exists. NB: an extension's modules carry its namespace
    (`zendesk__Zendesk_Tickets`, docs/outside-apis.md#crm-metadata-and-custom-modules), so compare without it."""
    for module in modules:
        if module.get("generated_type") != "custom":
            continue
        if module["api_name"].split("__")[-1] == spec.api_name or module.get("plural_label") == spec.plural:
            return module["api_name"]
    return None


def _field_bodies(spec, found):
    bodies = []
    for body in spec.fields:
        body = dict(body)
        if "lookup" in body:
            target = body["lookup"]["module"]["api_name"]
            body["lookup"] = {"module": {"api_name": target.format(**found)}}
        bodies.append(body)
    return bodies


def _create_module(client, spec, found):
    # Every profile in use sees the tab: the sandbox (like the v8 notes) offers no profile list, so
    # the users' profiles stand for it; scope is enforced by our widgets anyway (F4).
    profiles = sorted({user["profile"]["id"] for user in client.list_users() if user.get("profile")})
    try:
        return client.create_custom_module(spec.singular, spec.plural, profiles, api_name=spec.api_name,
                                           fields=_field_bodies(spec, found),
                                           display_label=spec.display_label)["api_name"]
    except ServiceError as error:
        error.step, error.module = "crm_modules", spec.plural
        raise


def _add_missing_fields(client, spec, api_name, found):
    present = {f["api_name"].split("__")[-1] for f in client.list_fields(api_name)}
    missing = [body for body in _field_bodies(spec, found) if body["api_name"] not in present]
    if not missing:
        return
    failed = [result for result in client.create_fields(api_name, missing) if not result.ok]
    if failed:
        raise ProvisioningError(_("Zoho CRM refused to add fields to the module “%(module)s”: %(reason)s",
                                  module=spec.plural, reason=failed[0].message or failed[0].code), "crm_modules")


def _enable_channel(installation, client):
    # The id and token are saved before the call: if the answer is lost, a retry reuses them and
    # replaces the same channel instead of leaving an unknown one behind.
    if not installation.crm_channel_id:
        installation.crm_channel_id = str(10 ** 15 + secrets.randbelow(9 * 10 ** 15))
    if not installation.crm_channel_token:
        # 43 characters; at most 50 (docs/outside-apis.md#crm-notifications)
        installation.crm_channel_token = secrets.token_urlsafe(32)
    db.session.commit()
    wanted = (utcnow() + CHANNEL_LIFETIME).replace(microsecond=0)
    try:
        details = client.enable_watch(installation.crm_channel_id, WATCH_EVENTS, crm_notify_url(installation),
                                      token=installation.crm_channel_token, channel_expiry=wanted.isoformat())
    except ServiceError as error:
        error.step = "crm_channel"
        raise
    # In UTC: the answer carries the org's offset, and SQLite keeps no time zone.
    expiries = [datetime.fromisoformat(e["channel_expiry"]).astimezone(timezone.utc)
                for e in details.get("events", []) if e.get("channel_expiry")]
    installation.crm_channel_expires_at = min(expiries) if expiries else wanted
    db.session.commit()


def _crm_failure(error):
    if isinstance(error, AuthenticationError):
        return _("Zoho CRM no longer accepts the authorization. Authorize Zoho CRM again.")
    if isinstance(error, PermissionDenied):
        return _("Zoho CRM refused: the authorizing user must be a CRM administrator who may manage modules "
                 "and notifications.")
    if isinstance(error, PASSING):
        return _("Zoho CRM could not be reached or is busy. Nothing was lost: try again in a few minutes.")
    if getattr(error, "step", None) == "crm_channel":
        return _("Zoho CRM refused to send change notifications: %(reason)s", reason=str(error))
    return _("Zoho CRM refused to create the module “%(module)s”: %(reason)s",
             module=getattr(error, "module", TICKETS.plural), reason=str(error))
