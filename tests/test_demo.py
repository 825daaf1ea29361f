"""`flask --app wsgi demo` starts the extension and both sandboxes, and prints where to go."""
import os
import re
import subprocess
import sys
import time

import requests
from cryptography.fernet import Fernet

from widget.sandbox.serving import free_port


def _wait_for(url, deadline):
    while time.time() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def test_demo_serves_extension_and_both_sandboxes(tmp_path):
    ports = [free_port() for _ in range(3)]
    # As on a fresh machine: nothing configured, not even WIDGET_ENV (the demo says development itself).
    env = {name: value for name, value in os.environ.items() if name != "WIDGET_ENV"}
    env.update(WIDGET_INSTANCE_PATH=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(ports[0]),
         "--zendesk-port", str(ports[1]), "--crm-port", str(ports[2])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        banner = ""
        while "Press Ctrl+C" not in banner and time.time() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, banner
            banner += line
        assert f"Open the CRM:  http://localhost:{ports[2]}/" in banner
        assert _wait_for(f"http://127.0.0.1:{ports[0]}/healthz", deadline).json() == {"status": "ok"}
        assert (tmp_path / "widget.db").exists()
        signin = _wait_for(f"http://localhost:{ports[2]}/", deadline)
        assert signin.status_code == 200 and "password" in signin.text.lower()
        email, password = re.search(r"sign in as (\S+) / (\S+)", banner).groups()
        assert email in signin.text
        # Zendesk is authorized by the CRM admin as themselves (the same email): one sign-in for both.
        assert re.search(r"Zendesk sign-in \(when you authorize\): the same, (\S+) / (\S+)", banner).groups() == \
            (email, password)
        zendesk = _wait_for(f"http://127.0.0.1:{ports[1]}/agent", deadline)
        assert zendesk.status_code == 200 and "password" in zendesk.text.lower()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_the_demo_never_runs_in_production(tmp_path):
    env = dict(os.environ, WIDGET_INSTANCE_PATH=str(tmp_path), WIDGET_ENV="production", SECRET_KEY="k" * 40,
               MARKETPLACE_SECRET="m" * 40, METRICS_TOKEN="t" * 40, EXTENSION_URL="https://ext.example.com",
               TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode())
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "WIDGET_ENV=development" in done.stderr
    assert not (tmp_path / "widget.db").exists()
