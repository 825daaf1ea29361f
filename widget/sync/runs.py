"""Sync runs: the first sync (F13, F14), catch-up runs (auto sync) and the bulk-once rule."""
from flask_babel import gettext as _

from ..clients.http import ServiceError
from ..extensions import db
from ..models import Installation, SyncRun, utcnow
from . import inbox, queue
from .engine import LeaseHeld, SyncPaused, SyncStopped, run_streams, selected_streams, sync_settings

ACTIVE = ("queued", "running")
LEASE_RETRY_SECONDS = 5


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
    run = SyncRun(installation_id=installation.id, kind="first", mode=settings.mode, status="queued")
    db.session.add(run)
    db.session.commit()
    return run


def first_sync_job(installation_id, run_id):
    """Run every selected stream to the end; mark the bulk sync done when it finishes."""
    run = db.session.get(SyncRun, run_id)
    installation = db.session.get(Installation, installation_id)
    if run is None or installation is None or run.status not in ACTIVE:
        return  # finished, paused or failed meanwhile (e.g. a duplicate job of a resumed run)
    _execute(installation, run)
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
    _execute(installation, run)
    if run.status == "queued":
        queue.enqueue_later(LEASE_RETRY_SECONDS, "widget.sync.runs.catchup_job", installation_id, run.id)
    return run


def _execute(installation, run):
    run.status = "running"
    db.session.commit()
    try:
        run_streams(installation, selected_streams(sync_settings(installation)), run=run)
    except LeaseHeld:
        _finish(run, "queued", _("Waiting: another worker is syncing this account."))
    except SyncStopped:
        _finish(run, "failed", _("Stopped: the extension is being uninstalled."))
    except SyncPaused as paused:
        _finish(run, "paused", str(paused))
    except ServiceError as error:
        _finish(run, "failed", error.message)
    else:
        _finish(run, "done", None)
    return run


def _finish(run, status, message):
    db.session.rollback()
    run.status, run.message = status, message
    if status != "queued":
        run.finished_at = utcnow()
    db.session.commit()


def reset_bulk(org_id):
    """The support action that allows another bulk sync (F14)."""
    installation = db.session.scalar(db.select(Installation).filter_by(org_id=str(org_id)))
    if installation is None:
        raise RunRefused(f"No installation for CRM org {org_id}.")
    settings = sync_settings(installation)
    settings.bulk_done_at = None
    db.session.commit()
    return installation
