"""A job for the RQ workers test: holds an installation's stream lease for a moment and records when,
in Redis, so the test can check that no two runs of one installation's stream ever overlapped."""
import json
import os
import time

from redis import Redis

from widget.sync import engine, queue


def probe(redis_url, key, installation_id, stream, hold_seconds):
    try:
        with engine.lease(installation_id, stream):
            start = time.time()
            time.sleep(hold_seconds)
            Redis.from_url(redis_url).rpush(key, json.dumps(
                {"installation": installation_id, "stream": stream, "start": start, "end": time.time(),
                 "pid": os.getpid()}))
    except engine.LeaseHeld:  # the stream runs on another worker: try again shortly, as sync jobs do
        queue.enqueue_later(0.2, "tests.sync.rq_probe.probe", redis_url, key, installation_id, stream, hold_seconds)
