"""`flask --app wsgi sandbox zendesk`: run in a subprocess on a free port, read the credentials file it
writes, and call the API with them."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from widget.sandbox.company import company
from widget.sandbox.serving import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def start(tmp_path, *args):
    """Start the command; returns (process, credentials path, stdout path)."""
    credentials, stdout = tmp_path / "credentials.json", tmp_path / "stdout.txt"
    env = dict(os.environ, WIDGET_INSTANCE_PATH=str(tmp_path / "instance"))
    with open(stdout, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "sandbox", "zendesk", "--port", str(free_port()),
             "--credentials-out", str(credentials), *args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, credentials, stdout


def wait_for(process, path, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "the sandbox command exited early"
        assert time.monotonic() < deadline, f"no credentials file after {timeout} s"
        time.sleep(0.1)
    return json.loads(path.read_text(encoding="utf-8"))


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def api_token_auth(account):
    return (f"{account['admin_email']}/token", account["api_token"])


def test_command_writes_credentials_that_work(tmp_path):
    process, path, stdout = start(tmp_path, "--seed-tickets", "5", "--plan", "team", "--accounts", "acme,globex")
    try:
        credentials = wait_for(process, path, timeout=30)
        base = credentials["base_url"]
        assert base.startswith("http://127.0.0.1:")
        assert credentials["oauth_client_id"] == "zendesk_for_zoho_crm" and credentials["oauth_client_secret"]
        assert credentials["token_url"] == f"{base}/oauth/tokens"
        assert [a["subdomain"] for a in credentials["accounts"]] == ["acme", "globex"]
        account_ids = set()
        for account in credentials["accounts"]:
            assert account["plan"] == "team"
            response = requests.get(f"{base}/api/v2/account/subscription.json", auth=api_token_auth(account))
            assert response.status_code == 200 and response.json()["subscription"]["plan_name"] == "Team"
            account_ids.add(response.json()["subscription"]["account_id"])
            me = requests.get(f"{base}/api/v2/users/me.json", auth=api_token_auth(account)).json()["user"]
            assert me["email"] == account["admin_email"]
            tickets = requests.get(f"{base}/api/v2/tickets.json", auth=api_token_auth(account)).json()
            assert len(tickets["tickets"]) == 5
        assert len(account_ids) == 2  # each API token reaches its own account
        # The printed credentials are the same as the file's.
        printed = stdout.read_text(encoding="utf-8")
        assert f"Zendesk sandbox at {base}" in printed and credentials["oauth_client_secret"] in printed
    finally:
        stop(process)


def test_the_company_seed_is_the_demo_companys_support_desk(tmp_path):
    process, path, _ = start(tmp_path, "--seed", "company", "--seed-tickets", "20")
    try:
        credentials = wait_for(process, path, timeout=30)
        account = credentials["accounts"][0]
        tickets = requests.get(f"{credentials['base_url']}/api/v2/tickets.json", auth=api_token_auth(account)).json()
        assert len(tickets["tickets"]) == 20
        emails = {person.email for person in company().contacts + company().leads}
        ids = ",".join(str(t["requester_id"]) for t in tickets["tickets"])
        requesters = requests.get(f"{credentials['base_url']}/api/v2/users/show_many.json", params={"ids": ids},
                                  auth=api_token_auth(account)).json()
        assert sum(user["email"] in emails for user in requesters["users"]) >= 10  # CRM people, mostly
    finally:
        stop(process)


@pytest.mark.parametrize("args", [["--plan", "platinum"], ["--accounts", ""], ["--accounts", "acme,acme"],
                                  ["--accounts", "bad name"], ["--seed-tickets", "-1"], ["--seed", "random"]])
def test_bad_options_are_refused(app, args):
    result = app.test_cli_runner().invoke(args=["sandbox", "zendesk", *args])
    assert result.exit_code == 2, result.output


@pytest.mark.slow
@pytest.mark.benchmark
def test_seeding_100000_tickets_takes_under_a_minute(tmp_path):
    started = time.monotonic()
    process, path, _ = start(tmp_path, "--seed-tickets", "100000")
    try:
        credentials = wait_for(process, path, timeout=120)
        elapsed = time.monotonic() - started
        assert elapsed < 60, f"seeding 100,000 tickets took {elapsed:.0f} s"
        account = credentials["accounts"][0]
        last = requests.get(f"{credentials['base_url']}/api/v2/tickets/100000.json", auth=api_token_auth(account))
        assert last.status_code == 200 and last.json()["ticket"]["id"] == 100000
    finally:
        stop(process)
