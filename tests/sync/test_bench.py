"""`flask --app wsgi bench sync`: a first sync sandbox to sandbox, reported as one JSON line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from widget.bench import first_sync as bench

ROOT = Path(__file__).resolve().parents[2]
REPORTED = {"tickets", "comments", "seconds", "tickets_per_s", "zendesk_calls", "crm_calls", "minimal_calls",
            "sync_peak_rss_mb", "crm_tickets", "crm_unique_ticket_ids", "crm_comments", "crm_unique_comment_ids"}


def test_the_bench_command_prints_one_json_line_with_the_counts_found_in_the_crm(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "bench", "sync", "--tickets", "300",
         "--comments-per-ticket", "3", "--latency-ms", "1"],
        cwd=ROOT, env={**os.environ, "WIDGET_INSTANCE_PATH": str(tmp_path)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    result = json.loads(line)
    assert REPORTED <= set(result), REPORTED - set(result)
    assert result["status"] == "done"
    assert (result["tickets"], result["comments"]) == (300, 900)
    assert result["crm_tickets"] == result["crm_unique_ticket_ids"] == 300
    assert result["crm_comments"] == result["crm_unique_comment_ids"] == 900
    # (seconds is rounded to a tenth; tickets_per_s comes from the unrounded time)
    assert result["seconds"] > 0 and result["tickets_per_s"] == pytest.approx(300 / result["seconds"], rel=0.1)
    assert result["minimal_calls"] >= bench.minimal_calls(300, 0, 900)
    assert result["zendesk_calls"] + result["crm_calls"] >= result["minimal_calls"] and result["sync_peak_rss_mb"] > 0
