"""The record-page widget: the "Zendesk Tickets" related list (F22)."""
from flask import Blueprint, g, render_template, request

from ..connections import connection
from ..context import widget_view
from .listing import PAGE_SIZE, STATUSES, record_tickets

bp = Blueprint("record", __name__, url_prefix="/record")


@bp.get("/<entity>/<record_id>/tickets")
@widget_view(record=True)
def ticket_list(entity, record_id):
    """Tickets linked to this CRM record, from the local copy the sync keeps; filter and pages by htmx."""
    status = request.args.get("status") or None
    page = request.args.get("page", 1, type=int) or 1
    tickets, total = record_tickets(g.installation, entity, record_id, status, page)
    grant = connection(g.installation, "zendesk")
    template = "record/_ticket_list.html" if request.headers.get("HX-Request") else "record/tickets.html"
    return render_template(template, entity=entity, record_id=record_id, tickets=tickets, total=total,
                           page=page, pages=max(1, -(-total // PAGE_SIZE)), status=status, statuses=STATUSES,
                           authorized=grant is not None and grant.status == "active",
                           context_token=g.context_token)
