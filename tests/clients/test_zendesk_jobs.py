"""Bulk jobs whose status Zendesk no longer keeps (404 after its time to live): the client reads the
records back, sends again only what is not written, and answers one result per input as after a normal
job. Against the Zendesk sandbox over real HTTP."""
import threading

import pytest

from tests.clients.test_zendesk import api_token_client
from tests.helpers import ExpiringJobs, served
from tests.sync.conftest import CountingApp
from widget.clients.zendesk import JOB_RESUBMITS, JobGone
from widget.sandbox.zendesk import create_sandbox
from widget.sandbox.zendesk.jobs import JOB_TTL


@pytest.fixture
def zendesk(serve):
    """The Zendesk sandbox served through a CountingApp (`.calls`)."""
    sandbox = create_sandbox()
    sandbox.calls = CountingApp(sandbox.app)
    return serve(sandbox, sandbox.calls)


@pytest.fixture
def expiring(request, zendesk):
    jobs = ExpiringJobs(zendesk, zendesk.calls, request.param)
    zendesk.calls.reset()
    yield jobs
    jobs.close()


class LaggingStatus:
    """Answers the first job status read 404, as a replica that has not seen the new job yet would."""

    def __init__(self, app):
        self.app, self.lagged = app, False

    def __call__(self, environ, start_response):
        if "/job_statuses/" in environ["PATH_INFO"] and not self.lagged:
            self.lagged = True
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error":"RecordNotFound","description":"Not found"}']
        return self.app(environ, start_response)


@pytest.mark.parametrize("expiring", ["completed"], indirect=True)
def test_users_of_a_gone_job_are_read_back_and_only_the_failed_one_sent_again(zendesk, expiring):
    client = api_token_client(zendesk, job_poll_interval=0.01)
    users = [{"name": f"Person {n}", "email": f"person{n}@example.jp", "external_id": f"zcrm:Contacts:{n}"}
             for n in range(150)]
    users[10] = {"name": "No External Id", "email": "plain@example.jp"}  # looked up by email
    users[40] = {"name": "Broken", "email": "not-an-email", "external_id": "zcrm:Contacts:40"}

    results = client.create_or_update_users(users)

    account = zendesk.account()
    assert [r["index"] for r in results] == list(range(150))
    assert results[10] == {"id": account.find_user(email="plain@example.jp")["id"], "status": "Updated", "index": 10,
                           "success": True}
    assert results[40]["success"] is False and "not properly formatted" in results[40]["details"]
    for n in set(range(150)) - {10, 40}:
        assert results[n]["id"] == account.find_user(external_id=f"zcrm:Contacts:{n}")["id"]
    # The first job (gone), the broken user alone (it is not in Zendesk), the second batch's job.
    assert zendesk.calls.count("POST", "/users/create_or_update_many") == 3
    assert account.job_statuses[expiring.jobs[1]]["total"] == 1


@pytest.mark.parametrize("expiring", ["working"], indirect=True)
def test_organizations_of_a_gone_job_are_never_created_twice(zendesk, expiring):
    client = api_token_client(zendesk, job_poll_interval=0.01)
    foreign = zendesk.account().create_organization({"name": "Taken Name"})
    organizations = [{"name": f"Org {n}", "external_id": f"zcrm:Accounts:{n}"} for n in range(5)]
    organizations.append({"name": "Taken Name", "external_id": "zcrm:Accounts:5"})

    results = client.create_many_organizations(organizations)

    account = zendesk.account()
    assert expiring.ours_when_resubmitted == 1  # the gone job had created the first one only
    for n in range(5):
        org = account.organizations[account.orgs_by_external_id[f"zcrm:accounts:{n}"]]
        assert results[n] == {"id": org["id"], "status": "Created", "index": n, "success": True}
        assert [o["name"] for o in account.organizations.values()].count(f"Org {n}") == 1
    assert results[5]["success"] is False and results[5]["error"] == "DuplicateValue"  # as a normal job says
    assert foreign["external_id"] is None
    assert account.job_statuses[expiring.jobs[1]]["total"] == 5


def test_a_status_missing_right_after_queueing_is_looked_at_again():
    sandbox = create_sandbox()
    sandbox.calls = CountingApp(LaggingStatus(sandbox.app))
    with served(sandbox, sandbox.calls):
        client = api_token_client(sandbox, job_poll_interval=0.01)
        results = client.create_or_update_users([{"name": "Lag", "email": "lag@example.jp", "external_id": "x-1"}])
    assert results == [{"id": sandbox.account().find_user(email="lag@example.jp")["id"], "status": "Created",
                        "index": 0, "success": True}]
    assert sandbox.calls.count("GET", "/show_many") == 0  # no reconciliation: the job was there


def test_a_status_that_keeps_expiring_ends_in_job_gone_and_never_a_duplicate(zendesk):
    """Every job is held behind a blocking one while its status expires: the client gives up after
    JOB_RESUBMITS new jobs. Once they all run, each user exists once."""
    client = api_token_client(zendesk, job_poll_interval=0.01)
    gate = threading.Event()
    zendesk.state.listeners.append(lambda account, event, kind, obj, *rest: obj.get("name") == "Blocker"
                                   and gate.wait(30))
    # queued, and not waited on
    client._request("POST", "organizations/create_many.json", json={"organizations": [{"name": "Blocker"}]})
    zendesk.calls.before("GET", "/job_statuses/", lambda path: zendesk.state.clock.advance(JOB_TTL + 1))
    users = [{"name": f"Again {n}", "email": f"again{n}@example.jp", "external_id": f"again-{n}"} for n in range(3)]
    users_before = len(zendesk.account().users)
    try:
        with pytest.raises(JobGone) as gone:
            client.create_or_update_users(users)
    finally:
        gate.set()

    assert gone.value.job_id.startswith("V3-") and "no longer has the status" in str(gone.value)
    assert zendesk.calls.count("POST", "/users/create_or_update_many") == 1 + JOB_RESUBMITS
    assert zendesk.calls.count("GET", "/job_statuses/") == 2 * (1 + JOB_RESUBMITS)  # each looked at twice
    zendesk.calls.actions.clear()
    client.create_or_update_users(users[:1])  # done only once the gone jobs, queued before it, have run
    assert len(zendesk.account().users) == users_before + 3
