"""The sandbox's Zendesk Support resource endpoints: tickets, comments, users, organizations, bulk jobs,
fields metadata and search (docs/outside-apis.md#zendesk-objects, docs/outside-apis.md#zendesk-pagination,
docs/outside-apis.md#zendesk-writes-and-search, docs/outside-apis.md#zendesk-errors).

Authentication, rate limits, faults and the `.json` suffix are handled before these views run
(`__init__.py`); validation lives in `state.py` (RecordInvalid becomes the 422 body there too). Views
turn request JSON into state calls and state objects into Zendesk's envelopes.
"""
import calendar
import time
from functools import partial

from flask import Blueprint, Response, g, request

from . import jobs, render
from .http import (ApiError, api_url, bad_request, found, json_response, not_found, request_json, require_scope,
                   too_many_values)
from .pagination import is_cursor_request, paginate
from .search import parse, search
from .state import RecordInvalid, invalid, iso

bp = Blueprint("api", __name__, url_prefix="/api/v2")

MAX_BULK = 100
# real (docs/outside-apis.md#zendesk-writes-and-search, docs/outside-apis.md#zendesk-errors)
TOO_MANY_USERS = "Maximum 100 users may be created per call"
# NB: the body clients quote for page 11 at 100 per page (docs/outside-apis.md#zendesk-pagination; several public
# clients, e.g. a Java Zendesk search client's comment); zenpy maps 422 "invalid" to SearchResponseLimitExceeded.
SEARCH_LIMIT = {"error": "invalid",
                "description": "Invalid search: Requested response size was greater than Search Response Limits"}
SEARCH_RESULT_LIMIT = 1000


# ---- shared helpers ------------------------------------------------------------------------------
def _created(payload, path):
    return json_response(payload, 201, {"Location": api_url(f"{path}.json")})


def _payload(key):
    """The `{key: {...}}` object of the request body."""
    data = request_json().get(key)
    if not isinstance(data, dict):
        # NB: Zendesk publishes no body for a missing root key; this follows the classic envelope.
        raise bad_request(f"Parameter {key} is required", "ParameterMissing")
    return data


def _bulk(key, limit_error):
    """The list under `key` (at most 100 items, else `limit_error`)."""
    items = request_json().get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request(f"Parameter {key} must be a list of objects", "ParameterMissing")
    if len(items) > MAX_BULK:
        raise limit_error
    return items


def _ids_arg(name="ids", as_int=True):
    """`?ids=1,2,3` (at most 100 values, else 400 TooManyValues)."""
    raw = [part.strip() for part in request.args.get(name, "").split(",") if part.strip()]
    if len(raw) > MAX_BULK:
        raise too_many_values()
    if not as_int:
        return raw
    return [int(part) for part in raw if part.isdigit()]


def _snapshot(mapping):
    with g.account.lock:
        return list(mapping.values())


def _show_many(envelope, mapping, render_one, by_external_id=None):
    """`?ids=`, or `?external_ids=` when `by_external_id` (lower-cased external id -> id) is given: real
    Zendesk's users and organizations show_many take either list (100 values), matched case-insensitively."""
    if by_external_id is not None and "ids" not in request.args and "external_ids" in request.args:
        wanted = [by_external_id.get(value.lower()) for value in _ids_arg("external_ids", as_int=False)]
    else:
        wanted = _ids_arg()
    found = [mapping[i] for i in wanted if i in mapping]
    return json_response({envelope: [render_one(obj) for obj in found],
                          "next_page": None, "previous_page": None, "count": len(found)})


def _submit(kind, items, work, action, failed_as=None):
    queued = jobs.runner().submit(g.account, kind, items, work, action, failed_as)
    return json_response({"job_status": render.job_status(queued)})


# ---- tickets -------------------------------------------------------------------------------------
TICKET_KEYS = ("subject", "status", "priority", "type", "requester_id", "assignee_id", "group_id",
               "organization_id", "external_id", "tags", "custom_fields", "due_at")


def _ticket_fields(account, data, ticket=None):
    """Ticket input -> fields for state.create_ticket/update_ticket, resolving the write-only keys
    `requester` {name, email} (creates or finds the user), `assignee_email` and the tag batches."""
    fields = {key: data[key] for key in TICKET_KEYS if key in data}
    requester = data.get("requester")
    if isinstance(requester, dict):
        fields["requester_id"] = _inline_requester(account, requester)["id"]
    if data.get("assignee_email"):
        assignee = account.find_user(email=data["assignee_email"])
        if assignee is None:
            raise invalid("assignee", "Assignee: is invalid", "InvalidValue")
        fields["assignee_id"] = assignee["id"]
    if ticket is not None and ("additional_tags" in data or "remove_tags" in data):
        tags = set(fields.get("tags", ticket["tags"])) | set(data.get("additional_tags") or [])
        fields["tags"] = sorted(tags - set(data.get("remove_tags") or []))
    return fields


def _inline_requester(account, requester):
    email = (requester.get("email") or "").strip()
    existing = account.find_user(email=email) if email else None
    if existing is not None:
        return existing
    name = (requester.get("name") or email.split("@")[0]).strip()
    if not name:
        raise invalid("requester", "Requester: Name: is too short (minimum one character)", "InvalidValue")
    return account.create_user({"name": name, "email": email or None, "locale": requester.get("locale", "en-US")})


def _comment_input(data):
    comment = data.get("comment")
    if isinstance(comment, str):
        return {"body": comment}
    return dict(comment) if isinstance(comment, dict) else None


def _latest_audit(account, ticket_id):
    for event in reversed(account.ticket_events):
        if event["ticket_id"] == ticket_id:
            return event
    return None


def create_ticket_from(account, data, author_id):
    """Create a ticket from API input (single create and create_many)."""
    fields = _ticket_fields(account, data)
    fields.setdefault("requester_id", author_id)  # the requester defaults to the caller
    # NB: zenpy sends only `description`; Zendesk makes it the first comment when `comment` is absent.
    comment = _comment_input(data) or ({"body": data["description"]} if data.get("description") else None)
    if comment is None:
        raise invalid("description", "Description: cannot be blank", "BlankValue")
    ticket, _ = account.create_ticket(fields, comment, author_id)
    return ticket


@bp.get("/tickets")
def list_tickets():
    require_scope("tickets", False)
    tickets = _snapshot(g.account.tickets)
    if "external_id" in request.args:
        # NB: external_id is not unique; the filter "may return multiple tickets"
        # (docs/outside-apis.md#zendesk-objects).
        tickets = [t for t in tickets if str(t.get("external_id")) == request.args["external_id"]]
    return json_response(paginate("tickets", tickets, partial(render.ticket, g.account), order="nice_id"))


def _count(value):
    """Zendesk's count endpoints (Count Tickets, Count Organizations, Count Users, Count Ticket Comments)
    answer `{"count": {"value": n, "refreshed_at": time}}`; the real one caches counts over 100,000 and
    refreshes them daily, the sandbox counts at once."""
    return json_response({"count": {"value": value, "refreshed_at": iso(g.account.now())}})


@bp.get("/tickets/count")
def count_tickets():
    require_scope("tickets", False)
    return _count(len(_snapshot(g.account.tickets)))


@bp.get("/tickets/<int:ticket_id>")
def show_ticket(ticket_id):
    require_scope("tickets", False)
    return json_response({"ticket": render.ticket(g.account, found(g.account.tickets, ticket_id))})


@bp.get("/tickets/show_many")
def show_many_tickets():
    require_scope("tickets", False)
    return _show_many("tickets", g.account.tickets, partial(render.ticket, g.account))


@bp.post("/tickets")
def create_ticket():
    require_scope("tickets", True)
    key = request.headers.get("Idempotency-Key")
    if key:
        return _idempotent(key, _create_ticket)
    return _create_ticket()


def _create_ticket():
    ticket = create_ticket_from(g.account, _payload("ticket"), g.user["id"])
    payload = {"ticket": render.ticket(g.account, ticket),
               "audit": render.audit(g.account, _latest_audit(g.account, ticket["id"]), ticket)}
    return _created(payload, f"tickets/{ticket['id']}")


IDEMPOTENCY_TTL = 2 * 3600  # Zendesk keeps an Idempotency-Key's answer for two hours


def _idempotent(key, create):
    """Zendesk's `Idempotency-Key` on ticket creation (the API introduction's "Idempotency"): the first
    request's answer is kept, and a repeat with the same key and body gets it again, with
    `x-idempotency-lookup: hit` (`miss` on the first). Repeats wait while the first is being created.
    NB: the error for the same key with another body follows the docs' wording; not seen in recorded traffic."""
    account, body = g.account, request.get_data()
    with account.idempotency_lock:
        kept = account.idempotent_answers.get(key)
        if kept is not None and kept["expires"] <= account.now():
            del account.idempotent_answers[key]
            kept = None
        if kept is not None:
            if kept["body"] != body:
                raise bad_request("Request parameters do not match the original request with this Idempotency-Key",
                                  "IdempotentRequestError")
            return json_response(kept["payload"], kept["status"], {**kept["headers"], "x-idempotency-lookup": "hit"})
        response = create()  # a refusal raises: nothing kept, and a corrected repeat may create
        account.idempotent_answers[key] = {"body": body, "payload": response.get_json(), "status": response.status_code,
                                           "headers": {"Location": response.headers["Location"]},
                                           "expires": account.now() + IDEMPOTENCY_TTL}
        response.headers["x-idempotency-lookup"] = "miss"
        return response


@bp.put("/tickets/<int:ticket_id>")
def update_ticket(ticket_id):
    require_scope("tickets", True)
    account = g.account
    ticket = found(account.tickets, ticket_id)
    data = _payload("ticket")
    account.update_ticket(ticket, _ticket_fields(account, data, ticket), _comment_input(data), g.user["id"])
    return json_response({"ticket": render.ticket(account, ticket),
                          "audit": render.audit(account, _latest_audit(account, ticket_id), ticket)})


@bp.delete("/tickets/<int:ticket_id>")
def delete_ticket(ticket_id):
    require_scope("tickets", True)
    with g.account.lock:
        found(g.account.tickets, ticket_id)
        g.account.delete_ticket(ticket_id)
    return Response(status=204)


@bp.post("/tickets/create_many")
def create_many_tickets():
    require_scope("tickets", True)
    items = _bulk("tickets", too_many_values())
    account, author_id = g.account, g.user["id"]

    def work(index, item):
        ticket = create_ticket_from(account, item, author_id)
        return {"index": index, "id": ticket["id"], "account_id": account.id}

    return _submit("tickets", items, work, "create")


@bp.put("/tickets/update_many")
def update_many_tickets():
    """Either `?ids=1,2` with one `{"ticket": {...}}` for all, or `{"tickets": [{"id": 1, ...}, ...]}`."""
    require_scope("tickets", True)
    if "ids" in request.args:
        changes = _payload("ticket")
        items = [dict(changes, id=ticket_id) for ticket_id in _ids_arg()]
    else:
        items = _bulk("tickets", too_many_values())
    account, author_id = g.account, g.user["id"]

    def work(index, item):
        ticket = account.tickets.get(item.get("id"))
        if ticket is None:
            raise jobs.ItemFailed("RecordNotFound", "Not found", item.get("id"), "update")
        try:
            account.update_ticket(ticket, _ticket_fields(account, item, ticket), _comment_input(item), author_id)
        except RecordInvalid as error:
            raise jobs.failure_from(error, ticket["id"], "update") from error
        return {"id": ticket["id"], "action": "update", "status": "Updated", "success": True}

    return _submit("tickets", items, work, "update")


def _comment_key(comment):
    return calendar.timegm(time.strptime(comment["created_at"], "%Y-%m-%dT%H:%M:%SZ")), comment["id"]


@bp.get("/tickets/<int:ticket_id>/comments")
def list_comments(ticket_id):
    """Sorted by created_at ascending; `sort=-created_at` (cursor) or `sort_order=desc` (offset) reverses."""
    require_scope("tickets", False)
    found(g.account.tickets, ticket_id)
    with g.account.lock:
        comments = sorted(g.account.comments.get(ticket_id, []), key=_comment_key)
    key = _comment_key
    if request.args.get("sort") == "-created_at" or request.args.get("sort_order") == "desc":
        comments.reverse()

        def key(comment):
            ts, comment_id = _comment_key(comment)
            return -ts, -comment_id

    return json_response(paginate("comments", comments, render.comment, order="created_at,id", key=key))


@bp.get("/tickets/<int:ticket_id>/comments/count")
def count_comments(ticket_id):
    require_scope("tickets", False)
    found(g.account.tickets, ticket_id)
    with g.account.lock:
        return _count(len(g.account.comments.get(ticket_id, [])))


# ---- users ---------------------------------------------------------------------------------------
USER_KEYS = ("name", "email", "role", "external_id", "organization_id", "phone", "tags", "user_fields",
             "locale", "time_zone", "verified", "alias", "details", "notes", "suspended")


def _user_fields(account, data):
    fields = {key: data[key] for key in USER_KEYS if key in data}
    if not fields.get("email"):
        emails = [i.get("value") for i in data.get("identities") or [] if i.get("type") == "email"]
        if emails:
            fields["email"] = emails[0]
    organization = data.get("organization")
    if isinstance(organization, dict) and organization.get("name"):
        # NB: `organization: {name}` associates the user with that organization, creating it if needed.
        org_id = account.orgs_by_name.get(organization["name"].strip().lower())
        fields["organization_id"] = org_id or account.create_organization({"name": organization["name"]})["id"]
    return fields


def create_or_update_user(account, data):
    """(user, created?) matching on email or external_id, case-insensitively
    (docs/outside-apis.md#zendesk-writes-and-search)."""
    fields = _user_fields(account, data)
    existing = account.find_user(email=fields.get("email")) or account.find_user(external_id=fields.get("external_id"))
    if existing is not None:
        return account.update_user(existing, fields), False
    return account.create_user(fields), True


@bp.get("/users")
def list_users():
    require_scope("users", False)
    users = _snapshot(g.account.users)
    roles = request.args.getlist("role") + request.args.getlist("role[]")
    if roles:
        users = [u for u in users if u["role"] in roles]
    return json_response(paginate("users", users, render.user))


@bp.get("/users/count")
def count_users():
    """`role` / `role[]` filter as on List Users."""
    require_scope("users", False)
    users = _snapshot(g.account.users)
    roles = request.args.getlist("role") + request.args.getlist("role[]")
    return _count(len([u for u in users if not roles or u["role"] in roles]))


@bp.get("/users/<int:user_id>")
def show_user(user_id):
    require_scope("users", False)
    return json_response({"user": render.user(found(g.account.users, user_id))})


@bp.get("/users/me")
def me():
    require_scope("users", False)
    return json_response({"user": render.user(g.user)})


@bp.get("/users/show_many")
def show_many_users():
    require_scope("users", False)
    return _show_many("users", g.account.users, render.user, g.account.users_by_external_id)


@bp.get("/users/search")
def search_users():
    """`?query=` (search syntax, e.g. `email:x`) or `?external_id=` (exact); offset only."""
    require_scope("users", False)
    if "external_id" in request.args:
        found = g.account.find_user(external_id=request.args["external_id"])
        users = [found] if found else []
    else:
        users = [obj for _, obj in search(g.account, request.args.get("query", ""), only="user")]
    return json_response(paginate("users", users, render.user, allow_cursor=False))


@bp.post("/users")
def create_user():
    require_scope("users", True)
    user = g.account.create_user(_user_fields(g.account, _payload("user")))
    return _created({"user": render.user(user)}, f"users/{user['id']}")


@bp.put("/users/<int:user_id>")
def update_user(user_id):
    require_scope("users", True)
    user = found(g.account.users, user_id)
    g.account.update_user(user, _user_fields(g.account, _payload("user")))
    return json_response({"user": render.user(user)})


@bp.post("/users/create_or_update")
def create_or_update_user_view():
    require_scope("users", True)
    user, created = create_or_update_user(g.account, _payload("user"))
    return json_response({"user": render.user(user)}, 201 if created else 200,
                         {"Location": api_url(f"users/{user['id']}.json")})


@bp.post("/users/create_many")
def create_many_users():
    require_scope("users", True)
    items = _bulk("users", too_many_values(TOO_MANY_USERS))
    account = g.account

    def work(index, item):
        return {"id": account.create_user(_user_fields(account, item))["id"], "status": "Created"}

    return _submit("users", items, work, "create", jobs.failed_status)


@bp.post("/users/create_or_update_many")
def create_or_update_many_users():
    require_scope("users", True)
    items = _bulk("users", too_many_values(TOO_MANY_USERS))
    account = g.account

    def work(index, item):
        # The shape of a real recorded job (docs/outside-apis-zendesk-audit.md, "Job results").
        user, created = create_or_update_user(account, item)
        return {"id": user["id"], "status": "Created" if created else "Updated", "email": user["email"]}

    return _submit("users", items, work, "create_or_update", jobs.failed_status)


# ---- organizations -------------------------------------------------------------------------------
ORGANIZATION_KEYS = ("name", "external_id", "domain_names", "details", "notes", "group_id", "shared_tickets",
                     "shared_comments", "tags", "organization_fields")


def _organization_fields(data):
    return {key: data[key] for key in ORGANIZATION_KEYS if key in data}


@bp.get("/organizations")
def list_organizations():
    require_scope("organizations", False)
    return json_response(paginate("organizations", _snapshot(g.account.organizations), render.organization))


@bp.get("/organizations/count")
def count_organizations():
    require_scope("organizations", False)
    return _count(len(_snapshot(g.account.organizations)))


@bp.get("/organizations/autocomplete")
def autocomplete_organizations():
    """`?name=`: the organizations whose name starts with it (case-insensitive), by name, in pages (cursor
    or offset), as Zendesk's "Autocomplete Organizations" lists them. NB: Zendesk asks for at least two
    characters; the answer to fewer is not published (docs/outside-apis.md#zendesk-open-points): a 400 here."""
    require_scope("organizations", False)
    prefix = request.args.get("name", "").strip().lower()
    if len(prefix) < 2:
        raise bad_request("Name must be at least 2 characters", "InvalidValue")
    found = sorted((o for o in _snapshot(g.account.organizations) if o["name"].lower().startswith(prefix)),
                   key=_by_name)
    return json_response(paginate("organizations", found, render.organization, order="name", key=_by_name))


def _by_name(organization):
    return organization["name"].lower(), organization["id"]


@bp.get("/organizations/<int:org_id>")
def show_organization(org_id):
    require_scope("organizations", False)
    return json_response({"organization": render.organization(found(g.account.organizations, org_id))})


@bp.get("/organizations/show_many")
def show_many_organizations():
    require_scope("organizations", False)
    return _show_many("organizations", g.account.organizations, render.organization,
                      g.account.orgs_by_external_id)


@bp.get("/organizations/search")
def search_organizations():
    """`?name=` or `?external_id=`, not both: the organization whose name (or external id) is exactly the
    value, compared case-insensitively, as Zendesk's "Search Organizations" endpoint does; offset pages.
    NB: Zendesk does not say what a request with neither (or both) gets; a 400 here."""
    require_scope("organizations", False)
    account = g.account
    if ("name" in request.args) == ("external_id" in request.args):
        raise bad_request("Search by name or by external_id, not both", "InvalidValue")
    if "name" in request.args:
        found_id = account.orgs_by_name.get(request.args["name"].strip().lower())
    else:
        found_id = account.orgs_by_external_id.get(request.args["external_id"].lower())
    found = [account.organizations[found_id]] if found_id in account.organizations else []
    return json_response(paginate("organizations", found, render.organization, allow_cursor=False))


@bp.post("/organizations")
def create_organization():
    require_scope("organizations", True)
    org = g.account.create_organization(_organization_fields(_payload("organization")))
    return _created({"organization": render.organization(org)}, f"organizations/{org['id']}")


@bp.put("/organizations/<int:org_id>")
def update_organization(org_id):
    require_scope("organizations", True)
    org = found(g.account.organizations, org_id)
    g.account.update_organization(org, _organization_fields(_payload("organization")))
    return json_response({"organization": render.organization(org)})


@bp.post("/organizations/create_or_update")
def create_or_update_organization():
    """Matches on `id` or `external_id` only, never on name: "Name is not available as a matching
    criteria" (docs/outside-apis.md#zendesk-writes-and-search), so a new name that is taken is a 422 RecordInvalid from
    state."""
    require_scope("organizations", True)
    account = g.account
    data = _payload("organization")
    existing = None
    if data.get("id") is not None:
        existing = found(account.organizations, data["id"])
    elif data.get("external_id"):
        existing_id = account.orgs_by_external_id.get(str(data["external_id"]).lower())
        existing = account.organizations.get(existing_id)
    if existing is not None:
        org, status = account.update_organization(existing, _organization_fields(data)), 200
    else:
        org, status = account.create_organization(_organization_fields(data)), 201
    return json_response({"organization": render.organization(org)}, status,
                         {"Location": api_url(f"organizations/{org['id']}.json")})


@bp.post("/organizations/create_many")
def create_many_organizations():
    require_scope("organizations", True)
    items = _bulk("organizations", too_many_values())
    account = g.account

    def work(index, item):
        return {"id": account.create_organization(_organization_fields(item))["id"], "status": "Created"}

    return _submit("organizations", items, work, "create", jobs.failed_status)


# ---- job statuses --------------------------------------------------------------------------------
def _may_see(job):
    """A job is readable with `read`, or with the scopes of the resource it works on."""
    grant = getattr(g, "grant", None)
    if grant is None:
        return True
    kind = job.get("_kind")
    return bool(set(grant.scope.split()) & {"read", f"{kind}:read", f"{kind}:write"})


def _jobs_payload(found):
    return {"job_statuses": [render.job_status(jobs.snapshot(g.account, job)) for job in found if _may_see(job)]}


@bp.get("/job_statuses")
def list_job_statuses():
    return json_response(_jobs_payload(jobs.visible_jobs(g.account)))


@bp.get("/job_statuses/show_many")
def show_many_job_statuses():
    wanted = set(_ids_arg(as_int=False))
    return json_response(_jobs_payload([job for job in jobs.visible_jobs(g.account) if job["id"] in wanted]))


@bp.get("/job_statuses/<job_id>")
def show_job_status(job_id):
    job = next((job for job in jobs.visible_jobs(g.account) if job["id"] == job_id), None)
    if job is None:
        raise not_found()
    if not _may_see(job):
        require_scope(job["_kind"], False)
    return json_response({"job_status": render.job_status(jobs.snapshot(g.account, job))})


# ---- fields metadata -----------------------------------------------------------------------------
def _list_fields(envelope, fields, render_one, kind):
    """Every field ordered by position, or a cursor page when `page[size]` is sent
    (docs/outside-apis.md#zendesk-job-statuses)."""
    require_scope(kind, False)
    ordered = sorted(fields, key=lambda field: (field["position"], field["id"]))
    if is_cursor_request():
        return json_response(paginate(envelope, ordered, render_one, order="position,id",
                                      key=lambda field: (field["position"], field["id"])))
    return json_response({envelope: [render_one(field) for field in ordered],
                          "next_page": None, "previous_page": None, "count": len(ordered)})


@bp.get("/ticket_fields")
def list_ticket_fields():
    return _list_fields("ticket_fields", g.account.ticket_fields, render.ticket_field, "tickets")


@bp.get("/ticket_fields/<int:field_id>")
def show_ticket_field(field_id):
    require_scope("tickets", False)
    field = next((f for f in g.account.ticket_fields if f["id"] == field_id), None)
    if field is None:
        raise not_found()
    return json_response({"ticket_field": render.ticket_field(field)})


@bp.get("/user_fields")
def list_user_fields():
    return _list_fields("user_fields", g.account.user_fields, render.user_field, "users")


@bp.get("/organization_fields")
def list_organization_fields():
    return _list_fields("organization_fields", g.account.organization_fields, render.organization_field,
                        "organizations")


# ---- search --------------------------------------------------------------------------------------
_RESULT_KINDS = {"ticket": "tickets", "user": "users", "organization": "organizations"}


def _search_results():
    query = request.args.get("query", "")
    for kind in parse(query)[0]:
        require_scope(_RESULT_KINDS[kind], False)
    found = search(g.account, query)
    sort_by = request.args.get("sort_by")
    if sort_by in ("created_at", "updated_at"):
        # NB: with sort_by, results come newest first unless sort_order=asc (search reference).
        found.sort(key=lambda pair: pair[1][sort_by], reverse=request.args.get("sort_order", "desc") != "asc")
    elif request.args.get("sort_order") == "desc":
        found.reverse()
    return found


def _render_result(pair):
    kind, obj = pair
    rendered = {"ticket": partial(render.ticket, g.account), "user": render.user,
                "organization": render.organization}[kind](obj)
    return {**rendered, "result_type": kind}


@bp.get("/search")
def search_view():
    """Offset only, at most 100 a page and 1,000 results: a page past them is 422 `invalid`."""
    payload = paginate("results", _search_results(), _render_result, allow_cursor=False,
                       record_limit=SEARCH_RESULT_LIMIT, limit_error=ApiError(422, SEARCH_LIMIT))
    payload["facets"] = None
    return json_response(payload)


@bp.get("/search/count")
def search_count():
    return json_response({"count": len(_search_results())})
