"""A first sync run the way an operator runs it: `flask --app wsgi sync first ORG` in a process of its own,
against both sandboxes served in the test process (seeded with many tickets, limits off, API calls
counted), on an installation installed and authorized through the real OAuth pages
(tests/lifecycle/conftest.py) and provisioned."""
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.lifecycle.conftest import connect_tenant
from widget import create_app
from widget.extensions import db
from widget.lifecycle.install import on_crm_connected
from widget.models import Installation
from widget.bench import first_sync as sandboxes
from widget.sync import engine

ORG_ID = "org-crash"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Prepared:
    app: object
    bench: object  # the served sandboxes and their call counters (widget.bench.first_sync.Bench)
    env: dict
    installation_id: int

    def zendesk_account(self):
        return self.bench.zendesk.account(sandboxes.SUBDOMAIN)

    def crm_records(self, key):
        with self.app.app_context():
            module = db.session.get(Installation, self.installation_id).crm_modules[key]
        return list(self.bench.crm.state.data_centres[sandboxes.DC].org().modules[module].records.values())

    def start_sync(self, out=subprocess.DEVNULL, err=subprocess.DEVNULL):
        """`flask --app wsgi sync first ORG` as a child process (its pid is the Python process itself)."""
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "sync", "first", ORG_ID],
                                cwd=ROOT, env=self.env, stdout=out, stderr=err, text=True)

    def sync(self, timeout=600):
        """Run the first sync to its end in a child process; returns (its JSON answer, its peak RSS in MB).

        NB: the peak is the child's VmHWM, read while it runs: its rusage would count the pages it shared
        with this process (which holds both sandboxes) between fork and exec."""
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            process = self.start_sync(out, err)
            peak_kb, deadline = 0, time.monotonic() + timeout
            while process.poll() is None:
                peak_kb = max(peak_kb, _high_water_mark_kb(process.pid))
                if time.monotonic() > deadline:
                    process.kill()
                time.sleep(0.02)
            out.seek(0), err.seek(0)
            assert process.returncode == 0, err.read()[-3000:]
            return json.loads(out.read().strip().splitlines()[-1]), peak_kb / 1024


def _high_water_mark_kb(pid):
    """The process's peak resident memory so far (VmHWM, Linux), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except (FileNotFoundError, ProcessLookupError):
        return 0


@contextmanager
def prepared(tmp_path, tickets, comments_per_ticket=2, database=None, **settings):
    """`database`: a URL (default: SQLite in `tmp_path`); `settings`: more configuration (e.g. SYNC_QUEUE),
    for the test's app and the child processes alike."""
    bench = sandboxes.serve(tickets, comments_per_ticket)
    bench.crm.creds = bench.crm.credentials(bench.crm.url)
    zendesk_creds = bench.zendesk.credentials(bench.zendesk.url)
    database = database or f"sqlite:///{tmp_path / 'sync.db'}"
    config = {**settings,
        "DATABASE_URL": database, "CRM_SANDBOX_URL": bench.crm.url, "CRM_CLIENT_ID": bench.crm.creds["client_id"],
        "CRM_CLIENT_SECRET": bench.crm.creds["client_secret"], "ZENDESK_BASE_URL": bench.zendesk.url,
        "ZENDESK_CLIENT_ID": zendesk_creds["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk_creds["oauth_client_secret"], "EXTENSION_URL": "http://127.0.0.1:9",
        # The Zendesk sandbox's limits are off: our own pace of 10 export calls a minute need not apply.
        "ZENDESK_INCREMENTAL_CALLS_PER_MINUTE": "1000000",
    }
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database,
                      **{key: value for key, value in config.items() if key != "DATABASE_URL"},
                      "ZENDESK_INCREMENTAL_CALLS_PER_MINUTE": 1_000_000})
    engine.INCREMENTAL_PACERS.clear()  # per installation id, which every test database reuses
    try:
        with app.app_context():
            db.create_all()
        connect_tenant(app, bench.crm, bench.zendesk, ORG_ID, sandboxes.DC, sandboxes.SUBDOMAIN, webhook=False)
        with app.app_context():
            installation = db.session.scalar(db.select(Installation).filter_by(org_id=ORG_ID))
            on_crm_connected(installation)
            installation_id = installation.id
        env = {**os.environ, **config, "OAUTHLIB_INSECURE_TRANSPORT": "1"}
        yield Prepared(app, bench, env, installation_id)
    finally:
        bench.close()
        with app.app_context():
            db.engine.dispose()
