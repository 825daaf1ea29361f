"""The record-page widget: the "Zendesk Tickets" related list (F22), a ticket opened in place, and the
rep's reply.

The list keeps itself current by polling its fragment every 30 seconds while the tab is visible (and
at once when the tab becomes visible again, or when a ticket is created in place: the `ticketCreated`
event), keeping the page and filter the rep is on. Polling rather than server-sent events: a stream
would hold a long-lived connection open for every CRM page left open, through a cross-site iframe, to
carry changes that are rare; and the local copy changes within seconds of Zendesk's webhook, so a cheap
local read every 30 seconds shows a change about as soon.

Every route is bound to the record the CRM signed the context for (`widget_view(record=True)`), and a
ticket that is not one of that record's tickets answers 404 and shows nothing.
"""
from flask import Blueprint, g, make_response, render_template, request
from flask_babel import gettext as _

from ..connections import connection
from ..context import widget_view
from ..extensions import csrf
from ..labels import TICKET_STATUS_LABELS
from ..numbers import page_number
from . import listing, rendered, reply, thread
from .times import user_clock

bp = Blueprint("record", __name__, url_prefix="/record")
csrf.exempt(bp)  # its forms carry a token bound to the widget context instead (settings/forms.py)


@bp.get("/<entity>/<record_id>/tickets")
@widget_view(record=True)
def ticket_list(entity, record_id):
    """The record's tickets from the local copy the sync keeps: open ones first, filter and pages by htmx.
    What htmx asks for (the list's polls, filters and pages) is served as rendered before while the
    local copy has not changed since (rendered.py)."""
    filter_name, page = request.args.get("status") or listing.DEFAULT_FILTER, page_number(request.args.get("page"))
    if not request.htmx:
        values = _list_values(entity, record_id, filter_name, page)
        return _render("record/_ticket_list.html", entity, record_id, **values)
    key = rendered.list_key(g.installation_key, g.local_copy_version, entity, record_id, filter_name, page, g.locale,
                            g.user)
    body = rendered.lists().get(key)
    if body is None:
        values = _list_values(entity, record_id, filter_name, page)
        body = render_template("record/_ticket_list.html", **_template_values(
            entity, record_id, values, context_token=rendered.CONTEXT_PLACEHOLDER))
        rendered.lists().put(key, body, values["listing"].until)
    return _response(rendered.with_context(body, g.context_token))


def _list_values(entity, record_id, filter_name, page):
    shown = listing.ticket_page(g.installation, entity, record_id, filter_name, page)
    return {"listing": shown, "back": {"status": shown.filter, "page": shown.page}}


@bp.get("/<entity>/<record_id>/tickets/<id:ticket_id>")
@widget_view(record=True)
def ticket_detail(entity, record_id, ticket_id):
    """One of the record's tickets with its thread, live from Zendesk (the local copy when Zendesk fails)."""
    row = listing.visible_ticket(g.installation, entity, record_id, ticket_id)
    if row is None:
        return _not_theirs()
    ticket = thread.ticket_view(g.installation, row)
    return _render("record/_ticket_detail.html", entity, record_id, ticket=ticket, ticket_id=ticket_id,
                   form=reply.ReplyForm(formdata=None, current_status=ticket.status))


@bp.post("/<entity>/<record_id>/tickets/<id:ticket_id>/comments")
@widget_view(record=True)
def post_comment(entity, record_id, ticket_id):
    """The rep's reply or internal note and/or a new status. Invalid or refused: the form comes back with
    the message next to its field and the text kept, and nothing changes."""
    row = listing.visible_ticket(g.installation, entity, record_id, ticket_id)
    if row is None:
        return _not_theirs()
    form = reply.ReplyForm(current_status=row.status)
    failure = None
    if form.validate_on_submit():
        text, public, status = form.text, form.visibility.data == "public", form.new_status
        try:
            reply.post_reply(g.installation, row, g.user, text, public, status)
        except reply.ReplyFailed as failed:
            failure = failed.message
        else:
            ticket = thread.ticket_view(g.installation, row)
            fresh = reply.ReplyForm(formdata=None, current_status=ticket.status)
            return _render("record/_reply_posted.html", entity, record_id, full="record/_ticket_detail.html",
                           ticket=ticket, ticket_id=ticket_id, form=fresh, notice=_posted_notice(text, public, status))
    ticket = thread.local_view(g.installation, row, None) if not request.htmx else None
    return _render("record/_reply_form.html", entity, record_id, full="record/_ticket_detail.html",
                   ticket=ticket, ticket_id=ticket_id, form=form, failure=failure)


def _posted_notice(text, public, status):
    label = str(TICKET_STATUS_LABELS[status]) if status else ""
    if text and status:
        return (_("Your public reply is posted and the ticket is now %(status)s.", status=label) if public
                else _("Your internal note is posted and the ticket is now %(status)s.", status=label))
    if text:
        return _("Your public reply is posted.") if public else _("Your internal note is posted.")
    return _("The ticket is now %(status)s.", status=label)


def _render(fragment, entity, record_id, full=None, **values):
    """`fragment` for htmx requests; else the whole widget page around `full` (default: the fragment)."""
    values = _template_values(entity, record_id, values)
    if request.htmx:
        return _response(render_template(fragment, **values))
    return _response(render_template("record/tickets.html", area=full or fragment, **values))


def _template_values(entity, record_id, values, context_token=None):
    grant = connection(g.installation, "zendesk")
    values = {**values, "entity": entity, "record_id": record_id, "context_token": context_token or g.context_token,
              "clock": user_clock(g.user, g.locale), "authorized": grant is not None and grant.status == "active"}
    values.setdefault("back", {"status": request.args.get("status") or listing.DEFAULT_FILTER,
                               "page": page_number(request.args.get("page"))})
    return values


def _response(body):
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _not_theirs():
    return render_template("refused.html", message=_("This ticket is not one of this record's tickets.")), 404
