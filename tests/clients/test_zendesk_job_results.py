"""Every documented wording of a bulk job's result items read into one shape (`job_results`,
docs/outside-apis-zendesk-audit.md "Job results"); the sandbox's own jobs are read in
tests/clients/test_zendesk_jobs.py and tests/sync."""
from widget.clients.zendesk import is_taken, job_results


def read(*items):
    return job_results({"status": "completed", "results": list(items)})


def test_items_done_in_each_wording():
    assert read({"id": 244, "index": 0}, {"index": 1, "id": 245, "account_id": 7}) == [
        {"index": 0, "success": True, "id": 244, "status": "Created"},
        {"index": 1, "success": True, "id": 245, "status": "Created"}]
    assert read({"id": 5, "status": "Created"}, {"id": 6, "status": "Updated", "email": "a@b.example"}) == [
        {"index": 0, "success": True, "id": 5, "status": "Created"},
        {"index": 1, "success": True, "id": 6, "status": "Updated"}]
    assert read({"id": 255, "action": "update", "status": "Updated", "success": True}) == [
        {"index": 0, "success": True, "id": 255, "status": "Updated"}]


def test_failed_items_in_each_wording_never_give_a_record_id():
    recorded = {"id": 2, "error": "UserUpdateError", "details": "Email: x is not properly formatted",
                "status": "Failed"}  # a real create_or_update_many job: `id` is the item's position
    spec = {"id": 9, "action": "update", "error": "RecordInvalid", "details": "Status: closed prevents ticket update",
            "success": False}  # the OpenAPI file's FailedResult
    older = {"id": 10, "action": "update", "errors": "Validation failed", "success": False}
    assert read({"id": 1, "status": "Created"}, {"id": 7, "status": "Updated"}, recorded) == [
        {"index": 0, "success": True, "id": 1, "status": "Created"},
        {"index": 1, "success": True, "id": 7, "status": "Updated"},
        {"index": 2, "success": False, "error": "UserUpdateError", "details": "Email: x is not properly formatted"}]
    assert read(spec, older) == [
        {"index": 0, "success": False, "error": "RecordInvalid", "details": "Status: closed prevents ticket update"},
        {"index": 1, "success": False, "error": "Failed", "details": "Validation failed"}]
    assert read({"index": 3, "action": "create", "error": "DuplicateValue", "details": "Name: X has already been taken",
                 "success": False})[0]["index"] == 3


def test_a_duplicate_is_known_by_its_code_or_its_wording():
    assert is_taken(read({"id": 0, "error": "DuplicateValue", "details": "", "status": "Failed"})[0])
    assert is_taken(read({"id": 0, "error": "OrganizationCreateError", "details": "Name: X has already been taken",
                          "status": "Failed"})[0])
    assert not is_taken(read({"id": 0, "error": "InvalidFormat", "details": "Email: bad", "status": "Failed"})[0])
    assert not is_taken(read({"id": 4, "status": "Created"})[0])


def test_results_that_are_no_list_have_no_items():
    assert job_results({"status": "completed", "results": {"success": True}}) == []
    assert job_results({"status": "completed", "results": None}) == []
