"""Where sync jobs run. `SYNC_QUEUE=thread` (default): a small worker pool inside the app process.
`SYNC_QUEUE=rq`: jobs go to Redis via RQ and `flask --app wsgi worker` processes on any host run them.

Jobs are named by dotted path (e.g. "widget.sync.runs.first_sync_job") so RQ can run them anywhere;
every job runs inside an application context.
"""
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor

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
    return _pool(app).submit(run_in_app, app, job, *args)


def enqueue_later(seconds, job, *args):
    """Queue `job(*args)` after `seconds` (a job whose stream is busy elsewhere tries again later)."""
    app = current_app._get_current_object()
    if app.config["SYNC_QUEUE"] == "rq":
        from .rq_backend import enqueue_rq

        return enqueue_rq(app, job, *args, delay=seconds)
    timer = threading.Timer(seconds, lambda: _pool(app).submit(run_in_app, app, job, *args))
    timer.daemon = True
    timer.start()
    return timer


def _pool(app):
    pool = app.extensions.get("sync_pool")
    if pool is None:
        pool = app.extensions["sync_pool"] = ThreadPoolExecutor(THREAD_WORKERS, thread_name_prefix="sync")
    return pool
