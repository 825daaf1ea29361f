"""SYNC_QUEUE=rq: two real `flask --app wsgi worker` processes on real Redis and PostgreSQL never run the
same installation's stream twice at once, while different installations run in parallel."""
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from redis import Redis

from tests.helpers import REDIS_URL
from widget import create_app
from widget.extensions import db
from widget.models import Installation, utcnow
from widget.sync import engine, queue


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_never_run_one_installations_stream_twice_at_once(postgres_url, tmp_path):
    queue_name, key = f"test-sync-{uuid.uuid4().hex[:8]}", f"probe-{uuid.uuid4().hex[:8]}"
    config = {"SQLALCHEMY_DATABASE_URI": postgres_url, "SYNC_QUEUE": "rq", "REDIS_URL": REDIS_URL,
              "SYNC_RQ_QUEUE": queue_name, "TESTING": True}
    app = create_app(config)
    redis = Redis.from_url(REDIS_URL)
    with app.app_context():
        db.create_all()
        installations = []
        for n in range(2):
            row = Installation(org_id=f"org-{n}", data_center="jp")
            db.session.add(row)
            db.session.commit()
            installations.append(row.id)
        # Eight jobs for each installation's `zendesk_tickets` stream, all queued at once, one
        # installation's after the other's: both workers reach for the same stream at the same time.
        for installation_id in installations:
            for _ in range(8):
                queue.enqueue("tests.sync.rq_probe.probe", REDIS_URL, key, installation_id, "zendesk_tickets", 0.15)
        db.session.remove()  # give its connection back before the pool is closed
        db.engine.dispose()
    env = dict(os.environ, DATABASE_URL=postgres_url, SYNC_QUEUE="rq", REDIS_URL=REDIS_URL, SYNC_RQ_QUEUE=queue_name)
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.time() + 90
        while redis.llen(key) < 16 and time.time() < deadline:
            time.sleep(0.2)
        runs = [json.loads(item) for item in redis.lrange(key, 0, -1)]
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=15)
            process.stderr.close()
        redis.delete(key)
        for leftover in redis.keys(f"rq:*{queue_name}*"):
            redis.delete(leftover)
        redis.close()
        app.extensions["sync_redis"].close()
    assert len(runs) == 16, f"only {len(runs)} of 16 jobs ran"
    assert len({run["pid"] for run in runs}) == 2, "both workers should have done work"
    for installation_id in installations:
        mine = sorted((r for r in runs if r["installation"] == installation_id), key=lambda r: r["start"])
        for earlier, later in itertools.pairwise(mine):
            assert later["start"] >= earlier["end"], f"installation {installation_id}'s stream ran twice at once"
    # Different installations did run side by side.
    first, second = ([r for r in runs if r["installation"] == i] for i in installations)
    assert any(a["start"] < b["end"] and b["start"] < a["end"] for a in first for b in second)


@pytest.mark.postgres
def test_a_stream_lease_goes_to_exactly_one_of_many_contenders_on_postgresql(postgres_url):
    """engine.acquire_lease under real concurrency on PostgreSQL: 16 threads, each with its own connection,
    reach at the same moment for a free lease (the insert path) and for an expired one (the update path)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url, "TESTING": True,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20}})
    contenders = 16
    with app.app_context():
        db.create_all()
        installation = Installation(org_id="org-lease", data_center="jp")
        db.session.add(installation)
        db.session.commit()
        installation_id = installation.id
        db.session.add(engine.StreamLease(installation_id=installation_id, stream="expired", holder="gone",
                                          expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    try:
        for stream in ("free", "expired"):
            start, winners = threading.Barrier(contenders), []

            def contend(n, stream=stream, start=start, winners=winners):
                with app.app_context():
                    start.wait()
                    if engine.acquire_lease(installation_id, stream, f"host:{n}"):
                        winners.append(n)
                    db.session.remove()

            threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert len(winners) == 1, f"{stream}: {len(winners)} holders at once"
            with app.app_context():
                holder = db.session.scalar(db.select(engine.StreamLease.holder).filter_by(stream=stream))
            assert holder == f"host:{winners[0]}"
    finally:
        with app.app_context():
            db.engine.dispose()
