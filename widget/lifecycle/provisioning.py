"""What an installation creates outside, and how it all goes away again (F7, F23, F24; docs/architecture.md#real-time,
docs/architecture.md#uninstall).

`on_crm_connected(installation)` runs once a CRM grant is stored (and at re-install when one exists):
it creates the custom modules "Zendesk Tickets" and "Zendesk Ticket Comments" with the fields the sync
writes, and enables the CRM notification channel. It is idempotent: it looks everything up first and
only adds what is missing, so a retry after any failure finishes the job.

`uninstall(installation)` marks the installation `uninstalling` (widgets refuse, no sync starts), stops
its jobs, removes what it created outside, revokes both grants and then deletes every row it owns.
An outside step that fails for a passing reason (network, 5xx, rate limit) is kept in
`Installation.cleanup_pending` and retried by the next uninstall call or `flask support retry-uninstalls`;
a step that can no longer be done by us (grant already revoked) is reported for manual removal instead.
Tickets in Zendesk are never touched.
"""
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete

from ..clients.http import (AuthenticationError, InvalidRequest, NetworkError, PermissionDenied, RateLimited, RetryPolicy,
                            ServerError, ServiceError)
from ..agent.installing import remove_sidebar
from ..connections import connection, crm_client, mark_revoked, zendesk_client
from ..extensions import db
from ..models import Installation, utcnow
from ..sync.jobs import stop_installation_jobs
from ..urls import external_root

TRANSIENT = (NetworkError, ServerError, RateLimited)

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
    if isinstance(error, TRANSIENT):
        return _("Zoho CRM could not be reached or is busy. Nothing was lost: try again in a few minutes.")
    if getattr(error, "step", None) == "crm_channel":
        return _("Zoho CRM refused to send change notifications: %(reason)s", reason=str(error))
    return _("Zoho CRM refused to create the module “%(module)s”: %(reason)s",
             module=getattr(error, "module", TICKETS.plural), reason=str(error))


# ---- uninstall (F23, F24; docs/architecture.md#uninstall) ------------------------------------------------------------
# Each outside call gets a few quick tries here; beyond that the step waits for the next retry, so a
# marketplace call never hangs on a service that is down.
UNINSTALL_POLICY = RetryPolicy(attempts=3, base_delay=0.25, max_delay=2.0, timeout=10.0)


def _step_title(step):
    return {
        "crm_modules": _("Delete the modules “Zendesk Tickets” and “Zendesk Ticket Comments” (with their "
                         "records) in Zoho CRM"),
        "crm_channel": _("Stop Zoho CRM change notifications"),
        "crm_grant": _("Revoke the Zoho CRM authorization"),
        "zendesk_webhook": _("Delete the extension's webhook in Zendesk"),
        "zendesk_app": _("Remove the Zoho CRM sidebar app from Zendesk"),
        "zendesk_grant": _("Revoke the Zendesk authorization"),
    }[step]


def _failure(service, error):
    """What went wrong, kept so that it can be told in plain words in any language later."""
    kind = ("unreachable" if isinstance(error, NetworkError) else "rate_limited" if isinstance(error, RateLimited)
            else "server_error" if isinstance(error, ServerError) else "refused")
    return {"service": service, "kind": kind, "detail": str(error)}


def _reason(failure):
    """Why a step failed, in plain words."""
    service, kind = failure["service"], failure["kind"]
    if kind == "unreachable":
        return _("%(service)s could not be reached.", service=service)
    if kind == "rate_limited":
        return _("%(service)s is limiting requests right now.", service=service)
    if kind == "server_error":
        return _("%(service)s answered with a server error.", service=service)
    return _("%(service)s refused the request (%(detail)s).", service=service, detail=failure["detail"])


def describe_pending(entry):
    """One pending step as `{"step", "attempts", "message"}`, in the request's language."""
    return {"step": entry["step"], "attempts": entry["attempts"],
            "message": _("%(step)s: not done yet. %(reason)s It will be retried.",
                         step=_step_title(entry["step"]), reason=_reason(entry))}


@dataclass
class UninstallResult:
    done: bool
    pending: list = field(default_factory=list)  # [{"step", "service", "kind", "detail", "error", "attempts", ...}]
    manual: list = field(default_factory=list)  # what an admin must remove by hand, in plain words

    def answer(self):
        """(JSON body, HTTP status) of the lifecycle call."""
        if self.done:
            return {"status": "uninstalled", "manual": self.manual}, 200
        return {"status": "uninstalling", "pending": [describe_pending(p) for p in self.pending],
                "manual": self.manual,
                "message": _("Zendesk for Zoho CRM is switched off for this CRM account, but some clean-up "
                             "could not be finished yet; it will be retried automatically.")}, 202


class _Cleanup:
    """The steps of one uninstall run, and what became of them."""

    def __init__(self, installation):
        self.previous = {entry["step"]: entry for entry in installation.cleanup_pending or []}
        self.sidebar_app = installation.zendesk_app_installation_id  # our Zendesk app installation, if any
        self.result = UninstallResult(done=False)

    def run(self, step, service, action):
        """Do one step. True when done (or already done); False when it stays pending; raises
        AuthenticationError when the service refuses the grant itself."""
        try:
            action()
            return True
        except AuthenticationError:
            raise
        except TRANSIENT as error:
            failure = _failure(service, error)
            with force_locale("en"):  # stored for operators in plain (English) words
                failure["error"] = _reason(failure)
            attempts = self.previous.get(step, {}).get("attempts", 0) + 1
            self.result.pending.append({"step": step, **failure, "attempts": attempts,
                                        "last_attempt": utcnow().isoformat()})
            return False
        except ServiceError as error:
            # Refused for good (not a passing failure): retrying would not help, an admin must do it.
            self.result.manual.append(_("%(step)s could not be done: %(reason)s Please do it by hand.",
                                        step=_step_title(step), reason=_reason(_failure(service, error))))
            return True


def uninstall(installation):
    """Remove everything the installation created and all its rows (docs/architecture.md#uninstall). Idempotent; see the
    module docs for failures. Returns an UninstallResult."""
    if installation.status != "uninstalling":
        installation.status = "uninstalling"  # widgets refuse and no sync starts from here on
        db.session.commit()
    stop_installation_jobs(installation)
    cleanup = _Cleanup(installation)
    _clean_crm(installation, cleanup)
    _clean_zendesk(installation, cleanup)
    result = cleanup.result
    if result.pending:
        installation.cleanup_pending = result.pending
        db.session.commit()
        return result
    _delete_rows(installation)
    result.done = True
    return result


def _clean_crm(installation, cleanup):
    modules_left = [name for name in (installation.crm_modules or {}).values() if name]
    grant = connection(installation, "crm")
    if grant is None or grant.status != "active":
        _modules_need_manual_removal(cleanup, modules_left)
        return
    client = crm_client(installation, grant, policy=UNINSTALL_POLICY)
    try:
        done = cleanup.run("crm_modules", "Zoho CRM", lambda: _delete_modules(installation, client, modules_left))
        if installation.crm_channel_id:
            done = cleanup.run("crm_channel", "Zoho CRM", lambda: _disable_channel(client, installation)) and done
        if done:  # the grant goes last: without it the steps above could never be retried
            cleanup.run("crm_grant", "Zoho CRM", lambda: _revoke_crm_grant(client, grant))
    except AuthenticationError:
        # The grant is gone (revoked in the CRM, or the refresh token expired): nothing more we can do.
        # NB: a channel left behind expires by itself within a week (docs/outside-apis.md#crm-notifications) and its
        # deliveries find no installation; modules stay, so the admin is told which.
        mark_revoked(grant)
        _modules_need_manual_removal(cleanup, modules_left)


def _delete_modules(installation, client, modules_left):
    """Delete our modules (and so their records); `modules_left` and the installation's record of
    them shrink as they go, so a later run neither repeats nor misreports them."""
    present = {m["api_name"] for m in client.list_modules()} if modules_left else set()
    for name in list(modules_left):
        if name in present:
            try:
                client.delete_custom_module(name)
            except InvalidRequest as error:
                if error.code != "INVALID_MODULE":  # gone meanwhile: fine
                    raise
        modules_left.remove(name)
        installation.crm_modules = {key: api for key, api in installation.crm_modules.items() if api != name}
        db.session.commit()


def _modules_need_manual_removal(cleanup, modules):
    if modules:
        cleanup.result.manual.append(
            _("Zoho CRM no longer accepts the extension's authorization, so its modules (%(modules)s) could not "
              "be deleted. An administrator can delete them in Zoho CRM under Setup → Modules and Fields.",
              modules=", ".join(modules)))


def _disable_channel(client, installation):
    # NB: an unknown channel answers NOT_SUBSCRIBED per element, which is "already gone" for us.
    client.disable_watch([installation.crm_channel_id])
    installation.crm_channel_id = installation.crm_channel_token = installation.crm_channel_expires_at = None
    db.session.commit()


def _revoke_crm_grant(client, grant):
    try:
        client.revoke_refresh_token()
    except AuthenticationError as error:
        # NB: revoking an unknown (already revoked) token answers HTTP 200 {"error": "invalid_token"}
        # (docs/outside-apis.md#crm-tokens).
        if error.code != "invalid_token":
            raise
    mark_revoked(grant)


def _clean_zendesk(installation, cleanup):
    webhooks_left = [installation.zendesk_webhook_id] if installation.zendesk_webhook_id else []
    grant = connection(installation, "zendesk")
    if grant is None or grant.status != "active":
        _webhook_needs_manual_removal(cleanup, webhooks_left)
        return
    client = zendesk_client(installation, grant, policy=UNINSTALL_POLICY)
    try:
        done = True
        if webhooks_left:
            done = cleanup.run("zendesk_webhook", "Zendesk",
                               lambda: _delete_webhook(installation, client, webhooks_left))
        if installation.zendesk_app_installation_id:
            done = cleanup.run("zendesk_app", "Zendesk", lambda: remove_sidebar(installation, client)) and done
        if done:
            cleanup.run("zendesk_grant", "Zendesk", lambda: _revoke_zendesk_grant(client, grant))
    except AuthenticationError:
        mark_revoked(grant)  # revoked in Zendesk already: the token is gone, the webhook may not be
        _webhook_needs_manual_removal(cleanup, webhooks_left)


def _delete_webhook(installation, client, webhooks_left):
    client.delete_webhook(webhooks_left[0])  # False when already gone: fine too
    webhooks_left.clear()
    installation.zendesk_webhook_id, installation.zendesk_webhook_secret = None, None
    db.session.commit()


def _revoke_zendesk_grant(client, grant):
    client.revoke_current_token()
    mark_revoked(grant)


def _webhook_needs_manual_removal(cleanup, webhooks):
    installation_id = cleanup.sidebar_app
    if installation_id:
        cleanup.result.manual.append(
            _("Zendesk no longer accepts the extension's authorization, so its Zoho CRM sidebar app (installation "
              "%(id)s) could not be removed. A Zendesk administrator can remove it in Admin Center under Apps and "
              "integrations → Zendesk Support apps.", id=installation_id))
    if webhooks:
        cleanup.result.manual.append(
            _("Zendesk no longer accepts the extension's authorization, so its webhook (ID %(id)s) could not be "
              "deleted. A Zendesk administrator can delete it in Admin Center under Apps and integrations → "
              "Webhooks.", id=webhooks[0]))


def _delete_rows(installation):
    """Every row of the installation, in every table keyed by it, then the installation itself. Tables
    are found by their `installation_id` column, so tables added later are covered too."""
    installation_id = installation.id
    db.session.commit()
    # Out of the session first, so no stale object of a deleted row is ever flushed or refreshed.
    for obj in list(db.session.identity_map.values()):
        if obj is installation or getattr(obj, "installation_id", None) == installation_id:
            db.session.expunge(obj)
    for table in reversed(db.metadata.sorted_tables):
        if "installation_id" in table.c:
            db.session.execute(delete(table).where(table.c.installation_id == installation_id))
    db.session.execute(delete(Installation.__table__).where(Installation.__table__.c.id == installation_id))
    db.session.commit()


def retry_uninstalls():
    """Retry every unfinished uninstall; returns {org_id: UninstallResult}."""
    waiting = db.session.scalars(db.select(Installation).filter_by(status="uninstalling")).all()
    results = {}
    for installation in waiting:
        org_id = installation.org_id
        results[org_id] = uninstall(installation)
    return results
