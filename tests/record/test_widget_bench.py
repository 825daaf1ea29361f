"""`flask --app wsgi bench widget`: the record widget served by gunicorn and driven by concurrent clients,
next to a bare Flask endpoint served the same way, reported as one JSON line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from widget.bench.serving import BenchRefused, Gunicorn

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("bare", "related_list", "ticket_detail", "ticket_detail_local_copy")
FIGURES = {"requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "statuses"}


def test_the_widget_bench_prints_one_json_line_with_each_endpoints_figures(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "bench", "widget", "--tickets", "30", "--other-tickets", "300",
         "--comments-per-ticket", "2", "--clients", "4", "--seconds", "0.5", "--workers", "1", "--threads", "2"],
        cwd=ROOT, env={**os.environ, "WIDGET_INSTANCE_PATH": str(tmp_path)}, capture_output=True, text=True,
        timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "route=record.ticket_list" not in done.stderr  # the servers' request lines go to their own logs
    (line,) = done.stdout.splitlines()
    result = json.loads(line)
    assert (result["clients"], result["workers"], result["threads"], result["tickets"]) == (4, 1, 2, 30)
    assert result["database"] == "sqlite"
    for name in TARGETS:
        figures = result[name]
        assert FIGURES <= set(figures), (name, FIGURES - set(figures))
        assert figures["requests"] == sum(figures["statuses"].values()) > 0, name
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], name
        # requests/s over the driven half second and the last answers' time (however slow a loaded machine is)
        assert figures["requests"] / 10 < figures["requests_per_s"] <= figures["requests"] / 0.5, name
    assert result["bare"]["statuses"] == {"200": result["bare"]["requests"]}
    # The related list answered every request as the widget's own page: the context the bench signed as the
    # CRM does was accepted, for the record it names.
    assert result["related_list"]["statuses"] == {"200": result["related_list"]["requests"]}
    # The detail, of tickets the Zendesk sandbox holds: read live from it, then from the local copy alone.
    for name in ("ticket_detail", "ticket_detail_local_copy"):
        assert result[name]["statuses"] == {"200": result[name]["requests"]}, name
    assert result["ticket_detail"]["zendesk_calls"] >= 2 * result["ticket_detail"]["requests"]
    assert result["ticket_detail_local_copy"]["zendesk_calls"] == 0
    for name in TARGETS[1:]:
        ratio = result[name]["requests_per_s"] / result["bare"]["requests_per_s"]
        assert abs(result[name]["ratio_to_bare"] - ratio) <= 0.01, name
    assert isinstance(result["target_met"], bool)


def test_a_server_that_does_not_start_says_why_from_its_log(tmp_path):
    log = tmp_path / "extension.log"
    with pytest.raises(BenchRefused, match=r"(?s)gunicorn exited with \d+:.*No module named 'widget.nowhere'"):
        with Gunicorn("widget.nowhere:app", dict(os.environ), 1, 1, "/ping", str(log)):
            pass
