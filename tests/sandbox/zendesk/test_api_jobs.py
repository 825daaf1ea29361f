"""Bulk jobs of the Zendesk sandbox: queued at once, worked asynchronously, results per endpoint
(docs/outside-apis.md#zendesk-job-statuses, docs/outside-apis.md#zendesk-writes-and-search)."""
import re
import threading
import time

from widget.sandbox.zendesk.jobs import JOB_TTL


def start(api, method, path, payload):
    response = api.request(method, api.base + path, json=payload)
    assert response.status_code == 200, response.text
    job = response.json()["job_status"]
    assert re.fullmatch(r"V3-[0-9a-f]{32}", job["id"])
    assert job["status"] == "queued" and job["total"] is None and job["progress"] is None
    assert job["url"] == f"{api.base}/job_statuses/{job['id']}.json"
    return job


def wait(api, job, timeout=10):
    """Poll the job's URL until it is done; returns the final job_status and the statuses seen."""
    seen = ["queued"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = api.get(job["url"]).json()["job_status"]
        if current["status"] != seen[-1]:
            seen.append(current["status"])
        if current["status"] in ("completed", "failed"):
            return current, seen
        time.sleep(0.02)
    raise AssertionError(f"job {job['id']} still {seen[-1]} after {timeout}s")


def test_tickets_create_many_results_and_tickets_exist(api, zendesk):
    job = start(api, "POST", "/tickets/create_many.json",
                {"tickets": [{"subject": f"bulk {n}", "comment": {"body": "b"}} for n in range(3)]})
    done, seen = wait(api, job)
    assert seen[0] == "queued" and seen[-1] == "completed"
    assert set(seen) <= {"queued", "working", "completed"}
    assert done["total"] == 3 and done["progress"] == 3 and done["message"].startswith("Completed at ")
    account_id = zendesk.account().id
    assert [set(r) for r in done["results"]] == [{"index", "id", "account_id"}] * 3
    assert [r["index"] for r in done["results"]] == [0, 1, 2]
    assert {r["account_id"] for r in done["results"]} == {account_id}
    for n, result in enumerate(done["results"]):
        assert api.get(api.base + f"/tickets/{result['id']}.json").json()["ticket"]["subject"] == f"bulk {n}"


def test_tickets_create_many_reports_a_bad_item_and_completes_the_rest(api):
    job = start(api, "POST", "/tickets/create_many.json",
                {"tickets": [{"comment": {"body": "ok"}}, {"comment": {"body": "bad"}, "priority": "meh"},
                             {"comment": {"body": "ok too"}}]})
    done, _ = wait(api, job)
    assert done["status"] == "completed"
    ok, bad, ok_too = done["results"]
    assert "id" in ok and "id" in ok_too
    assert bad == {"index": 1, "action": "create", "error": "InvalidValue",
                   "details": "Priority: meh is not valid", "success": False}


def test_tickets_update_many_both_forms_and_a_closed_ticket(api):
    ids = [api.post(api.base + "/tickets.json", json={"ticket": {"comment": {"body": "b"}}}).json()["ticket"]["id"]
           for _ in range(3)]
    api.put(api.base + f"/tickets/{ids[2]}.json", json={"ticket": {"status": "closed"}})

    job = start(api, "PUT", f"/tickets/update_many.json?ids={ids[0]},{ids[1]}", {"ticket": {"priority": "high"}})
    done, _ = wait(api, job)
    assert done["results"] == [{"id": i, "action": "update", "status": "Updated", "success": True} for i in ids[:2]]
    assert {api.get(api.base + f"/tickets/{i}.json").json()["ticket"]["priority"] for i in ids[:2]} == {"high"}

    job = start(api, "PUT", "/tickets/update_many.json",
                {"tickets": [{"id": ids[0], "status": "pending"}, {"id": ids[2], "status": "open"}]})
    done, _ = wait(api, job)
    assert done["status"] == "completed"
    assert done["results"][0] == {"id": ids[0], "action": "update", "status": "Updated", "success": True}
    assert done["results"][1] == {"index": 1, "id": ids[2], "action": "update", "error": "InvalidValue",
                                  "details": "Status: closed prevents ticket update", "success": False}


def test_users_create_many_and_create_or_update_many(api):
    job = start(api, "POST", "/users/create_many.json",
                {"users": [{"name": "Ann", "email": "ann@bulk.example"}, {"name": "Bo", "email": "bo@bulk.example"}]})
    done, _ = wait(api, job)
    assert [r["status"] for r in done["results"]] == ["Created", "Created"]
    assert [set(r) for r in done["results"]] == [{"id", "status"}] * 2
    ann_id = done["results"][0]["id"]

    job = start(api, "POST", "/users/create_or_update_many.json",
                {"users": [{"name": "Ann Updated", "email": "ANN@bulk.example"},
                           {"name": "Cy", "email": "cy@bulk.example", "external_id": "crm-cy"},
                           {"name": "Dup", "email": "not-an-email@"}]})
    done, _ = wait(api, job)
    # The shape of a real recorded create_or_update_many job: no index, no success; a failed item's
    # `id` is its position, not a record's.
    assert done["results"][0] == {"id": ann_id, "status": "Updated", "email": "ann@bulk.example"}
    assert done["results"][1]["status"] == "Created" and set(done["results"][1]) == {"id", "status", "email"}
    assert done["results"][2] == {"id": 2, "error": "InvalidFormat", "status": "Failed",
                                  "details": "Email: not-an-email@ is not properly formatted"}
    assert api.get(api.base + f"/users/{ann_id}.json").json()["user"]["name"] == "Ann Updated"


def test_organizations_create_many_reports_duplicate_names(api):
    job = start(api, "POST", "/organizations/create_many.json",
                {"organizations": [{"name": "Bulk Org"}, {"name": "Bulk Org"}]})
    done, _ = wait(api, job)
    created, duplicate = done["results"]
    assert created == {"id": created["id"], "status": "Created"}
    assert duplicate == {"id": 1, "error": "DuplicateValue", "details": "Name: Bulk Org has already been taken",
                         "status": "Failed"}


def test_users_and_organizations_bulk_past_100_are_too_many_values(api):
    users = [{"name": f"u{n}", "email": f"u{n}@x.example"} for n in range(101)]
    for path in ("/users/create_many.json", "/users/create_or_update_many.json"):
        response = api.post(api.base + path, json={"users": users})
        assert response.status_code == 400
        assert response.json() == {"error": "TooManyValues", "description": "Maximum 100 users may be created per call"}
    orgs = api.post(api.base + "/organizations/create_many.json", json={"organizations": [{"name": str(n)} for n in range(101)]})
    assert orgs.status_code == 400 and orgs.json()["max_count"] == 100


def test_job_statuses_list_show_many_and_unknown(api):
    first = start(api, "POST", "/organizations/create_many.json", {"organizations": [{"name": "J1"}]})
    second = start(api, "POST", "/organizations/create_many.json", {"organizations": [{"name": "J2"}]})
    wait(api, first), wait(api, second)
    listed = api.get(api.base + "/job_statuses.json").json()["job_statuses"]
    assert [j["id"] for j in listed][-2:] == [first["id"], second["id"]]
    many = api.get(api.base + "/job_statuses/show_many.json", params={"ids": f"{first['id']},{second['id']}"}).json()
    assert {j["id"] for j in many["job_statuses"]} == {first["id"], second["id"]}
    assert all(j["status"] == "completed" for j in many["job_statuses"])
    missing = api.get(api.base + "/job_statuses/V3-00000000000000000000000000000000.json")
    assert missing.status_code == 404 and missing.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_a_job_status_is_gone_once_the_job_ttl_has_passed(api, zendesk):
    job = start(api, "POST", "/organizations/create_many.json", {"organizations": [{"name": "Expiring"}]})
    wait(api, job)
    zendesk.state.clock.advance(JOB_TTL - 5)
    assert api.get(job["url"]).json()["job_status"]["status"] == "completed"
    zendesk.state.clock.advance(10)
    gone = api.get(job["url"])
    assert gone.status_code == 404 and gone.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert job["id"] not in [j["id"] for j in api.get(api.base + "/job_statuses.json").json()["job_statuses"]]


def test_jobs_run_in_the_background_while_clients_poll(api, zendesk):
    """The worker is held inside the first ticket's creation: the job is visibly `working` with
    progress 0 of 2 until it is let go, then completes."""
    gate = threading.Event()

    def hold_gated_tickets(account, event_type, kind, obj, previous, current):
        if event_type == "zen:event-type:ticket.created" and obj["subject"] == "gated":
            gate.wait(10)

    zendesk.state.listeners.append(hold_gated_tickets)
    job = start(api, "POST", "/tickets/create_many.json",
                {"tickets": [{"subject": "gated", "comment": {"body": "b"}}, {"subject": "free", "comment": {"body": "b"}}]})
    deadline = time.monotonic() + 5
    current = job
    while current["status"] == "queued" and time.monotonic() < deadline:
        current = api.get(job["url"]).json()["job_status"]
    assert current["status"] == "working" and current["total"] == 2 and current["progress"] == 0
    assert current["results"] == []
    gate.set()
    done, _ = wait(api, job)
    assert done["status"] == "completed" and done["progress"] == 2
