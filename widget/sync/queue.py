"""Where sync jobs run. `SYNC_QUEUE=thread` (default): a small worker pool inside the app process.
`SYNC_QUEUE=rq`: jobs go to Redis via RQ and `flask --app wsgi worker` processes on any host run them.

Jobs are named by dotted path (e.g. "widget.sync.runs.first_sync_job") so RQ can run them anywhere;
every job runs inside an application context. Convention: a job of an installation takes the
installation's id as its first argument, which is how `cancel_installation_jobs` finds it.

Either way, at most one job per installation and stream runs at a time: the stream leases (engine.py,
rows in the shared database) decide, not the queue. A job that finds its stream's lease held elsewhere
is not dropped: it is queued again a few seconds later (runs.py, LEASE_RETRY_SECONDS).
"""
import importlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from flask import current_app

THREAD_WORKERS = 4


def resolve(job):
    module, _, name = job.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_in_app(app, job, *args):
    with app.app_context():
        return resolve(job)(*args)


def enqueue(job, *args):
    """Queue `job(*args)` on the configured backend."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        from .rq_backend import enqueue_rq

        return enqueue_rq(app, job, *args)
    return _threads(app).submit(job, args)


def enqueue_unless_waiting(job, *args):
    """Queue `job(*args)` unless the same job is already queued here and has not started: that one will
    see whatever the caller committed before asking. (A burst of webhook deliveries then costs a drain
    job per drain, not one per delivery.) With rq every call queues, as `enqueue` does."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        return enqueue(job, *args)
    jobs = _threads(app)
    return None if jobs.has_pending(job, args) else jobs.submit(job, args)


def pending(job, *args):
    """Is `job(*args)` queued in this process's pool and not started? (Always False with rq: Redis is
    not asked, `enqueue_unless_waiting` decides.)"""
    app = current_app._get_current_object()
    return app.config["SYNC_QUEUE"] != "rq" and _threads(app).has_pending(job, args)


def enqueue_later(seconds, job, *args):
    """Queue `job(*args)` after `seconds` (a job whose stream is busy elsewhere tries again later)."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        from .rq_backend import enqueue_rq

        return enqueue_rq(app, job, *args, delay=seconds)
    return _threads(app).submit_later(seconds, job, args)


def resume(job, *args):
    """Queue `job(*args)` again for work whose worker is gone, unless such a job is already waiting (in
    this process's pool, or in Redis). The job itself decides whether there is anything to do."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        from .rq_backend import resume_rq

        return resume_rq(app, job, *args)
    jobs = _threads(app)
    return None if jobs.has(job, args) else jobs.submit(job, args)


def cancel_installation_jobs(installation_id):
    """Drop the installation's jobs that have not started (queued or delayed); returns how many."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        from .rq_backend import cancel_rq

        return cancel_rq(app, installation_id)
    return _threads(app).cancel(installation_id)


class ThreadJobs:
    """SYNC_QUEUE=thread: a pool of THREAD_WORKERS threads, and timers for delayed jobs. Jobs not started
    yet are kept per installation so uninstall can cancel them."""

    def __init__(self, app):
        self.app = app
        self.pool = ThreadPoolExecutor(THREAD_WORKERS, thread_name_prefix="sync")
        self.lock = threading.Lock()
        self.waiting = {}  # installation id -> {future or timer: (job, args)}

    def submit(self, job, args):
        future = self.pool.submit(run_in_app, self.app, job, *args)
        self._track(job, args, future)
        future.add_done_callback(lambda done: self._untrack(args, done))
        return future

    def submit_later(self, seconds, job, args):
        def fire():
            self._untrack(args, timer)
            try:
                self.submit(job, args)
            except RuntimeError:  # the pool was shut down meanwhile: the app is stopping
                pass

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        self._track(job, args, timer)
        timer.start()
        return timer

    def has(self, job, args):
        """True when `job(*args)` is waiting or running in this pool."""
        with self.lock:
            return (job, tuple(args)) in self.waiting.get(args[0] if args else None, {}).values()

    def has_pending(self, job, args):
        """True when `job(*args)` is in the pool's queue and has not started (a delayed one does not count)."""
        with self.lock:
            items = self.waiting.get(args[0] if args else None, {}).items()
            return any(isinstance(item, Future) and not (item.running() or item.done()) and queued == (job, tuple(args))
                       for item, queued in items)

    def cancel(self, installation_id):
        with self.lock:
            waiting = self.waiting.pop(installation_id, {})
        # Future.cancel() succeeds only for a job still in the pool's queue; a running one stops by itself
        # at its next page (engine.SyncContext.check_running sees the installation uninstalling).
        return sum(1 for item in waiting if item.cancel() is not False)

    def shutdown(self, wait=True, cancel_futures=False):
        """As ThreadPoolExecutor.shutdown (tests wait for the jobs they started)."""
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def _track(self, job, args, item):
        if args and isinstance(args[0], int):
            with self.lock:
                self.waiting.setdefault(args[0], {})[item] = (job, tuple(args))

    def _untrack(self, args, item):
        if args and isinstance(args[0], int):
            with self.lock:
                self.waiting.get(args[0], {}).pop(item, None)


def _threads(app):
    jobs = app.extensions.get("sync_pool")
    if jobs is None:
        jobs = app.extensions.setdefault("sync_pool", ThreadJobs(app))
    return jobs
