"""The markers' rules (tests/conftest.py): a test needing a service that is down is skipped and says why,
unless REQUIRE_SERVICES=1 (.ci/run) makes it a failure."""
import os
import subprocess
import sys
from pathlib import Path

from widget.sandbox.serving import free_port

ROOT = Path(__file__).resolve().parents[1]
NEEDS_POSTGRES = "tests/test_factory.py::test_db_upgrade_on_empty_postgresql"


def _pytest(*args, **env):
    environ = {name: value for name, value in os.environ.items() if name != "REQUIRE_SERVICES"}
    environ.update(TEST_POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test", **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_a_test_needing_a_service_that_is_down_is_skipped_saying_why():
    done = _pytest(NEEDS_POSTGRES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "needs PostgreSQL: nothing answers on 127.0.0.1:" in done.stdout


def test_under_ci_a_test_needing_a_service_that_is_down_fails():
    done = _pytest(NEEDS_POSTGRES, REQUIRE_SERVICES="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "needs PostgreSQL: nothing answers on 127.0.0.1:" in done.stdout
