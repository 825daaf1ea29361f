"""The dashboard (F15): the extension's web tab in the CRM, for every user in the install scope. It shows
the last sync, what is synced, tickets by status, records written and real-time lag over 30 days
(server-rendered SVG), real-time health, the CRM's API credits and the error log; admins also get the
Edit link. Everything comes from our own tables (figures.py): no outside call while it renders."""
from flask import Blueprint, current_app, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..clients.zendesk import BUDGET_RESERVE
from ..connections import zendesk_base_url
from ..context import widget_view
from ..extensions import csrf, db
from ..models import SyncError, as_utc
from ..numbers import whole_number
from ..settings.forms import WidgetForm
from ..sync import inbox
from ..settings.sync_views import STREAM_LABELS
from ..sync.engine import CREDIT_RESERVE, sync_settings
from . import figures

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
csrf.exempt(bp)  # its forms carry a token bound to the widget context instead (settings/forms.py)
RUN_KIND_LABELS = {"first": _l("First sync"), "catchup": _l("Auto Sync catch-up"),
                   "backfill": _l("Sync of added organizations")}
RUN_STATUS_LABELS = {"failed": _l("Stopped"), "paused": _l("Paused")}
CRM_MODULE_OF_STREAM = {"crm_accounts": "Accounts", "crm_contacts": "Contacts", "crm_leads": "Leads"}
ZENDESK_PATH_OF_STREAM = {"zendesk_tickets": "tickets", "zendesk_users": "users",
                          "zendesk_organizations": "organizations"}
# Zoho CRM's web address per data centre (the record pages the error log links to).
CRM_WEB = {"us": "https://crm.zoho.com", "eu": "https://crm.zoho.eu", "in": "https://crm.zoho.in",
           "au": "https://crm.zoho.com.au", "jp": "https://crm.zoho.jp", "cn": "https://crm.zoho.com.cn",
           "ca": "https://crm.zohocloud.ca", "sa": "https://crm.zoho.sa"}


class DashboardForm(WidgetForm):
    """The admins' actions (Retry, Auto Sync): only the context-bound token."""


@bp.get("")
@widget_view()
def index():
    return _dashboard()


@bp.post("/errors/retry")
@widget_view(admin=True)
def retry():
    """Retry one failed record (`error`) or all of them: they go through the real-time inbox again."""
    form, notice = DashboardForm(), None
    if form.validate_on_submit():
        query = db.select(SyncError).where(SyncError.installation_id == g.installation.id)
        error_id = request.form.get("error")
        if error_id is not None:
            query = query.where(SyncError.id == (whole_number(error_id) or -1))  # -1: no such error
        queued = inbox.retry_errors(g.installation.id, db.session.scalars(query).all())
        notice = ngettext("%(num)d record will be synced again in a moment.",
                          "%(num)d records will be synced again in a moment.", queued)
    return _dashboard(form, notice)


@bp.post("/auto-sync")
@widget_view(admin=True)
def auto_sync():
    form, notice = DashboardForm(), None
    if form.validate_on_submit():
        settings = sync_settings(g.installation)
        settings.auto_sync = request.form.get("auto_sync") == "on"
        db.session.commit()
        notice = _("Auto Sync is on.") if settings.auto_sync else _("Auto Sync is off.")
    return _dashboard(form, notice)


def _dashboard(form=None, notice=None):
    installation = g.installation
    run = figures.last_run(installation)
    error_rows, error_total = figures.errors(installation)
    template = "dashboard/_dashboard.html" if request.htmx else "dashboard/index.html"
    response = make_response(render_template(
        template, context_token=g.context_token, is_admin=bool(g.user.get("is_admin")),
        settings=sync_settings(installation), run=run, run_errors=figures.run_errors(run),
        run_finished=as_utc(run.finished_at) if run else None, run_kind_labels=RUN_KIND_LABELS,
        zendesk_budget=figures.zendesk_budget(sync_settings(installation)),
        zendesk_reserve=round(BUDGET_RESERVE * 100),
        run_status_labels=RUN_STATUS_LABELS,
        linked=figures.linked_counts(installation), in_crm=figures.tickets_in_crm(installation),
        by_status=figures.tickets_by_status(installation), written=figures.written_per_day(installation),
        lag=figures.realtime_lag_per_day(installation), health=figures.realtime_health(installation),
        credit_reserve=CREDIT_RESERVE, errors=[(error, _record_url(error), _others(error)) for error in error_rows],
        error_total=error_total, stream_labels=STREAM_LABELS, form=form or DashboardForm(), notice=notice,
        retryable=inbox.RETRY_EVENTS))
    response.vary.add("HX-Request")
    return response


def _others(error):
    """[(label, url)] of the other records an error names: the Zendesk organization an account could not
    take over, and the CRM account that holds it (sync/organizations.py)."""
    installation, others = g.installation, []
    if error.zendesk_id and installation.zendesk_subdomain:
        others.append((_("Zendesk organization"),
                       f"{zendesk_base_url(installation)}/agent/organizations/{error.zendesk_id}"))
    if error.other_crm_id:
        others.append((_("the other CRM account"), _crm_url(installation, "Accounts", error.other_crm_id)))
    return others


def _crm_url(installation, module, record_id):
    web = current_app.config["CRM_SANDBOX_URL"].rstrip("/") or CRM_WEB.get(installation.data_center, "")
    org = "" if current_app.config["CRM_SANDBOX_URL"] else f"/org{installation.org_id}"
    return f"{web}/crm{org}/tab/{module}/{record_id}"


def _record_url(error):
    """Where the failed record lives: its CRM record page or its Zendesk agent page (None for comments)."""
    installation = g.installation
    if error.stream in CRM_MODULE_OF_STREAM:
        return _crm_url(installation, CRM_MODULE_OF_STREAM[error.stream], error.object_id)
    if error.stream in ZENDESK_PATH_OF_STREAM and installation.zendesk_subdomain:
        return f"{zendesk_base_url(installation)}/agent/{ZENDESK_PATH_OF_STREAM[error.stream]}/{error.object_id}"
    return None
