"""The "New Zendesk Ticket" action of a Lead, Contact, Account or Deal page (F18, F19).

`GET /record/<entity>/<id>/tickets/new` shows the form: as a whole page when the CRM opens it in its
popup (an overlay holding our iframe, as a Zoho button widget is shown), as a fragment when the related
list opens it in place (htmx). `POST /record/<entity>/<id>/tickets` creates the ticket
(widget/record/creation.py) or shows each mistake next to its field, creating nothing.

After a ticket is created:
- in the popup, static/js/new_ticket.js posts `{type: "zendesk-for-zoho-crm:ticket-created", ticketId,
  entity, recordId}` to the CRM page (window.parent), which closes the popup and reloads its widgets,
  as Zoho's `ZOHO.CRM.UI.Popup.closeReload()` does;
- in place, the answer carries `HX-Trigger: ticketCreated` (with the same details), the event the
  related list reloads on, and shows the ticket with a link to it.
"""
import json

from flask import g, make_response, render_template, request
from flask_babel import lazy_gettext as _l

from ..clients.http import AuthenticationError, ServiceError
from ..connections import connection
from ..context import widget_view
from ..extensions import csrf
from . import creation, prefill
from .ticket_form import NewTicketForm, new_key
from .views import bp

CREATED_EVENT = "ticketCreated"
PLACEMENTS = ("popup", "inline")  # the CRM's popup (a whole page), or in place in the related list


@bp.get("/<entity>/<record_id>/tickets/new")
@widget_view(record=True)
def new_ticket(entity, record_id):
    """The form, prefilled from the record."""
    placement = "inline" if request.htmx else "popup"
    problem = _not_ready(g.installation)
    if problem:
        return _page(entity, record_id, placement, problem=problem)
    people, agents, notices = _offered(entity, record_id)
    suggested = people.suggested
    form = NewTicketForm(formdata=None, key=new_key(), status="new",
                         requester_contact=suggested.id if suggested and people.contacts else "",
                         requester_name=suggested.name if suggested else "",
                         requester_email=suggested.email if suggested else "")
    return _page(entity, record_id, placement, form=form.offer(people, agents), notices=notices)


@bp.post("/<entity>/<record_id>/tickets")
@widget_view(record=True)
def create_ticket(entity, record_id):
    """Create the ticket once for this form, or show what to correct; nothing is created then."""
    placement = request.form.get("placement") if request.form.get("placement") in PLACEMENTS else "popup"
    problem = _not_ready(g.installation)
    if problem:
        return _page(entity, record_id, placement, problem=problem)
    form = NewTicketForm()
    repeated = creation.created_before(g.installation, form.key.data, entity, record_id)
    if repeated is not None and form.token_is_valid():  # a double click: no outside call at all
        return _created(entity, record_id, placement, repeated)
    people, agents, notices = _offered(entity, record_id)
    form.offer(people, agents)
    if not people.loaded:  # its contacts and Account are unknown: nothing is sent
        return _page(entity, record_id, placement, form=form, notices=notices,
                     errors=[_l("Zoho CRM did not answer, so nothing was created. Save again in a moment.")])
    if not form.validate_on_submit():
        return _page(entity, record_id, placement, form=form, notices=notices)
    try:
        created = creation.create_ticket(g.installation, entity, record_id, form, people, agents)
    except creation.Refused as refused:
        return _page(entity, record_id, placement, form=_with_errors(form, refused.errors), notices=notices)
    except creation.Busy:
        return _page(entity, record_id, placement, form=form, errors=[_l(
            "This ticket is still being created from an earlier click. Look at the related list in a moment.")])
    except AuthenticationError as error:
        return _page(entity, record_id, placement, form=form, errors=[_l(
            "The extension's access was refused (%(reason)s). A CRM administrator must authorize it again in the "
            "extension's settings.", reason=error.message)])
    except ServiceError as error:
        return _page(entity, record_id, placement, form=form, errors=[_l(
            "Zendesk did not answer (%(reason)s). Save again in a moment: this form never makes two tickets.",
            reason=error.message)])
    return _created(entity, record_id, placement, created)


csrf.exempt(create_ticket)  # its form carries a token bound to the widget context instead (settings/forms.py)


def _not_ready(installation):
    """Why no ticket can be created yet, or None."""
    zendesk, crm = connection(installation, "zendesk"), connection(installation, "crm")
    if zendesk is None or zendesk.status != "active":
        return _l("Zendesk is not authorized yet. A CRM administrator can authorize it in the extension's settings.")
    if crm is None or crm.status != "active" or not (installation.crm_modules or {}).get("tickets"):
        return _l("Zoho CRM is not connected to the extension yet. A CRM administrator can connect it in the "
                  "extension's settings.")
    return None


def _offered(entity, record_id):
    """(the record's people, Zendesk's agents or None, notices of what could not be read)."""
    zendesk, crm = creation.interactive_clients(g.installation)
    notices = []
    try:
        people = prefill.record_people(crm, entity, record_id)
    except ServiceError as error:
        people = prefill.RecordPeople(loaded=False)
        notices.append(_l("Zoho CRM did not answer (%(reason)s), so this record's people are not shown. Type the "
                          "requester's name and email, or try again in a moment.", reason=error.message))
    try:
        agents = prefill.zendesk_agents(g.installation, zendesk)
    except ServiceError as error:
        agents = None
        notices.append(_l("Zendesk's agents could not be read (%(reason)s): the ticket can be saved unassigned.",
                          reason=error.message))
    return people, agents, notices


def _with_errors(form, errors):
    for name, messages in errors.items():
        field = getattr(form, name, None) if name else None
        if field is None:
            form.form_errors.extend(messages)
        else:
            field.errors = list(field.errors) + list(messages)
    return form


def _page(entity, record_id, placement, form=None, problem=None, notices=(), errors=(), created=None):
    """The form (or why there is none, or the ticket created): a fragment for htmx, else a whole page.
    Mistakes answer 200 too: htmx swaps only successful answers."""
    if form is not None and errors:
        form.form_errors.extend(errors)
    template = "record/_new_ticket.html" if request.htmx else "record/new_ticket.html"
    response = make_response(render_template(
        template, entity=entity, record_id=record_id, placement=placement, form=form, problem=problem,
        notices=list(notices), created=created, context_token=g.context_token,
        with_assets=not request.htmx or request.method == "GET"))
    response.vary.add("HX-Request")
    return response


def _created(entity, record_id, placement, created):
    response = _page(entity, record_id, placement, created=created)
    response.headers["HX-Trigger"] = json.dumps({CREATED_EVENT: {"ticketId": created.ticket_id, "entity": entity,
                                                                 "recordId": record_id}})
    return response
