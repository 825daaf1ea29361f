"""The dashboard (F15): the extension's web tab in the CRM, for every user in the install scope. It shows
the last sync, what is synced, tickets by status, records written and real-time lag over 30 days
(server-rendered SVG), real-time health, the CRM's API credits and the error log; admins also get the
Edit link. Everything comes from our own tables (figures.py): no outside call while it renders."""
from flask import Blueprint, current_app, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l

from ..connections import zendesk_base_url
from ..context import widget_view
from ..models import as_utc
from ..settings.sync_views import STREAM_LABELS
from ..sync.engine import CREDIT_RESERVE, sync_settings
from . import figures

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
RUN_KIND_LABELS = {"first": _l("First sync"), "catchup": _l("Auto Sync catch-up"),
                   "backfill": _l("Sync of added organizations")}
RUN_STATUS_LABELS = {"failed": _l("Stopped"), "paused": _l("Paused")}
# Zendesk's ticket statuses as its own Japanese agent UI names them.
TICKET_STATUS_LABELS = {"new": _l("New"), "open": _l("Open"), "pending": _l("Pending"), "hold": _l("On-hold"),
                        "solved": _l("Solved"), "closed": _l("Closed")}
CRM_MODULE_OF_STREAM = {"crm_accounts": "Accounts", "crm_contacts": "Contacts", "crm_leads": "Leads"}
ZENDESK_PATH_OF_STREAM = {"zendesk_tickets": "tickets", "zendesk_users": "users",
                          "zendesk_organizations": "organizations"}
# Zoho CRM's web address per data centre (the record pages the error log links to).
CRM_WEB = {"us": "https://crm.zoho.com", "eu": "https://crm.zoho.eu", "in": "https://crm.zoho.in",
           "au": "https://crm.zoho.com.au", "jp": "https://crm.zoho.jp", "cn": "https://crm.zoho.com.cn",
           "ca": "https://crm.zohocloud.ca", "sa": "https://crm.zoho.sa"}


@bp.get("")
@widget_view()
def index():
    installation = g.installation
    run = figures.last_run(installation)
    error_rows, error_total = figures.errors(installation)
    template = "dashboard/_dashboard.html" if request.htmx else "dashboard/index.html"
    response = make_response(render_template(
        template, context_token=g.context_token, is_admin=bool(g.user.get("is_admin")),
        settings=sync_settings(installation), run=run, run_errors=figures.run_errors(run),
        run_finished=as_utc(run.finished_at) if run else None, run_kind_labels=RUN_KIND_LABELS,
        run_status_labels=RUN_STATUS_LABELS, ticket_status_labels=TICKET_STATUS_LABELS,
        linked=figures.linked_counts(installation), in_crm=figures.tickets_in_crm(installation),
        by_status=figures.tickets_by_status(installation), written=figures.written_per_day(installation),
        lag=figures.realtime_lag_per_day(installation), health=figures.realtime_health(installation),
        credit_reserve=CREDIT_RESERVE, errors=[(error, _record_url(error)) for error in error_rows],
        error_total=error_total, stream_labels=STREAM_LABELS))
    response.vary.add("HX-Request")
    return response


def _record_url(error):
    """Where the failed record lives: its CRM record page or its Zendesk agent page (None for comments)."""
    installation = g.installation
    if error.stream in CRM_MODULE_OF_STREAM:
        web = current_app.config["CRM_SANDBOX_URL"].rstrip("/") or CRM_WEB.get(installation.data_center, "")
        org = "" if current_app.config["CRM_SANDBOX_URL"] else f"/org{installation.org_id}"
        return f"{web}/crm{org}/tab/{CRM_MODULE_OF_STREAM[error.stream]}/{error.object_id}"
    if error.stream in ZENDESK_PATH_OF_STREAM and installation.zendesk_subdomain:
        return f"{zendesk_base_url(installation)}/agent/{ZENDESK_PATH_OF_STREAM[error.stream]}/{error.object_id}"
    return None
