"""SYNC_QUEUE=rq: sync jobs go to Redis through RQ; `flask --app wsgi worker` processes on any host run
them inside their app context. Which worker runs a job doesn't matter: the stream leases (engine.py,
rows in the shared database) keep one job per installation and stream at a time."""
from datetime import timedelta

from redis import Redis
from rq import Queue
from rq.job import Job

JOB_TIMEOUT = 6 * 3600  # a first sync of a large account takes hours; leases, not timeouts, bound it


def redis_connection(app):
    """One connection pool per app (a new one per call would leave sockets for the collector)."""
    connection = app.extensions.get("sync_redis")
    if connection is None:
        connection = app.extensions.setdefault("sync_redis", Redis.from_url(app.config["REDIS_URL"]))
    return connection


def sync_queue(app):
    return Queue(app.config["SYNC_RQ_QUEUE"], connection=redis_connection(app))


def enqueue_rq(app, job, *args, delay=None):
    queue = sync_queue(app)
    if delay:
        return queue.enqueue_in(timedelta(seconds=delay), perform, job, *args, job_timeout=JOB_TIMEOUT)
    return queue.enqueue(perform, job, *args, job_timeout=JOB_TIMEOUT)


def resume_rq(app, job_name, *args):
    """Queue `job_name(*args)` unless it waits in the queue or among the delayed jobs already. A job left
    in the started registry by a worker that died (SIGKILL, host lost) would stay there until its
    timeout, hours away, and then be marked failed: it is taken out and queued again instead. Called
    only for work whose heartbeat lapsed (runs.stalled_runs), so such a job has no live worker."""
    queue = sync_queue(app)
    wanted = (job_name, *args)
    scheduled = queue.scheduled_job_registry
    waiting = queue.jobs + _jobs(queue, scheduled.get_job_ids())
    if any(tuple(job.args) == wanted for job in waiting):
        return None
    started = queue.started_job_registry
    for job in _jobs(queue, started.get_job_ids(cleanup=False)):
        if tuple(job.args) == wanted:
            started.remove_executions(job)
            job.started_at = None
            return queue.enqueue_job(job, at_front=True)
    return enqueue_rq(app, job_name, *args)


def _jobs(queue, job_ids):
    return [job for job in Job.fetch_many(job_ids, connection=queue.connection) if job]


def cancel_rq(app, installation_id):
    """Remove the installation's jobs waiting in the queue or scheduled for later (delayed retries)."""
    queue = sync_queue(app)
    registry = queue.scheduled_job_registry
    waiting = queue.jobs + _jobs(queue, registry.get_job_ids())
    cancelled = 0
    for job in waiting:
        # perform(job name, installation id, ...): the installation's id is the job's first argument.
        if len(job.args) > 1 and job.args[1] == installation_id:
            registry.remove(job)
            job.delete()  # also takes it out of the queue
            cancelled += 1
    return cancelled


def perform(job, *args):
    """What a worker runs: the named job, in an app context of its own (so a fresh database session:
    a job that failed mid-transaction leaves nothing behind for the worker's next job)."""
    from flask import current_app

    from .queue import resolve

    with current_app.app_context():
        return resolve(job)(*args)
