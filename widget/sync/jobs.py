"""Sync jobs of an installation: the hook uninstall uses to stop them (DESIGN §6, §7).

Uninstall marks the installation `uninstalling` first; every job checks that status before each
stream and between pages (engine.SyncContext.check_running), so running jobs stop at the next page on
any worker. Jobs still waiting in Redis (SYNC_QUEUE=rq) are cancelled here; in the thread pool a
waiting job starts, sees the status and ends at once.
"""
from flask import current_app


def stop_installation_jobs(installation):
    """Cancel the installation's queued jobs; returns how many were cancelled."""
    if current_app.config["SYNC_QUEUE"] != "rq":
        return 0
    from .rq_backend import sync_queue

    cancelled = 0
    for job in sync_queue(current_app).jobs:
        # perform(job name, installation id, ...): see rq_backend.enqueue_rq and the jobs in runs.py/inbox.py.
        if len(job.args) > 1 and job.args[1] == installation.id:
            job.cancel()
            cancelled += 1
    return cancelled
