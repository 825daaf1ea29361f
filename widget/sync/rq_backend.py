"""SYNC_QUEUE=rq: sync jobs go to Redis through RQ; `flask --app wsgi worker` processes on any host run
them inside their app context. Which worker runs a job doesn't matter: the stream leases (engine.py,
rows in the shared database) keep one job per installation and stream at a time."""
from datetime import timedelta

from redis import Redis
from rq import Queue

JOB_TIMEOUT = 6 * 3600  # a first sync of a large account takes hours; leases, not timeouts, bound it


def sync_queue(app):
    return Queue(app.config["SYNC_RQ_QUEUE"], connection=Redis.from_url(app.config["REDIS_URL"]))


def enqueue_rq(app, job, *args, delay=None):
    queue = sync_queue(app)
    if delay:
        return queue.enqueue_in(timedelta(seconds=delay), perform, job, *args, job_timeout=JOB_TIMEOUT)
    return queue.enqueue(perform, job, *args, job_timeout=JOB_TIMEOUT)


def perform(job, *args):
    """What a worker runs: the named job, in the worker's app context."""
    from .queue import resolve

    return resolve(job)(*args)
