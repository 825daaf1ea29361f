"""The sync engine's core: streams, their context (clients, cursors, progress, errors) and leases.

A *stream* is one flow of one kind of object in one direction (e.g. `zendesk_tickets`: Zendesk tickets
into the CRM). Each stream is a function `sync_<what>(ctx)` that reads pages from its saved cursor, writes
them in batches, and commits the cursor only after the page it covers is written; run again, it
resumes where it stopped (after a crash too) and, when caught up, returns.

Every stream is listed, in dependency order, in `STREAMS` of widget/sync/__init__.py (a stream it does
not list never runs); `run_streams()` runs the ones an installation's settings select, each under a lease
so that at most one job per installation and stream runs at a time across every worker and host.
"""
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..clients.http import AuthenticationError, CallPacer, RefreshRefused
from ..connections import crm_client, zendesk_client
from ..extensions import db
from ..notices import notice, stored
# The leases live in widget.leases (connections.py takes them too); their callers know them as engine.*.
from ..leases import LEASE_SECONDS, acquire_lease, dead_on_this_host, holder_name, release_lease  # noqa: F401
from ..models import Cursor, StreamLease, SyncError, SyncSettings, utcnow  # noqa: F401

# Daily CRM credits left untouched for the org's other integrations; below it the sync pauses.
CREDIT_RESERVE = 500
CREDIT_PAUSE_HOURS = 1  # credits are counted over a rolling 24 h window: look again in an hour
STALL_SECONDS = 30  # work silent this long (no heartbeat, no lease renewal) lost its worker
INCREMENTAL_PACERS = {}  # (installation id) -> CallPacer shared by every client of that Zendesk account
_pacers_lock = threading.Lock()


class SyncStopped(Exception):
    """The installation is being uninstalled (or paused): stop between pages."""


class SyncPaused(Exception):
    """The sync stopped cleanly before running out of a budget (the CRM's daily API credits)."""


class LeaseHeld(Exception):
    """Another worker is running this installation's stream right now."""


@dataclass(frozen=True)
class Stream:
    name: str  # its cursor, lease, counts and errors are kept under this name
    run: Callable  # the function `sync_<what>(ctx)`
    module: str | None = None  # the CRM module (Accounts/Contacts/Leads) it needs chosen in settings, or None


def all_streams():
    """Every stream, in the order they run (the list in widget/sync/__init__.py)."""
    from . import STREAMS  # the package imports this module before it lists its streams
    return STREAMS


def stream_names():
    return [stream.name for stream in all_streams()]


def selected_streams(settings, streams=None):
    """The names of the streams (by default all of them) the settings select, in dependency order."""
    chosen = set(settings.modules or [])
    return [stream.name for stream in streams or all_streams() if stream.module is None or stream.module in chosen]


def sync_settings(installation):
    settings = db.session.get(SyncSettings, installation.id)
    if settings is None:
        try:
            db.session.add(SyncSettings(installation_id=installation.id))
            db.session.commit()
        except IntegrityError:  # another thread or worker created it first: use theirs
            db.session.rollback()
        settings = db.session.get(SyncSettings, installation.id)
    return settings


def incremental_pacer(installation_id):
    """One pacer per Zendesk account, so all its clients together stay under 10 export calls a minute
    (ZENDESK_INCREMENTAL_CALLS_PER_MINUTE: 30 with the High Volume add-on; sandboxes with their limits
    switched off, in tests and benchmarks, go higher)."""
    calls = current_app.config.get("ZENDESK_INCREMENTAL_CALLS_PER_MINUTE", 10)
    with _pacers_lock:
        return INCREMENTAL_PACERS.setdefault(installation_id, CallPacer(calls, 60))


class SyncContext:
    """What a stream works with: the installation, both clients, its settings, the run being counted."""

    def __init__(self, installation, zendesk=None, crm=None, run=None, organizations=None, cursor_prefix=""):
        self.installation = installation
        self.settings = sync_settings(installation)
        self.zendesk = zendesk or zendesk_client(installation, incremental_pacer=incremental_pacer(installation.id))
        self.crm = crm or crm_client(installation)
        self.run = run
        self.lease_stream = self.lease_holder = None  # set while a stream runs under its lease
        # A backfill (runs.start_backfill) covers only the organizations just added to a Selective sync,
        # with cursors of its own, so the installation's own cursors do not move.
        self.organizations, self.cursor_prefix = organizations, cursor_prefix

    def chosen_organization_ids(self):
        """Selective sync: the Zendesk organizations in scope (a backfill's own, else the settings')."""
        chosen = self.organizations if self.organizations is not None else self.settings.selected_organizations
        return [int(org_id) for org_id in chosen or []]

    # ---- cursors ---------------------------------------------------------------------------------
    def cursor(self, name):
        row = self._cursor_row(name)
        return row.value if row else None

    def save_cursor(self, name, value):
        """Commit the stream's position. Call only after the page it covers is written."""
        row = self._cursor_row(name) or Cursor(installation_id=self.installation.id, stream=self.cursor_prefix + name,
                                               value=value)
        row.value = value
        db.session.add(row)
        db.session.commit()
        if self.lease_holder and not acquire_lease(self.installation.id, self.lease_stream, self.lease_holder):
            raise LeaseHeld(f"lost the lease of {self.lease_stream}")  # another worker took over: stop writing

    def _cursor_row(self, name):
        return db.session.scalar(db.select(Cursor).filter_by(installation_id=self.installation.id,
                                                             stream=self.cursor_prefix + name))

    # ---- progress and errors ----------------------------------------------------------------------
    def count(self, name, read=0, written=0, errors=0):
        """Add to the run's counts for the stream (the progress bar polls them)."""
        if self.run is None:
            return
        counts = dict(self.run.counts or {})
        current = dict(counts.get(name) or {"read": 0, "written": 0, "errors": 0})
        current["read"] += read
        current["written"] += written
        current["errors"] += errors
        counts[name] = current
        self.run.counts = counts
        db.session.commit()

    def record_error(self, name, object_id, message, retryable=True, zendesk_id=None, other_crm_id=None,
                     waiting_for_ticket=None):
        """A record that failed: kept with the outside service's message, never blocking the rest.
        `zendesk_id`, `other_crm_id`: the Zendesk object and other CRM record in the way, if any;
        `waiting_for_ticket`: a comment's ticket, not in the CRM yet."""
        row = db.session.scalar(db.select(SyncError).filter_by(
            installation_id=self.installation.id, stream=name, object_id=str(object_id)))
        if row is None:
            row = SyncError(installation_id=self.installation.id, stream=name, object_id=str(object_id), attempts=0)
            db.session.add(row)
        row.attempts += 1
        row.message, row.message_notice = stored(message)
        row.retryable = retryable
        row.zendesk_id, row.other_crm_id = zendesk_id, other_crm_id
        row.waiting_for_ticket = waiting_for_ticket
        db.session.commit()

    def clear_errors(self, name, object_ids):
        """Records that synced after all: forget their earlier errors."""
        ids = [str(i) for i in object_ids]
        if ids:
            db.session.execute(db.delete(SyncError).where(
                SyncError.installation_id == self.installation.id, SyncError.stream == name,
                SyncError.object_id.in_(ids)))
            db.session.commit()

    def check_running(self):
        """Between pages: raise SyncStopped when the installation started uninstalling since the job
        began, SyncPaused when the CRM's daily credits are nearly spent."""
        db.session.refresh(self.installation)
        if self.installation.status != "installed":
            raise SyncStopped(self.installation.status)
        self.check_budget()

    def check_budget(self):
        """Stop before the CRM's daily API credits run out (they are shared with the org's other apps):
        keep CREDIT_RESERVE for them, pause, and let the scheduler resume after the window rolls on."""
        rate_limit = getattr(self.zendesk, "rate_limit", None)
        if rate_limit is not None:  # shown on the dashboard beside the CRM's credits
            self.settings.zendesk_rate_limit, self.settings.zendesk_rate_remaining = rate_limit
            self.settings.zendesk_rate_seen_at = utcnow()
            db.session.commit()
        remaining = getattr(self.crm, "credits_remaining", None)
        if remaining is None:
            return
        self.settings.crm_credits_remaining = remaining
        if remaining < CREDIT_RESERVE:
            reason = notice("Zoho CRM's daily API credits are nearly used up (%(remaining)s left). "
                            "Syncing resumes by itself once they renew.", remaining=remaining)
            self.settings.pause(reason, until=utcnow() + timedelta(hours=CREDIT_PAUSE_HOURS))
            db.session.commit()
            raise SyncPaused(reason)
        db.session.commit()


# ---- leases: one job per installation and stream across all workers -----------------------------
@contextmanager
def lease(installation_id, name):
    holder = holder_name()
    if not acquire_lease(installation_id, name, holder):
        raise LeaseHeld(f"{name} of installation {installation_id} is running elsewhere")
    try:
        yield holder
    finally:
        db.session.rollback()
        release_lease(installation_id, name, holder)


# ---- running -------------------------------------------------------------------------------------
def run_streams(installation, names, run=None, ctx=None):
    """Run `names` in order for the installation, each under its lease. A revoked grant pauses the
    installation with a message for the admin instead of failing silently."""
    ctx = ctx or SyncContext(installation, run=run)
    streams = {stream.name: stream for stream in all_streams()}
    for name in names:
        ctx.check_running()
        with lease(installation.id, name) as holder:
            ctx.lease_stream, ctx.lease_holder = name, holder
            try:
                streams[name].run(ctx)
            except AuthenticationError as error:
                pause_for_revoked_grant(ctx, error)
                raise
    return ctx


def pause_for_revoked_grant(ctx, error):
    """The settings page then finds which grant was refused and offers "Re-authorize"."""
    db.session.rollback()
    if isinstance(error, RefreshRefused):  # already paused with it, naming the service
        reason = error.message
    else:
        reason = notice("Access was refused (%(reason)s). An administrator must re-authorize.", reason=error.message)
    ctx.settings.pause(reason)  # no end: only re-authorizing lifts it (not the scheduler)
    db.session.commit()
