"""Sync Now (F13, F14) and the first sync's progress, in the settings panel.

The progress part shows the latest first-sync run (catch-up and real-time runs have their own place on
the dashboard): counts per stream, a progress bar, the CRM's daily credits left, and why the sync is
paused if it is. It polls itself every second while the run is queued or running, then stops.
"""
from flask import g, make_response, render_template
from flask_babel import lazy_gettext as _l

from ..context import widget_view
from ..extensions import db
from ..models import SyncError, SyncRun
from ..sync import queue, runs
from ..sync.engine import selected_streams, stream_names, sync_settings
from . import bp
from .forms import SyncNowForm

FAILURES_SHOWN = 10  # the panel names a few; the dashboard keeps the whole error log
MODULE_LABELS = {"Accounts": _l("Accounts"), "Contacts": _l("Contacts"), "Leads": _l("Leads")}

STREAM_LABELS = {
    "crm_accounts": _l("Zoho CRM accounts → Zendesk organizations"),
    "crm_contacts": _l("Zoho CRM contacts → Zendesk users"),
    "crm_leads": _l("Zoho CRM leads → Zendesk users"),
    "zendesk_users": _l("Zendesk users → Zoho CRM"),
    "zendesk_organizations": _l("Zendesk organizations → Zoho CRM"),
    "zendesk_tickets": _l("Zendesk tickets → Zoho CRM"),
    "zendesk_comments": _l("Zendesk comments → Zoho CRM"),
}


def modules_in_words(modules):
    return ", ".join(str(MODULE_LABELS.get(name, name)) for name in modules)


def sync_context(form=None, refusal=None):
    """What the sync part of the panel shows."""
    installation = g.installation
    settings = sync_settings(installation)
    run = db.session.scalar(db.select(SyncRun).filter_by(installation_id=installation.id, kind="first")
                            .order_by(SyncRun.id.desc()).limit(1))
    streams = selected_streams(settings) or stream_names()
    error_count = sum((count or {}).get("errors", 0) for count in (run.counts or {}).values()) if run else 0
    failures, more = _failures(run) if error_count and run.status == "done" else ([], 0)
    return {"sync_form": form or SyncNowForm(), "settings": settings, "run": run, "refusal": refusal,
            "streams": streams, "stream_labels": STREAM_LABELS, "error_count": error_count,
            "failures": failures, "more_failures": more,
            "streams_done": _streams_done(run, streams), "stalled": run is not None and runs.stalled(run),
            "modules_text": modules_in_words(settings.modules or [])}


def _failures(run, shown=FAILURES_SHOWN):
    """The records that failed since the run started and still do: the first `shown`, and how many more."""
    failed_in_run = db.select(SyncError).where(SyncError.installation_id == run.installation_id,
                                               SyncError.last_at >= run.started_at)
    first = db.session.scalars(failed_in_run.order_by(SyncError.id).limit(shown)).all()
    total = db.session.scalar(db.select(db.func.count()).select_from(failed_in_run.subquery()))
    return first, total - len(first)


def _streams_done(run, streams):
    """For the progress bar: streams finished. They run in order, so every stream before the last one
    with counts is finished (and all of them once the run is done)."""
    if run is None:
        return 0
    if run.status == "done":
        return len(streams)
    started = [index for index, name in enumerate(streams) if name in (run.counts or {})]
    return started[-1] if started else 0


def sync_part(form=None, refusal=None):
    response = make_response(render_template("settings/_sync.html", context_token=g.context_token,
                                             **sync_context(form, refusal)))
    response.vary.add("HX-Request")
    return response


@bp.post("/sync")
@widget_view(admin=True)
def sync_now():
    """Start the first sync; a second bulk sync is refused with the reason next to the button."""
    form = SyncNowForm()
    if not form.validate_on_submit():
        return sync_part(form)
    try:
        run = runs.start_first_sync(g.installation)
    except runs.RunRefused as refused:
        return sync_part(form, refusal=refused.message)
    queue.enqueue("widget.sync.runs.first_sync_job", g.installation.id, run.id)
    return sync_part()


@bp.post("/sync/resume")
@widget_view(admin=True)
def resume_sync():
    """Resume a first sync whose worker went silent (the scheduler does it too, within a minute)."""
    form = SyncNowForm()
    run = sync_context()["run"]
    if form.validate_on_submit() and run is not None and runs.stalled(run):
        runs.resume(run)
    return sync_part(form)


@bp.get("/sync/progress")
@widget_view(admin=True)
def sync_progress():
    """The progress fragment; it polls itself while the run is queued or running."""
    return sync_part()
