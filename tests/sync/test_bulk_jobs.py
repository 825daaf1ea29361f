"""A bulk job whose status Zendesk no longer keeps (404 after its time to live) is reconciled, never
fatal: the people streams end exact, over real HTTP against both sandboxes."""
import pytest

from tests.helpers import ExpiringJobs
from tests.sync.test_people import clear_crm_accounts, organizations, seed, users_by_external_id

STAGES = ("queued", "working", "completed")


@pytest.fixture(params=STAGES)
def expiring(request, synced_installation):
    s = synced_installation
    jobs = ExpiringJobs(s.zendesk, s.zendesk_calls, request.param)
    s.zendesk_calls.reset()  # not the blocking job's call
    yield jobs
    jobs.close()


def resubmitted_total(s, jobs):
    """How many items the client sent again, in the job it submitted after the gone one (0: none)."""
    if len(jobs.jobs) < 2:
        return 0
    return s.account().job_statuses[jobs.jobs[1]]["total"]


def test_contacts_end_exact_when_their_jobs_status_expires(synced_installation, expiring):
    s = synced_installation
    _, _, contact_ids, _ = seed(s, contacts=30)
    users_before = len(s.account().users)

    s.run("crm_contacts")  # does not raise: the stream did not fail

    people = users_by_external_id(s)
    assert len(s.account().users) == users_before + 30
    assert sorted(people) == sorted(f"zcrm:Contacts:{i}" for i in contact_ids)
    assert all(len(found) == 1 for found in people.values())
    links = {link.crm_id: link.zendesk_id for link in s.links("user")}
    assert links == {crm_id: people[f"zcrm:Contacts:{crm_id}"][0]["id"] for crm_id in contact_ids}
    assert s.errors() == []
    # Only what was not yet written went again, in one new job.
    written_before = {"queued": 0, "working": 1, "completed": 30}[expiring.stage]
    assert s.zendesk_calls.count("POST", "/users/create_or_update_many") == (1 if written_before == 30 else 2)
    assert resubmitted_total(s, expiring) == 30 - written_before
    if written_before < 30:
        assert expiring.ours_when_resubmitted == written_before

    s.zendesk_calls.reset()
    s.run("crm_contacts")  # linked as after a normal job: nothing to write again
    assert s.zendesk_calls.count("POST") == 0


def test_accounts_end_exact_and_no_organization_is_created_twice(synced_installation, expiring):
    s = synced_installation
    clear_crm_accounts(s)
    account_ids, _, _, _ = seed(s, accounts=10)
    orgs_before = len(organizations(s))

    s.run("crm_accounts")

    ours = {}
    for org in organizations(s):
        if org.get("external_id"):
            ours.setdefault(org["external_id"], []).append(org)
    assert len(organizations(s)) == orgs_before + 10
    assert sorted(ours) == sorted(f"zcrm:Accounts:{i}" for i in account_ids)
    assert all(len(found) == 1 for found in ours.values())
    links = {link.crm_id: link.zendesk_id for link in s.links("organization")}
    assert links == {crm_id: ours[f"zcrm:Accounts:{crm_id}"][0]["id"] for crm_id in account_ids}
    assert s.errors() == []
    written_before = {"queued": 0, "working": 1, "completed": 10}[expiring.stage]
    assert s.zendesk_calls.count("POST", "/organizations/create_many") == (1 if written_before == 10 else 2)
    assert resubmitted_total(s, expiring) == 10 - written_before
    assert s.zendesk_calls.count("POST", "/organizations/create_or_update") == 0

    s.zendesk_calls.reset()
    s.run("crm_accounts")
    assert s.zendesk_calls.count("POST") == 0


def test_changes_of_linked_contacts_are_not_lost_with_the_jobs_status(synced_installation):
    """Users found by external_id count as written only if they hold what was sent: these exist (linked
    by an earlier sync), so the gone job's changes are sent again."""
    s = synced_installation
    _, _, contact_ids, _ = seed(s, contacts=5)
    s.run("crm_contacts")
    changed = contact_ids[:3]
    s.crm_update("Contacts", [{"id": crm_id, "Phone": f"+81-9-{n}"} for n, crm_id in enumerate(changed)])
    jobs = ExpiringJobs(s.zendesk, s.zendesk_calls, "queued")
    s.zendesk_calls.reset()
    try:
        s.run("crm_contacts")
    finally:
        jobs.close()

    people = users_by_external_id(s)
    assert [people[f"zcrm:Contacts:{crm_id}"][0]["phone"] for crm_id in changed] == ["+81-9-0", "+81-9-1", "+81-9-2"]
    assert s.zendesk_calls.count("POST", "/users/create_or_update_many") == 2
    assert resubmitted_total(s, jobs) == 3
    assert all(len(found) == 1 for found in people.values()) and s.errors() == []
