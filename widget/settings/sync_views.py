"""Sync Now (F13, F14) and the first sync's progress, in the settings panel."""
from flask import g, make_response, render_template

from ..context import widget_view
from ..extensions import db
from ..models import SyncRun
from ..sync import queue, runs
from ..sync.engine import STREAM_ORDER, selected_streams, sync_settings
from .forms import SyncNowForm
from .views import bp


def sync_context(form=None, refusal=None):
    """What the sync part of the panel shows: settings summary, Sync Now, the latest run's progress."""
    settings = sync_settings(g.installation)
    run = db.session.scalar(db.select(SyncRun).filter_by(installation_id=g.installation.id)
                            .order_by(SyncRun.id.desc()).limit(1))
    return {"sync_form": form or SyncNowForm(), "settings": settings, "run": run, "refusal": refusal,
            "streams": selected_streams(settings) or list(STREAM_ORDER)}


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


@bp.get("/sync/progress")
@widget_view(admin=True)
def sync_progress():
    """The progress fragment; it polls itself while the run is queued or running."""
    return sync_part()
