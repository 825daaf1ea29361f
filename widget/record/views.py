"""The record-page widget: the "Zendesk Tickets" related list (F22)."""
from flask import Blueprint, g, render_template

from ..context import require_entity, widget_view

bp = Blueprint("record", __name__, url_prefix="/record")


@bp.get("/<entity>/<record_id>/tickets")
@widget_view()
def ticket_list(entity, record_id):
    """Tickets linked to this CRM record, from the local copy the sync keeps."""
    require_entity(entity)
    return render_template("record/tickets.html", entity=entity, record_id=record_id, tickets=[],
                           authorized=False, context_token=g.context_token)
