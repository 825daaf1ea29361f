"""What the dashboard shows, counted from our own tables (no outside call: the page renders at once and
spends none of the CRM's daily credits). Each function takes the installation and returns plain values
for the template."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from ..extensions import db
from ..models import Comment, InboxEvent, Link, SyncError, SyncRun, Ticket, as_utc, utcnow

CHART_DAYS = 30
ERRORS_SHOWN = 50
# (Link kind, CRM module) → the row of "records synced" it counts.
LINKED = (("organization", "Accounts"), ("user", "Contacts"), ("user", "Leads"))


@dataclass
class Day:
    date: object  # datetime.date, UTC
    value: float


def last_run(installation):
    """The latest finished sync (first, catch-up or backfill: real-time passes have their own health)."""
    return db.session.scalar(db.select(SyncRun).where(
        SyncRun.installation_id == installation.id, SyncRun.kind != "realtime", SyncRun.finished_at.is_not(None))
        .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc()).limit(1))


def run_errors(run):
    return sum((counts or {}).get("errors", 0) for counts in (run.counts or {}).values()) if run else 0


def linked_counts(installation):
    """{(kind, module): records linked on both sides}: Accounts ↔ organizations, Contacts and Leads ↔ users."""
    rows = db.session.execute(db.select(Link.kind, Link.crm_module, db.func.count()).where(
        Link.installation_id == installation.id).group_by(Link.kind, Link.crm_module)).all()
    found = {(kind, module): count for kind, module, count in rows}
    return {key: found.get(key, 0) for key in LINKED}


def tickets_in_crm(installation):
    """(tickets, comments) written to the CRM's two modules."""
    tickets = db.session.scalar(db.select(db.func.count()).select_from(Ticket).where(
        Ticket.installation_id == installation.id, Ticket.crm_record_id.is_not(None)))
    comments = db.session.scalar(db.select(db.func.count()).select_from(Comment).where(
        Comment.installation_id == installation.id, Comment.crm_record_id.is_not(None)))
    return tickets, comments


def tickets_by_status(installation):
    """[(status, count)] of the synced tickets, in Zendesk's order of statuses."""
    rows = dict(db.session.execute(db.select(Ticket.status, db.func.count()).where(
        Ticket.installation_id == installation.id).group_by(Ticket.status)).all())
    order = ["new", "open", "pending", "hold", "solved", "closed"]
    return [(status, rows[status]) for status in order + sorted(set(rows) - set(order)) if rows.get(status)]


def written_per_day(installation, today=None):
    """Records written per day (UTC) over the last CHART_DAYS days, from the runs' counts."""
    days = _days(today)
    runs = db.session.scalars(db.select(SyncRun).where(
        SyncRun.installation_id == installation.id, SyncRun.finished_at >= _start(days))).all()
    totals = {}
    for run in runs:
        day = as_utc(run.finished_at).date()
        totals[day] = totals.get(day, 0) + sum((c or {}).get("written", 0) for c in (run.counts or {}).values())
    return [Day(day, totals.get(day, 0)) for day in days]


def realtime_lag_per_day(installation, today=None):
    """Seconds from a change's arrival to its being applied, averaged per day (UTC), last CHART_DAYS days."""
    days = _days(today)
    events = db.session.execute(db.select(InboxEvent.received_at, InboxEvent.processed_at).where(
        InboxEvent.installation_id == installation.id, InboxEvent.processed_at.is_not(None),
        InboxEvent.received_at >= _start(days))).all()
    lags = {}
    for received, processed in events:
        lags.setdefault(as_utc(received).date(), []).append((as_utc(processed) - as_utc(received)).total_seconds())
    return [Day(day, round(sum(lags[day]) / len(lags[day]), 1) if day in lags else 0) for day in days]


@dataclass
class Health:
    last_zendesk_event: object
    last_crm_event: object
    channel_expires_at: object
    backlog: int
    oldest_waiting: object  # when the oldest waiting event arrived, or None


def realtime_health(installation):
    def last(source):
        return db.session.scalar(db.select(db.func.max(InboxEvent.received_at)).where(
            InboxEvent.installation_id == installation.id, InboxEvent.source == source))

    waiting = db.select(InboxEvent).where(InboxEvent.installation_id == installation.id, InboxEvent.status == "new")
    backlog = db.session.scalar(db.select(db.func.count()).select_from(waiting.subquery()))
    oldest = db.session.scalar(db.select(db.func.min(InboxEvent.received_at)).where(
        InboxEvent.installation_id == installation.id, InboxEvent.status == "new"))
    return Health(_utc(last("zendesk")), _utc(last("crm")), _utc(installation.crm_channel_expires_at), backlog,
                  _utc(oldest))


@dataclass
class Budget:
    limit: int  # the Zendesk plan's requests a minute
    remaining: int  # left in the minute of the last call
    seen_at: object


def zendesk_budget(settings):
    """The Zendesk plan's budget as the sync last saw it (engine.SyncContext.check_budget), or None."""
    if not settings.zendesk_rate_limit:
        return None
    return Budget(settings.zendesk_rate_limit, settings.zendesk_rate_remaining, _utc(settings.zendesk_rate_seen_at))


def errors(installation):
    """(the latest ERRORS_SHOWN failed records, how many there are in all)."""
    query = db.select(SyncError).where(SyncError.installation_id == installation.id)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
    shown = db.session.scalars(query.order_by(SyncError.id.desc()).limit(ERRORS_SHOWN)).all()
    return shown, total


def _days(today=None):
    today = today or utcnow().date()
    return [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


def _start(days):
    """The first day's midnight, UTC."""
    return datetime.combine(days[0], time.min, tzinfo=timezone.utc)


def _utc(moment):
    return as_utc(moment) if moment is not None else None
