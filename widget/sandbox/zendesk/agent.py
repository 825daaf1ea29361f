"""A small agent UI for the Zendesk sandbox: sign in as a seeded agent or admin, list tickets, open one,
change its status or priority, add a public reply or an internal note.

Changes go through `Account.update_ticket`, like the API's, so webhooks fire and incremental exports see
them: a person can watch the product's real-time sync in the demo. The session is a signed first-party
cookie (this UI is never framed); forms carry a CSRF token bound to it.
"""
from flask import (Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for)
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf

from .apps import sidebar_frames
from .http import state
from .oauth import check_password
from .state import TICKET_PRIORITIES, TICKET_STATUSES, RecordInvalid

bp = Blueprint("agent", __name__, url_prefix="/agent")

PER_PAGE = 25


@bp.record_once
def _own_cookie(setup_state):
    # Cookies ignore ports: on 127.0.0.1 the sandbox and the product would overwrite each other's "session".
    setup_state.app.config["SESSION_COOKIE_NAME"] = "zendesk_sandbox_session"


@bp.context_processor
def _template_globals():
    return {"csrf_token": generate_csrf, "signed_in": _signed_in()}


@bp.before_request
def _check_csrf():
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            abort(400, "The form expired; reload the page and try again.")


def _signed_in():
    """(account, user) of the signed-in agent, or None."""
    who = session.get("agent")
    account = state().accounts.get(who["subdomain"]) if who else None
    user = account.users.get(who["user_id"]) if account else None
    return (account, user) if user else None


def _require_agent():
    signed_in = _signed_in()
    if signed_in is None:
        abort(redirect(url_for("agent.sign_in", next=request.full_path)))
    return signed_in


def _safe_next(target):
    """Only back into the agent UI after sign-in (never an open redirect)."""
    if target and target.startswith("/agent") and not target.startswith("//"):
        return target
    return url_for("agent.tickets")


@bp.route("/sign_in", methods=["GET", "POST"])
def sign_in():
    email = request.form.get("email", "").strip()
    if request.method == "POST":
        account, user = check_password(email, request.form.get("password", ""))
        if user is not None:
            session.clear()
            session["agent"] = {"subdomain": account.subdomain, "user_id": user["id"]}
            return redirect(_safe_next(request.args.get("next")))
        return render_template("agent/sign_in.html", email=email, error="Invalid email or password."), 401
    return render_template("agent/sign_in.html", email=email, error=None)


@bp.post("/sign_out")
def sign_out():
    session.clear()
    return redirect(url_for("agent.sign_in"))


@bp.get("")
@bp.get("/tickets")
def tickets():
    account, user = _require_agent()
    status = request.args.get("status", "")
    if status not in TICKET_STATUSES:
        status = ""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with account.lock:
        # Tickets are stored in creation order, so newest first is the reverse.
        found = [t for t in reversed(list(account.tickets.values())) if not status or t["status"] == status]
    rows = found[(page - 1) * PER_PAGE: page * PER_PAGE]
    return render_template("agent/tickets.html", account=account, user=user, rows=rows, users=account.users,
                           status=status, statuses=TICKET_STATUSES, page=page, total=len(found),
                           has_next=page * PER_PAGE < len(found))


def _ticket_or_404(account, ticket_id):
    ticket = account.tickets.get(ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def _render_ticket(account, user, ticket, error=None, status=200):
    # The ticket sidebar: each installed app's iframe, opened by a signed POST (apps.py), as the agent's
    # Zendesk does; the page's ZAF host script then tells the app the ticket and the agent's locale.
    origin = request.host_url.rstrip("/")
    apps = sidebar_frames(account, user, ticket, origin)
    return render_template("agent/ticket.html", account=account, user=user, ticket=ticket, users=account.users,
                           comments=account.comments.get(ticket["id"], []), statuses=TICKET_STATUSES,
                           priorities=TICKET_PRIORITIES, error=error, apps=apps), status


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id):
    account, user = _require_agent()
    return _render_ticket(account, user, _ticket_or_404(account, ticket_id))


@bp.post("/tickets/<int:ticket_id>/requester")
def change_requester(ticket_id):
    """Make a known user the ticket's requester, as the ticket page's Requester field does. The page's
    script sends it by fetch and then fires the ZAF event `ticket.requester.email.changed` into the sidebar
    apps (static/zaf_host.js), which stay mounted; without script, the page reloads."""
    account, user = _require_agent()
    ticket = _ticket_or_404(account, ticket_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    requester = account.find_user(email=request.form.get("email", ""))
    error = None
    if requester is None:
        error = "No user of this account has that email address."
    else:
        try:
            account.update_ticket(ticket, {"requester_id": requester["id"]}, author_id=user["id"])
        except RecordInvalid as invalid:
            error = "; ".join(item["description"] for items in invalid.details.values() for item in items)
    if wants_json:
        answer = {"error": error} if error else {"email": requester["email"], "name": requester["name"]}
        return jsonify(answer), 422 if error else 200
    if error:
        return _render_ticket(account, user, ticket, error=error, status=422)
    flash(f"Ticket #{ticket_id}'s requester changed.")
    return redirect(url_for("agent.ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>")
def update(ticket_id):
    account, user = _require_agent()
    ticket = _ticket_or_404(account, ticket_id)
    fields = {}
    if request.form.get("status") and request.form["status"] != ticket["status"]:
        fields["status"] = request.form["status"]
    if "priority" in request.form and (request.form["priority"] or None) != ticket["priority"]:
        fields["priority"] = request.form["priority"] or None
    body = request.form.get("comment", "").strip()
    comment = {"body": body, "public": request.form.get("public") == "1"} if body else None
    if not fields and comment is None:
        flash("Nothing to update.")
        return redirect(url_for("agent.ticket", ticket_id=ticket_id))
    try:
        account.update_ticket(ticket, fields, comment, author_id=user["id"])
    except RecordInvalid as error:
        message = "; ".join(item["description"] for items in error.details.values() for item in items)
        return _render_ticket(account, user, ticket, error=message, status=422)
    flash(f"Ticket #{ticket_id} updated.")
    return redirect(url_for("agent.ticket", ticket_id=ticket_id))
