"""The settings panel's status of each grant (F5, F6): what is stored, at once, then a live check.

The panel shows what is stored straight away; each service's part then loads a live check of its grant
(one cheap call), trusted for a minute, so a slow or revoked service is told within seconds.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _

from ..clients.http import AuthenticationError, NetworkError, RetryPolicy, ServiceError
from ..connections import SERVICE_NAMES, connection, crm_client, mark_revoked, zendesk_client
from ..extensions import db
from ..models import as_utc, utcnow
from ..sync import runs
from .authorize import UNPAID_PLANS

# The live check of a grant runs in a fragment of the panel while the admin waits: one attempt with a
# short timeout, never the sync's patient retries, so a slow service costs seconds, not a hung page.
STATUS_POLICY = RetryPolicy(attempts=1, timeout=3.0)
# How long a check that found a grant working is trusted. NB: kept in the database (Connection.checked_at),
# not in one process's memory: any gunicorn worker may serve the fragments, a re-authorization in another
# worker must end it (save_grant), and a fresh check of both grants lifts a refused-grant pause.
STATUS_CACHE_SECONDS = 60


@dataclass(frozen=True)
class ServiceStatus:
    """`state`: missing | active | revoked | unreachable; `plan` (Zendesk); `problem` in plain words;
    `checking`: only what is stored so far, the live check is still to load; `checked_now`: a call to
    the service just said so (not the cache)."""

    state: str
    plan: str = ""
    problem: str = ""
    checking: bool = False
    checked_now: bool = False

    @property
    def active(self):
        return self.state in ("active", "unreachable")


def stored_status(installation, service):
    """What the panel shows at once, with no outside call: the grant as stored, the plan last seen."""
    grant = connection(installation, service)
    if grant is None or grant.status == "revoked":
        return ServiceStatus("missing" if grant is None else "revoked")
    return _working(installation, service, grant.plan, checking=True)


def live_status(installation, service):
    """The grant checked with one cheap call (the CRM org, the Zendesk subscription), or the answer of
    such a check made less than STATUS_CACHE_SECONDS ago."""
    grant = connection(installation, service)
    if grant is None or grant.status == "revoked":
        return stored_status(installation, service)
    if _recently_checked(grant):
        return _working(installation, service, grant.plan)
    try:
        plan = _check(installation, service, grant)
    except AuthenticationError:  # refresh could not fix it: revoked by the service, or the refresh token is gone
        mark_revoked(grant)
        return ServiceStatus("revoked")
    except ServiceError as error:
        return ServiceStatus("unreachable", plan=grant.plan, problem=_not_checked(SERVICE_NAMES[service], error))
    grant.plan, grant.checked_at = plan, utcnow()
    db.session.commit()
    return _working(installation, service, plan, checked_now=True)


def crm_status(installation):
    return live_status(installation, "crm")


def zendesk_status(installation):
    return live_status(installation, "zendesk")


def check_grant(installation, service):
    """The live status for the panel's fragment of `service`. When this check found the grant working
    and the other grant was found working lately too, the admin has re-authorized: a pause for a refused
    grant ends (runs.lift_grant_pause). Returns (status, whether a pause was lifted)."""
    status = live_status(installation, service)
    other = connection(installation, "zendesk" if service == "crm" else "crm")
    both_work = status.checked_now and other is not None and other.status == "active" and _recently_checked(other)
    return status, both_work and runs.lift_grant_pause(installation)


def _check(installation, service, grant):
    """One call that needs a working grant; returns the Zendesk plan ("" for the CRM)."""
    if service == "crm":
        crm_client(installation, grant, policy=STATUS_POLICY).org()
        return ""
    return zendesk_client(installation, grant, policy=STATUS_POLICY).account_plan()


def _recently_checked(grant):
    return grant.checked_at is not None and \
        utcnow() - as_utc(grant.checked_at) < timedelta(seconds=STATUS_CACHE_SECONDS)


def _working(installation, service, plan, **flags):
    problem = ""
    if service == "zendesk" and plan.lower() in UNPAID_PLANS:
        problem = _("This Zendesk account is now on the %(plan)s plan: Zendesk refuses the extension's requests "
                    "until the plan is renewed.", plan=plan)
    elif service == "zendesk" and not installation.zendesk_webhook_id:
        problem = _("Real-time updates from Zendesk are not set up. Re-authorize to set them up.")
    return ServiceStatus("active", plan=plan, problem=problem, **flags)


def _not_checked(service, error):
    """A live check without an answer: the panel tries again later by itself."""
    if isinstance(error, NetworkError) and error.timed_out:
        return _("%(service)s did not answer in time. The status will be checked again in a minute.",
                 service=service)
    if isinstance(error, NetworkError):
        return _("%(service)s could not be reached. The status will be checked again in a minute.",
                 service=service)
    return _("%(service)s answered with an error (%(detail)s). The status will be checked again in a minute.",
             service=service, detail=str(error))
