"""Bulk jobs (`create_many`, `update_many`, `create_or_update_many`): answered at once with a queued
job_status, then run by one background worker thread per sandbox app, moving `queued` → `working` →
`completed` (or `failed`) while clients poll `/api/v2/job_statuses/{id}` (docs/outside-apis.md#zendesk-job-statuses,
docs/outside-apis.md#zendesk-writes-and-search).
"""
import secrets
import threading
import time

from flask import current_app

from ..workers import IdleWorkers
from .state import RecordInvalid

JOB_TTL = 3600  # "jobs expire within an hour" (docs/outside-apis.md#zendesk-job-statuses)
LISTED_JOBS = 100  # "only the last 100 are listed"

_runner_lock = threading.Lock()


class ItemFailed(Exception):
    """One item of a bulk job could not be processed; the job goes on with the others."""

    def __init__(self, error, details, record_id=None, action=None):
        super().__init__(details)
        self.error, self.details, self.record_id, self.action = error, details, record_id, action


def failure_from(invalid, record_id=None, action=None):
    """A RecordInvalid as a per-item failure: the first error code, and the descriptions as text."""
    problems = [problem for problems in invalid.details.values() for problem in problems]
    error = problems[0].get("error", "RecordInvalid") if problems else "RecordInvalid"
    details = " ".join(problem["description"] for problem in problems)
    return ItemFailed(error, details, record_id, action)


class JobRunner:
    """A queue of jobs and the background thread that works through them in order."""

    def __init__(self):
        self.worker = IdleWorkers(lambda job: self._run(*job), name="zendesk-sandbox-jobs")

    def submit(self, account, kind, items, work, action, failed_as=None):
        """Queue `work(index, item) -> result dict` over `items` (of `kind`: tickets, users...);
        returns the job as it was when queued (the worker may already be on it). `failed_as(index,
        ItemFailed) -> result dict` words a failed item (default: the OpenAPI file's FailedResult)."""
        # NB: a queued job reports `total` and `progress` as null ([ZENPY-CASS] create_many).
        job = {"id": f"V3-{secrets.token_hex(16)}", "total": None, "progress": None, "status": "queued",
               "message": None, "results": None, "_created": account.now(), "_kind": kind}
        with account.lock:
            account.job_statuses[job["id"]] = job
        queued = dict(job)
        self.worker.put((account, job, list(items), work, action, failed_as or failed_result))
        return queued

    @staticmethod
    def _run(account, job, items, work, action, failed_as):
        with account.lock:
            job.update(status="working", total=len(items), progress=0, results=[])
        try:
            for index, item in enumerate(items):
                result = _attempt(index, item, work, action, failed_as)
                with account.lock:
                    job["results"].append(result)
                    job["progress"] = index + 1
        except Exception as error:  # noqa: BLE001 - a broken job is reported as `failed`, like Zendesk does
            with account.lock:
                job.update(status="failed", message=f"Failed: {error}")
            return
        with account.lock:
            job.update(status="completed",
                       message="Completed at " + time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(account.now())))


def _attempt(index, item, work, action, failed_as):
    try:
        return work(index, item)
    except RecordInvalid as invalid:
        failed = failure_from(invalid, action=action)
    except ItemFailed as error:
        failed = error
    failed.action = failed.action or action
    return failed_as(index, failed)


def failed_result(index, failed):
    """The reference's FailedResult, `{id, action, error, details, success: false}` (OAS JobStatusResultObject;
    the sandbox adds the item's `index`, and `id` only when the item named a record, e.g. an update)."""
    result = {"index": index}
    if failed.record_id is not None:
        result["id"] = failed.record_id
    result.update(action=failed.action, error=failed.error, details=failed.details, success=False)
    return result


def failed_status(index, failed):
    """A failed item of a users or organizations job as a real recorded job words it: `{"id", "error",
    "details", "status": "Failed"}`, with no `index` nor `success`; its `id` is no record's (the recorded
    one, 2, was the item's position), so the sandbox puts the position there too
    (docs/outside-apis-zendesk-audit.md, "Job results")."""
    return {"id": index, "error": failed.error, "details": failed.details, "status": "Failed"}


def runner():
    """This sandbox app's job runner."""
    app = current_app._get_current_object()
    with _runner_lock:
        return app.extensions.setdefault("zendesk_sandbox_jobs", JobRunner())


def visible_jobs(account):
    """The account's unexpired jobs, oldest first, at most the last 100."""
    cutoff = account.now() - JOB_TTL
    with account.lock:
        for job_id in [j for j, job in account.job_statuses.items() if job["_created"] < cutoff]:
            del account.job_statuses[job_id]
        return list(account.job_statuses.values())[-LISTED_JOBS:]


def snapshot(account, job):
    """A consistent copy of a job while the worker may be changing it."""
    with account.lock:
        copy = dict(job)
        if copy["results"] is not None:
            copy["results"] = [dict(result) for result in copy["results"]]
        return copy
