"""Sync runs: the first sync (F13, F14), catch-up runs (auto sync) and the bulk-once rule.

A run survives the death of the process working on it. A job first claims its run (atomically, so one
job works on a run at a time), then a heartbeat thread touches the run every HEARTBEAT_SECONDS and
renews the job's stream leases. A run whose heartbeat lapsed for STALL_SECONDS lost its worker (an OOM
kill, a deploy, a lost host): the scheduler queues its job again (`stalled_runs`), and the job that
claims it carries on from the committed cursors, so nothing is written twice. On this host a dead
holder's run is taken at once, without waiting for the heartbeat to lapse.
"""
import logging
import threading
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from ..clients.http import AuthenticationError, ServiceError
from ..extensions import db
from ..notices import notice, stored
from ..ops.logs import sync_run
from ..models import Cursor, Installation, StreamLease, SyncRun, as_utc, utcnow
from . import inbox, queue
from .engine import (LEASE_SECONDS, STALL_SECONDS, LeaseHeld, SyncContext, SyncPaused, SyncStopped, dead_on_this_host,
                     holder_name, run_streams, selected_streams, sync_settings)

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
LEASE_RETRY_SECONDS = 5
HEARTBEAT_SECONDS = 5  # STALL_SECONDS is six of them: a busy database may delay one or two
JOBS = {"first": "widget.sync.runs.first_sync_job", "catchup": "widget.sync.runs.catchup_job",
        "backfill": "widget.sync.runs.backfill_job", "reapply": "widget.sync.runs.backfill_job"}
# What a changed field mapping of a module rewrites: its records both ways.
REAPPLY_STREAMS = {"Accounts": ["crm_accounts", "zendesk_organizations"], "Contacts": ["crm_contacts", "zendesk_users"],
                   "Leads": ["crm_leads", "zendesk_users"]}


class RunRefused(Exception):
    """A run that may not start; `message` says why in plain words."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def start_first_sync(installation):
    """Create the first-sync run (the caller enqueues `first_sync_job`). A bulk sync runs once (F14)."""
    settings = sync_settings(installation)
    if settings.mode == "bulk" and settings.bulk_done_at is not None:
        raise RunRefused(_("A bulk sync can run only once. To run it again, contact support."))
    busy = db.session.scalar(db.select(SyncRun).filter(
        SyncRun.installation_id == installation.id, SyncRun.kind == "first", SyncRun.status.in_(ACTIVE)))
    if busy is not None:
        raise RunRefused(_("A sync is already running."))
    return _queued(installation, "first", mode=settings.mode)


def _still_active(installation_id, run_id):
    """(installation, run), or (None, None) when the run finished, paused or failed meanwhile (e.g. the
    job is a duplicate of a resumed run's)."""
    run = db.session.get(SyncRun, run_id)
    installation = db.session.get(Installation, installation_id)
    if run is None or installation is None or run.status not in ACTIVE:
        return None, None
    return installation, run


def first_sync_job(installation_id, run_id):
    """Run every selected stream to the end; mark the bulk sync done when it finishes."""
    installation, run = _still_active(installation_id, run_id)
    if run is None or not _work_on(installation, run):
        return  # a live job works on it
    if run.status == "queued":  # a stream of it is running elsewhere: try again shortly, never drop it
        queue.enqueue_later(LEASE_RETRY_SECONDS, "widget.sync.runs.first_sync_job", installation_id, run_id)
    if run.status == "done":
        settings = sync_settings(installation)
        settings.first_sync_done_at = settings.first_sync_done_at or utcnow()
        if run.mode == "bulk":
            settings.bulk_done_at = utcnow()
        db.session.commit()
        inbox.trigger(installation_id)  # real time starts now: apply what arrived during the first sync


def catchup_job(installation_id, run_id=None):
    """Auto sync: an incremental catch-up of every selected stream from its saved cursor. Like a first
    sync, one whose stream is running elsewhere (a first sync, another catch-up) is retried shortly
    with the same run, never dropped and never left `queued`."""
    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.status != "installed":
        return None
    run = db.session.get(SyncRun, run_id) if run_id is not None else None
    if run is not None and run.status not in ACTIVE:
        return run
    if run is None:
        inbox.retry_failed(installation_id)  # real-time events that failed get another chance
        run = SyncRun(installation_id=installation_id, kind="catchup", status="queued")
        db.session.add(run)
        db.session.commit()
    if not _work_on(installation, run):
        return run
    if run.status == "queued":
        queue.enqueue_later(LEASE_RETRY_SECONDS, "widget.sync.runs.catchup_job", installation_id, run.id)
    return run


def start_backfill(installation, organization_ids):
    """Organizations added to a Selective sync after its first sync (F17 Edit): their people, tickets and
    comments predate the installation's cursors, so a run of their own reads every stream again from
    the start, with cursors of its own, and writes only what belongs to them (the rest is in place)."""
    return _queued(installation, "backfill", mode="selective", organizations=sorted(int(i) for i in organization_ids))


def start_reapply(installation, module):
    """A changed field mapping re-applied to the records already synced (F17): the module's streams read
    again from the start, with cursors of their own, as a backfill; records whose mapped fields now differ
    are written (in batches), the others are found unchanged by their hash and left alone."""
    return _queued(installation, "reapply", streams=REAPPLY_STREAMS[module])


def _queued(installation, kind, **fields):
    run = SyncRun(installation_id=installation.id, kind=kind, status="queued", **fields)
    db.session.add(run)
    db.session.commit()
    return run


def backfill_job(installation_id, run_id):
    """Runs a backfill or a re-apply (both read again from the start with cursors of their own)."""
    installation, run = _still_active(installation_id, run_id)
    if run is None or not _work_on(installation, run, organizations=run.organizations,
                                   cursor_prefix=_backfill_prefix(run)):
        return
    if run.status == "queued":
        queue.enqueue_later(LEASE_RETRY_SECONDS, JOBS[run.kind], installation_id, run_id)
    elif run.status == "done":  # its cursors served their purpose
        db.session.execute(db.delete(Cursor).where(Cursor.installation_id == installation_id,
                                                   Cursor.stream.startswith(_backfill_prefix(run), autoescape=True)))
        db.session.commit()


def _backfill_prefix(run):
    return f"b{run.id}:"


def _work_on(installation, run, **scope):
    """Claim the run and execute it under a heartbeat; False when a live job works on it already.
    `scope`: a backfill's organizations and cursor prefix (engine.SyncContext)."""
    holder = holder_name()  # the streams' leases are taken under the same name (engine.lease)
    if not claim_run(run.id, holder):
        return False
    db.session.refresh(run)
    sync_run("started", run)
    with Heartbeat(current_app._get_current_object(), run.id, holder):
        _execute(installation, run, holder, scope)
    return True


def claim_run(run_id, holder):
    """Make `holder` the run's worker, atomically: a queued run, or a running one whose worker is gone
    (its heartbeat lapsed, or it was a process of this host that no longer exists). On PostgreSQL a
    concurrent claim waits for the row and then no longer matches; SQLite runs one writer at a time."""
    current = db.session.scalar(db.select(SyncRun.holder).filter_by(id=run_id))
    claimable = db.or_(SyncRun.status == "queued",
                       db.and_(SyncRun.status == "running", _silent_since(utcnow() - timedelta(seconds=STALL_SECONDS))))
    if current is not None and dead_on_this_host(current):
        claimable = db.or_(claimable, db.and_(SyncRun.status == "running", SyncRun.holder == current))
    # Not evaluated against loaded objects: SQLite hands stored times back naive (models.as_utc).
    claimed = db.session.execute(db.update(SyncRun).where(SyncRun.id == run_id, claimable)
                                 .values(status="running", holder=holder, heartbeat_at=utcnow())
                                 .execution_options(synchronize_session=False))
    db.session.commit()
    return claimed.rowcount == 1


def _silent_since(moment):
    return db.or_(SyncRun.heartbeat_at.is_(None), SyncRun.heartbeat_at < moment)


def stalled(run):
    """For the settings page: the run is active but no live worker has shown itself lately."""
    beat = run.heartbeat_at or run.started_at
    return run.status in ACTIVE and as_utc(beat) < utcnow() - timedelta(seconds=STALL_SECONDS)


def stalled_runs():
    """Active first and catch-up runs, of every installation, whose worker is gone (or, for a queued one,
    whose job has waited STALL_SECONDS: in the queue still, or lost with a process's in-memory pool)."""
    active = db.session.scalars(db.select(SyncRun).where(SyncRun.kind.in_(tuple(JOBS)),
                                                         SyncRun.status.in_(ACTIVE))).all()
    return [run for run in active if stalled(run) or (run.holder is not None and dead_on_this_host(run.holder))]


def resume_paused(installation_id):
    """Queue again the installation's first syncs that paused (credits ran short, a grant was refused),
    once the pause is lifted; they carry on from their cursors. Returns their jobs as (job, *args)."""
    paused = db.session.scalars(db.select(SyncRun).filter_by(installation_id=installation_id, kind="first",
                                                             status="paused")).all()
    for run in paused:
        run.status, run.heartbeat_at = "queued", utcnow()
    db.session.commit()
    return [(JOBS["first"], installation_id, run.id) for run in paused]


def lift_grant_pause(installation):
    """Both grants were just found working: the admin has re-authorized, so a pause for a refused grant
    (engine.pause_for_revoked_grant) ends, the first sync it paused carries on and the real-time events
    that waited are drained. A credits pause (it has an end) stays. Returns whether a pause ended."""
    settings = sync_settings(installation)
    if not settings.paused_reason or settings.paused_until is not None:
        return False
    settings.unpause()
    db.session.commit()
    for job, *args in resume_paused(installation.id):
        queue.enqueue(job, *args)
    inbox.trigger(installation.id)
    return True


def resume(run):
    """Queue the run's job again (the scheduler for a stalled run; an admin's Resume). Harmless when a
    live job works on it: the new job finds the run claimed and leaves it."""
    queue.resume(JOBS[run.kind], run.installation_id, run.id)


class Heartbeat:
    """While a job works on a run, a thread of its own touches the run and renews the job's stream
    leases every HEARTBEAT_SECONDS, in an app context of its own: a page may take longer than a lease
    (rate-limit waits, a slow service) and must not look like a dead worker."""

    def __init__(self, app, run_id, holder):
        self.app, self.run_id, self.holder = app, run_id, holder
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-run-{run_id}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()

    def _beat(self):
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            with self.app.app_context():
                try:
                    now = utcnow()
                    db.session.execute(db.update(SyncRun).where(SyncRun.id == self.run_id,
                                                                SyncRun.holder == self.holder)
                                       .values(heartbeat_at=now))
                    db.session.execute(db.update(StreamLease).where(StreamLease.holder == self.holder)
                                       .values(expires_at=now + timedelta(seconds=LEASE_SECONDS)))
                    db.session.commit()
                except SQLAlchemyError:  # the database is busy or away: the next beat tries again
                    log.warning("run %s: heartbeat not recorded", self.run_id, exc_info=True)


def _execute(installation, run, holder, scope):
    try:
        ctx = SyncContext(installation, run=run, **scope) if scope else None
        names = [name for name in selected_streams(sync_settings(installation))
                 if not run.streams or name in run.streams]
        run_streams(installation, names, run=run, ctx=ctx)
    except LeaseHeld:
        _finish(run, holder, "queued", notice("Waiting: another worker is syncing this account."))
    except SyncStopped:
        _finish(run, holder, "failed", notice("Stopped: the extension is being uninstalled."))
    except SyncPaused as paused:
        _finish(run, holder, "paused", paused.args[0])
    except AuthenticationError as error:  # the installation is paused (engine.pause_for_revoked_grant) ...
        _finish(run, holder, "paused", error.message)  # ... and the run carries on once re-authorized
    except ServiceError as error:
        _finish(run, holder, "failed", notice("Stopped: %(reason)s. Starting the sync again carries on from where "
                                              "it stopped.", reason=error.message.rstrip(".")),
                error=type(error).__name__)
    except Exception:  # a job's exception would vanish in a thread pool; never leave the run `running`
        log.exception("run %s of installation %s stopped on an unexpected error", run.id, installation.id)
        _finish(run, holder, "failed", notice("Stopped on an unexpected error, which was logged for support. "
                                              "Starting the sync again carries on from where it stopped."))
    else:
        _finish(run, holder, "done", None)
    return run


def _finish(run, holder, status, message, **logged):
    """End the job's work on the run, unless another worker took the run over meanwhile (this one was
    thought dead): then the run is theirs to finish. `logged`: fields of its log line."""
    db.session.rollback()
    db.session.refresh(run)
    if run.holder != holder:
        return
    run.status, run.holder, run.heartbeat_at = status, None, utcnow()
    run.message, run.message_notice = stored(message, limit=500)
    if status != "queued":
        run.finished_at = utcnow()
    db.session.commit()
    sync_run("failed" if status == "failed" else "ended", run, **logged)


def reset_bulk(org_id):
    """The support action that allows another bulk sync (F14)."""
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=str(org_id)))
    if installation is None:
        raise RunRefused(f"No installation for CRM org {org_id}.")
    settings = sync_settings(installation)
    settings.bulk_done_at = None
    db.session.commit()
    return installation
