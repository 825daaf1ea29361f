"""Organization memberships: a user may belong to several organizations, one of them the default, which
is the user's `organization_id` (Zendesk's Organization Memberships reference, docs/outside-apis-zendesk-audit.md).

State changes live here as functions of an account (called under its lock by state.py and the views
below), so the users' `organization_id` and their memberships never disagree. A ticket's organization
must be one of its requester's; without one given, a new ticket takes the requester's default.
"""
from flask import Blueprint, Response, g, request

from .http import api_url, bad_request, found, json_response, not_found, require_scope
from .pagination import paginate
from .state import invalid, iso

bp = Blueprint("memberships", __name__, url_prefix="/api/v2")


# ---- state -----------------------------------------------------------------------------------------
def of_user(account, user_id):
    """The user's memberships, oldest first."""
    return list(account.memberships_by_user.get(user_id, ()))


def organization_ids(account, user_id):
    return {m["organization_id"] for m in of_user(account, user_id)}


def add(account, user_id, organization_id, default=None, ts=None):
    """A new membership (the default one when the user had none, or when `default` is true); RecordInvalid
    when the user or organization does not exist or the user already belongs to it."""
    with account.lock:
        if user_id not in account.users:
            raise invalid("user_id", "User: is invalid", "InvalidValue")
        if organization_id not in account.organizations:
            raise invalid("organization_id", "Organization: is invalid", "InvalidValue")
        if organization_id in organization_ids(account, user_id):
            # NB: Zendesk publishes no body for a second membership of the same pair; a 422 here.
            raise invalid("user_id", "User: is already a member of this organization", "DuplicateValue")
        stamp = iso(account.now() if ts is None else ts)
        membership = {"id": account.big_id(), "user_id": user_id, "organization_id": organization_id,
                      "default": False, "view_tickets": False, "created_at": stamp, "updated_at": stamp}
        account.memberships[membership["id"]] = membership
        account.memberships_by_user.setdefault(user_id, []).append(membership)
        if default or len(of_user(account, user_id)) == 1:
            make_default(account, membership)
        return membership


def make_default(account, membership):
    with account.lock:
        for other in of_user(account, membership["user_id"]):
            other["default"] = other["id"] == membership["id"]
        account.users[membership["user_id"]]["organization_id"] = membership["organization_id"]


def remove(account, membership):
    """Delete a membership; when it was the default, the user's oldest other one becomes the default.
    NB: Zendesk does not say which membership becomes the default then; the oldest here."""
    with account.lock:
        del account.memberships[membership["id"]]
        account.memberships_by_user[membership["user_id"]].remove(membership)
        left = of_user(account, membership["user_id"])
        if membership["default"]:
            if left:
                make_default(account, left[0])
            else:
                account.users[membership["user_id"]]["organization_id"] = None


def set_user_organization(account, user, organization_id):
    """A user's `organization_id` set on create or update: that organization becomes the default
    membership (added when missing); None removes the default membership."""
    with account.lock:
        current = next((m for m in of_user(account, user["id"]) if m["default"]), None)
        if organization_id is None:
            if current is not None:
                remove(account, current)
            return
        existing = next((m for m in of_user(account, user["id"]) if m["organization_id"] == organization_id), None)
        if existing is None:
            add(account, user["id"], organization_id, default=True)
        else:
            make_default(account, existing)


def ticket_organization(account, requester_id, organization_id):
    """The organization a ticket of `requester_id` may have: `organization_id` when the requester belongs
    to it ("You can only specify the ID of an organization associated with the requester", Tickets
    reference), else RecordInvalid."""
    if organization_id is None or organization_id == account.users[requester_id]["organization_id"] \
            or organization_id in organization_ids(account, requester_id):
        return organization_id
    raise invalid("organization_id", "Organization: the requester is not a member of it", "InvalidValue")


# ---- views -----------------------------------------------------------------------------------------
def _render(membership):
    org = g.account.organizations.get(membership["organization_id"]) or {}
    return {"url": api_url(f"organization_memberships/{membership['id']}.json"), "id": membership["id"],
            "user_id": membership["user_id"], "organization_id": membership["organization_id"],
            "default": membership["default"], "organization_name": org.get("name"),
            "view_tickets": membership["view_tickets"],
            "created_at": membership["created_at"], "updated_at": membership["updated_at"]}


def _listed(found):
    ordered = sorted(found, key=lambda m: m["id"])
    return json_response(paginate("organization_memberships", ordered, _render))


def _membership(membership_id, user_id=None):
    membership = g.account.memberships.get(membership_id)
    if membership is None or (user_id is not None and membership["user_id"] != user_id):
        raise not_found()
    return membership


@bp.get("/organization_memberships")
def list_memberships():
    require_scope("organizations", False)
    with g.account.lock:
        return _listed(list(g.account.memberships.values()))


@bp.get("/users/<int:user_id>/organization_memberships")
def list_user_memberships(user_id):
    require_scope("users", False)
    with g.account.lock:
        found(g.account.users, user_id)
        return _listed(of_user(g.account, user_id))


@bp.get("/organizations/<int:org_id>/organization_memberships")
def list_organization_memberships(org_id):
    require_scope("organizations", False)
    with g.account.lock:
        found(g.account.organizations, org_id)
        return _listed([m for m in g.account.memberships.values() if m["organization_id"] == org_id])


@bp.get("/organization_memberships/<int:membership_id>")
@bp.get("/users/<int:user_id>/organization_memberships/<int:membership_id>")
def show_membership(membership_id, user_id=None):
    require_scope("organizations", False)
    return json_response({"organization_membership": _render(_membership(membership_id, user_id))})


@bp.post("/organization_memberships")
@bp.post("/users/<int:user_id>/organization_memberships")
def create_membership(user_id=None):
    """`{"organization_membership": {"user_id", "organization_id", "default"?}}`; 201 with Location."""
    require_scope("organizations", True)
    data = (request.get_json(silent=True) or {}).get("organization_membership")
    if not isinstance(data, dict):
        raise bad_request("Parameter organization_membership is required", "ParameterMissing")
    if user_id is not None:
        found(g.account.users, user_id)
    membership = add(g.account, user_id if user_id is not None else data.get("user_id"), data.get("organization_id"),
                     default=bool(data.get("default")))
    return json_response({"organization_membership": _render(membership)}, 201,
                         {"Location": api_url(f"organization_memberships/{membership['id']}.json")})


@bp.delete("/organization_memberships/<int:membership_id>")
@bp.delete("/users/<int:user_id>/organization_memberships/<int:membership_id>")
def delete_membership(membership_id, user_id=None):
    require_scope("organizations", True)
    with g.account.lock:
        remove(g.account, _membership(membership_id, user_id))
    return Response(status=204)


@bp.put("/users/<int:user_id>/organization_memberships/<int:membership_id>/make_default")
def make_default_view(user_id, membership_id):
    """Answers the user's memberships (Set Membership as Default)."""
    require_scope("organizations", True)
    with g.account.lock:
        make_default(g.account, _membership(membership_id, user_id))
        return _listed(of_user(g.account, user_id))
