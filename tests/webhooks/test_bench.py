"""`flask --app wsgi bench webhooks`: signed deliveries to the extension under gunicorn, one JSON line with
the ingest figures; every event stored once though some are delivered twice."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.helpers import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {"events", "deliveries", "resent", "events_per_s", "p50_ms", "p95_ms", "p99_ms", "stored", "answers"}


def bench(*args):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "bench", "webhooks", *args], cwd=ROOT,
                          env=os.environ, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    return json.loads(line)


def assert_every_event_stored_once(result, events):
    assert FIGURES <= set(result), FIGURES - set(result)
    assert result["events"] == events and result["resent"] > 0
    assert result["deliveries"] == events + result["resent"]
    assert result["answers"] == {"stored": events, "duplicate": result["resent"]}
    assert result["stored"] == events  # nothing lost, no duplicate from a redelivery
    assert result["events_per_s"] > 0 and 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


def test_the_webhook_bench_prints_the_ingest_figures_on_sqlite():
    assert_every_event_stored_once(bench("--events", "150", "--concurrency", "4"), 150)


def schemas():
    engine = sqlalchemy.create_engine(POSTGRES_URL)
    try:
        return set(sqlalchemy.inspect(engine).get_schema_names())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_webhook_bench_on_postgresql_uses_a_schema_of_its_own_and_drops_it():
    before = schemas()
    result = bench("--events", "150", "--concurrency", "4", "--database-url", POSTGRES_URL)
    assert result["database"] == "postgresql"
    assert_every_event_stored_once(result, 150)
    assert schemas() == before
