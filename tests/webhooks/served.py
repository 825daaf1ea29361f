"""An installation whose real-time channels reach the app: the extension served on a real loopback port
(so the Zendesk sandbox's webhook deliveries and the CRM sandbox's notifications arrive over HTTP), both
grants obtained through the real OAuth pages (tests/lifecycle/conftest.py), the CRM modules and
notification channel provisioned and the Zendesk webhook registered as the settings panel does."""
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from tests.helpers import wired_config
from tests.lifecycle.conftest import connect_tenant
from widget import create_app
from widget.connections import zendesk_client
from widget.extensions import db
from widget.lifecycle.install import on_crm_connected
from widget.models import InboxEvent, Installation, utcnow
from widget.sandbox.serving import BackgroundServer, free_port
from widget.settings.authorize import register_webhook
from widget.sync.engine import sync_settings
from widget.sync.mapping_rows import ensure_default_mappings


@dataclass
class Served:
    app: object
    url: str
    installation_id: int
    installation_key: str
    tenant: object

    def installation(self):
        return db.session.get(Installation, self.installation_id)

    def events(self, **filters):
        return db.session.scalars(db.select(InboxEvent).filter_by(installation_id=self.installation_id, **filters)
                                  .order_by(InboxEvent.id)).all()


@contextmanager
def served_installation(tmp_path, crm, zendesk, subdomain="acme", dc="jp", org_id="org-rt", first_sync_done=True,
                        process=False):
    """`process=True`: once set up, the extension is served by gunicorn in a process of its own, as in
    production, instead of a thread of the test's process (which also hosts both sandboxes)."""
    port = free_port()
    config = wired_config(tmp_path / "realtime.db", crm, zendesk, EXTENSION_URL=f"http://127.0.0.1:{port}")
    app = create_app(config)
    with app.app_context():
        db.create_all()
    server = BackgroundServer(app, port=port).start()
    try:
        tenant = connect_tenant(app, crm, zendesk, org_id, dc, subdomain, webhook=False)
        with app.app_context():
            installation = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
            on_crm_connected(installation)
            ensure_default_mappings(installation)  # before any delivery: drains would race to create them
            assert register_webhook(installation, zendesk_client(installation)) is None
            settings = sync_settings(installation)
            if first_sync_done:
                settings.first_sync_done_at = utcnow()
            db.session.commit()
            served = Served(app, server.url, installation.id, installation.installation_key, tenant)
        if process:
            server.close()
            server = GunicornServer(config, port).start()
        yield served
    finally:
        server.close()
        pool = app.extensions.get("sync_pool")
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with app.app_context():
            db.engine.dispose()


class GunicornServer:
    """`gunicorn wsgi:app` on `port`, configured by the environment from a test config mapping."""

    ENVIRONMENT = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL", "EXTENSION_URL": "EXTENSION_URL",
                   "CRM_SANDBOX_URL": "CRM_SANDBOX_URL", "CRM_CLIENT_ID": "CRM_CLIENT_ID",
                   "CRM_CLIENT_SECRET": "CRM_CLIENT_SECRET", "ZENDESK_BASE_URL": "ZENDESK_BASE_URL",
                   "ZENDESK_CLIENT_ID": "ZENDESK_CLIENT_ID", "ZENDESK_CLIENT_SECRET": "ZENDESK_CLIENT_SECRET"}

    def __init__(self, config, port):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **{name: str(config[key]) for key, name in self.ENVIRONMENT.items()},
                    "SYNC_QUEUE": "thread", "SCHEDULER_ENABLED": "0"}
        self.process = None

    def start(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        # A session of its own, so that `kill()` takes down the master and its worker at once.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "wsgi:app"], cwd=root, env=self.env, start_new_session=True)
        try:
            wait_for(self._healthy, timeout=30, interval=0.1)
        except BaseException:
            self.close()
            raise
        return self

    def _healthy(self):
        assert self.process.poll() is None, f"gunicorn exited with {self.process.returncode}"
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def kill(self):
        """SIGKILL to the master and its worker at once, as when a host or a container is lost."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def wait_for(condition, timeout=10.0, interval=0.02):
    """Poll `condition()` until it is truthy; return its value (AssertionError after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {condition}")
        time.sleep(interval)
