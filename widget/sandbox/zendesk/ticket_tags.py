"""A ticket's tags endpoints (Zendesk's Tags reference, docs/outside-apis-zendesk-audit.md "Tags"):
`GET` shows them, `POST` sets them (replacing all), `PUT` adds to them, `DELETE` (with a body) removes
some; each answers `{"tags": [...]}`. Closed tickets cannot take them (RecordInvalid from state); with
`safe_update` and an `updated_stamp` that is not the ticket's `updated_at`, the change is refused (409).
Changes go through `Account.update_ticket`, so they are audited and their drop-down fields follow.
"""
from flask import Blueprint, g, request

from .http import ApiError, bad_request, found, json_response, require_scope

bp = Blueprint("ticket_tags", __name__, url_prefix="/api/v2")

# NB: the wording of Zendesk's safe-update refusal; its exact body is not in recorded traffic.
UPDATE_CONFLICT = {"error": "UpdateConflict",
                   "description": "Safe Update prevented the update due to outdated ticket data. "
                                  "Please fetch the latest ticket data and try again."}


def _answer(ticket):
    return json_response({"tags": list(ticket["tags"])})


@bp.get("/tickets/<int:ticket_id>/tags")
def show_tags(ticket_id):
    require_scope("tickets", False)
    return _answer(found(g.account.tickets, ticket_id))


@bp.route("/tickets/<int:ticket_id>/tags", methods=["POST", "PUT", "DELETE"])
def change_tags(ticket_id):
    require_scope("tickets", True)
    body = request.get_json(silent=True) or {}
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise bad_request("Parameter tags must be a list of strings", "ParameterMissing")
    tags = {tag.strip() for tag in tags if tag.strip()}
    account = g.account
    with account.lock:
        ticket = found(g.account.tickets, ticket_id)
        if body.get("safe_update") in (True, "true") and body.get("updated_stamp") != ticket["updated_at"]:
            raise ApiError(409, UPDATE_CONFLICT)
        current = set(ticket["tags"])
        wanted = {"POST": tags, "PUT": current | tags, "DELETE": current - tags}[request.method]
        if wanted != current:
            account.update_ticket(ticket, {"tags": sorted(wanted)}, author_id=g.user["id"])
        return _answer(ticket)
