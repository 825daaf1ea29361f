"""How everything an installation created goes away again (F23, F24; docs/architecture.md#real-time,
docs/architecture.md#uninstall).

`uninstall(installation)` marks the installation `uninstalling` (widgets refuse, no sync starts), stops
its jobs, removes what it created outside, revokes both grants and then deletes every row it owns.
An outside step that fails for a passing reason (network, 5xx, rate limit) is kept in
`Installation.cleanup_pending` and retried by the next uninstall call or `flask support retry-uninstalls`;
a step that can no longer be done by us (grant already revoked) is reported for manual removal instead.
Tickets in Zendesk are never touched.
"""
from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete

from ..agent.installing import remove_sidebar
from ..clients.http import (AuthenticationError, InvalidRequest, NetworkError, RateLimited, RetryPolicy, ServerError,
                            ServiceError)
from ..connections import connection, crm_client, mark_revoked, zendesk_client
from ..extensions import db
from ..models import Installation, utcnow
from ..sync.jobs import stop_installation_jobs
from .install import PASSING

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
        except PASSING as error:
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


def _working_grant(installation, service):
    grant = connection(installation, service)
    return grant if grant is not None and grant.status == "active" else None


def _clean_crm(installation, cleanup):
    modules_left = [name for name in (installation.crm_modules or {}).values() if name]
    grant = _working_grant(installation, "crm")
    if grant is None:
        return _modules_need_manual_removal(cleanup, modules_left)
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
    grant = _working_grant(installation, "zendesk")
    if grant is None:
        return _webhook_needs_manual_removal(cleanup, webhooks_left)
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
