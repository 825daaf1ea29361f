"""Auto sync (F9) and housekeeping on a timer.

Every tick, for each installation: when auto sync is on and its first sync is done, an incremental
catch-up from the saved cursors once every AUTO_SYNC_INTERVAL (it catches what a lost webhook missed);
the CRM notification channel renewed a day before it expires; unfinished uninstalls retried; runs whose
worker died queued again (runs.stalled_runs), and real-time events that no live drain is taking.

Ticks may run in several processes (gunicorn workers, hosts): the "autosync", "channel", "resume" and
"uninstall" leases of each installation (StreamLease rows, taken atomically), held for their whole
period and never released, make each of those jobs happen once a period whichever process ticks first.
So every process may run a scheduler: SYNC_QUEUE=thread starts one in each app process (wsgi.py, the
demo); SYNC_QUEUE=rq runs `flask --app wsgi scheduler` (one or more) next to the workers.
"""
import logging
import threading
import uuid
from datetime import timedelta

from ..extensions import db
from ..models import Installation, as_utc, utcnow
from . import engine, inbox, queue, runs

log = logging.getLogger(__name__)
CHANNEL_RENEW_BEFORE = timedelta(days=1)
CHANNEL_RETRY_SECONDS = 3600
UNINSTALL_RETRY_SECONDS = 300
RESUME_SECONDS = 600  # one resume of a paused first sync per installation in this time, whoever ticks
PERIOD = 10  # ticks at least this often, so a run whose worker died is taken over within a minute


def tick(app, holder="scheduler"):
    """One round: enqueue what is due. Returns the jobs enqueued as (job, installation id, run id).
    Each lease is taken under a name of its own, so only an expired one (a full interval) is taken."""
    interval = app.config["AUTO_SYNC_INTERVAL"]
    enqueued = []
    stalled = {}
    for run in runs.stalled_runs():
        stalled.setdefault(run.installation_id, []).append(run)
    stranded = inbox.stranded_installations()
    for installation in db.session.scalars(db.select(Installation)).all():
        if installation.status == "uninstalling":
            if engine.acquire_lease(installation.id, "uninstall", _once(holder), seconds=UNINSTALL_RETRY_SECONDS):
                enqueued.append(("widget.lifecycle.uninstall.retry_uninstalls", None, None))
            continue
        settings = engine.sync_settings(installation)
        if _pause_over(settings) and engine.acquire_lease(installation.id, "resume", _once(holder),
                                                          seconds=RESUME_SECONDS):
            settings.unpause()
            db.session.commit()
            enqueued += runs.resume_paused(installation.id)
            enqueued.append(("widget.sync.inbox.drain", installation.id, None))  # real-time events waited
        auto_sync_due = settings.auto_sync and settings.first_sync_done_at and not settings.paused_reason
        if auto_sync_due and engine.acquire_lease(installation.id, "autosync", _once(holder), seconds=interval):
            enqueued.append(("widget.sync.runs.catchup_job", installation.id, None))
        if installation.id in stalled and engine.acquire_lease(installation.id, "stalled", _once(holder),
                                                              seconds=PERIOD):
            for run in stalled[installation.id]:
                log.warning("installation %s: run %s lost its worker; resuming it", installation.id, run.id)
                runs.resume(run)
        if installation.id in stranded and engine.acquire_lease(installation.id, "inbox-resume", _once(holder),
                                                               seconds=engine.STALL_SECONDS):
            enqueued.append(("widget.sync.inbox.drain", installation.id, None))
        expires = installation.crm_channel_expires_at
        renewal_due = expires is not None and as_utc(expires) - utcnow() < CHANNEL_RENEW_BEFORE
        if renewal_due and engine.acquire_lease(installation.id, "channel", _once(holder),
                                                seconds=CHANNEL_RETRY_SECONDS):
            enqueued.append(("widget.sync.scheduler.renew_channel", installation.id, None))
    enqueued = list(dict.fromkeys(enqueued))
    for job, *args in enqueued:
        queue.enqueue(job, *(arg for arg in args if arg is not None))
    return enqueued


def _pause_over(settings):
    """A pause with an end (CRM credits) lifts by itself; one without (a refused grant) waits for the admin
    (re-authorizing lifts it: settings/sync_views.py). If the credits are still short, the resumed run
    pauses again after its first page."""
    return bool(settings.paused_reason and settings.paused_until and as_utc(settings.paused_until) <= utcnow())


def _once(holder):
    return f"{holder}:{uuid.uuid4().hex[:8]}"


def renew_channel(installation_id):
    """Extend the CRM notification channel (re-enabling it is idempotent and sets a new expiry)."""
    from ..lifecycle.install import ProvisioningError, on_crm_connected

    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.status != "installed":
        return
    try:
        on_crm_connected(installation)
    except ProvisioningError as error:
        log.warning("installation %s: notification channel not renewed: %s", installation_id, error.message)


class Scheduler:
    """Ticks every `period` seconds in a daemon thread, inside the app context."""

    def __init__(self, app, period=None):
        self.app = app
        self.period = period or min(PERIOD, app.config["AUTO_SYNC_INTERVAL"])
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="sync-scheduler")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=10)

    def _loop(self):
        """The first tick comes at once: a process started again resumes the runs its predecessor left."""
        holder = engine.holder_name()
        while True:
            with self.app.app_context():
                try:
                    tick(self.app, holder)
                except Exception:  # a failed tick must not end auto sync; the next one tries again
                    log.exception("scheduler tick failed")
                finally:
                    db.session.remove()
            if self.stopped.wait(self.period):
                return
