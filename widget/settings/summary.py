"""The sync wizard's last step, "Summary and Sync Now" (F13, F14).

It says what the first sync will do, as numbers from a dry run (widget/sync/dry_run.py) read live with
the organizations step's short policy, then starts it as the panel's Sync Now does and shows its
progress. A second bulk sync is refused here, before anything is counted, with the support contact.
"""
from flask import current_app, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l

from ..clients.http import ServiceError
from ..connections import connection, crm_client, zendesk_client
from ..context import widget_view
from ..sync import queue, runs
from ..sync.dry_run import dry_run
from ..sync.engine import sync_settings
from . import bp
from .forms import SyncNowForm
from .sync_views import modules_in_words, sync_context
from .wizard import MODE_LABELS, PICKER_POLICY

BULK_DONE = _l("A bulk sync can run only once, and it has run. To run it again, contact support; "
               "a Selective Sync of other organizations stays available.")
KIND_LABELS = {"organizations": _l("Organizations"), "people": _l("People"), "tickets": _l("Tickets"),
               "comments": _l("Comments")}
SIDE_LABELS = {"zendesk": _l("In Zendesk"), "crm": _l("In Zoho CRM")}


def bulk_refused(settings):
    return settings.mode == "bulk" and settings.bulk_done_at is not None


def _plan():
    """(lines, problem): the dry run's lines, or a plain line saying why there are none."""
    installation = g.installation
    grants = {name: connection(installation, name) for name in ("zendesk", "crm")}
    if any(grant is None or grant.status != "active" for grant in grants.values()):
        return [], _l("Connect Zoho CRM and authorize Zendesk first: the summary is counted from both.")
    try:
        return dry_run(installation, zendesk_client(installation, grants["zendesk"], policy=PICKER_POLICY),
                       crm_client(installation, grants["crm"], policy=PICKER_POLICY)), None
    except ServiceError as error:
        return [], _l("Zendesk or Zoho CRM did not answer (%(reason)s), so nothing could be counted. "
                      "Try again in a moment.", reason=error.message)


def _summary(form, refusal=None):
    settings = sync_settings(g.installation)
    refused = bulk_refused(settings)
    lines, problem = ([], None) if refused else _plan()
    template = "settings/wizard/_summary.html" if request.htmx else "settings/wizard/summary.html"
    response = make_response(render_template(
        template, form=form, settings=settings, lines=lines, problem=problem, context_token=g.context_token,
        refusal=refusal or (BULK_DONE if refused else None), bulk_refused=refused,
        support=current_app.config["SUPPORT_CONTACT"], mode_label=MODE_LABELS.get(settings.mode, settings.mode),
        modules_text=modules_in_words(settings.modules or []),
        kind_labels=KIND_LABELS, side_labels=SIDE_LABELS))
    response.vary.add("HX-Request")
    return response


@bp.get("/wizard/summary")
@widget_view(admin=True)
def wizard_summary():
    """The summary of the saved settings, counted by a dry run."""
    return _summary(SyncNowForm(formdata=None))


@bp.post("/wizard/summary")
@widget_view(admin=True)
def wizard_sync_now():
    """Sync Now: start the first sync as the panel does, then show its progress (it polls itself)."""
    form = SyncNowForm()
    if not form.validate_on_submit():
        return _summary(form)
    try:
        run = runs.start_first_sync(g.installation)
    except runs.RunRefused as refused:
        return _summary(form, refusal=refused.message)
    queue.enqueue(runs.JOBS["first"], g.installation.id, run.id)
    template = "settings/_sync.html" if request.htmx else "settings/wizard/sync_started.html"
    response = make_response(render_template(template, context_token=g.context_token, **sync_context()))
    response.vary.add("HX-Request")
    return response
