"""Prometheus metrics (docs/architecture.md#routes), read from the database at each scrape.

Counting rows at scrape time, rather than keeping counters in memory, gives the same answer from every
gunicorn worker, host and RQ worker: the state they share is the database. Labels never carry tenant
data (org ids, names): what an operator watches is the whole service.
"""
import time
from dataclasses import dataclass, field

from ..extensions import db
from ..models import InboxEvent, Installation, SyncError, SyncRun, SyncSettings, as_utc

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "zendesk_crm_"


@dataclass
class Metric:
    name: str
    help: str
    samples: list = field(default_factory=list)  # (labels dict, value)

    def add(self, value, **labels):
        self.samples.append((labels, value))


def collect():
    """Every metric, as Metric objects (gauges)."""
    now = time.time()
    installations = Metric("installations", "Installations by status (installed, uninstalling).")
    for status, count in _grouped(Installation.status):
        installations.add(count, status=status)
    paused = Metric("installations_paused", "Installations whose sync is paused (revoked grant, CRM credits).")
    paused.add(db.session.scalar(db.select(db.func.count()).select_from(SyncSettings)
                                 .where(SyncSettings.paused_reason.is_not(None))))
    inbox = Metric("inbox_events", "Real-time events kept, by source and status (new: waiting; failed: to retry).")
    for (source, status), count in _grouped(InboxEvent.source, InboxEvent.status):
        inbox.add(count, source=source, status=status)
    oldest = db.session.scalar(db.select(db.func.min(InboxEvent.received_at)).where(InboxEvent.status == "new"))
    lag = Metric("inbox_oldest_waiting_seconds", "Age of the oldest real-time event not applied yet (0: none).")
    lag.add(max(0.0, now - as_utc(oldest).timestamp()) if oldest else 0.0)
    errors = Metric("sync_errors", "Records that failed to sync and wait for a retry or a person, by stream.")
    for stream, count in _grouped(SyncError.stream):
        errors.add(count, stream=stream)
    runs = Metric("sync_runs", "Sync runs by kind (first, catchup, realtime) and status.")
    for (kind, status), count in _grouped(SyncRun.kind, SyncRun.status):
        runs.add(count, kind=kind, status=status)
    finished = Metric("sync_run_last_finished_timestamp_seconds", "When the last run of each kind finished.")
    for kind, last in db.session.execute(db.select(SyncRun.kind, db.func.max(SyncRun.finished_at))
                                         .where(SyncRun.finished_at.is_not(None)).group_by(SyncRun.kind)):
        finished.add(as_utc(last).timestamp(), kind=kind)
    return [installations, paused, inbox, lag, errors, runs, finished]


def render(metrics):
    """The Prometheus text exposition format (0.0.4)."""
    lines = []
    for metric in metrics:
        name = PREFIX + metric.name
        lines += [f"# HELP {name} {metric.help}", f"# TYPE {name} gauge"]
        for labels, value in metric.samples:
            rendered = ",".join(f'{key}="{_escape(str(val))}"' for key, val in sorted(labels.items()))
            lines.append(f"{name}{{{rendered}}} {float(value)!r}" if rendered else f"{name} {float(value)!r}")
    return "\n".join(lines) + "\n"


def _grouped(*columns):
    rows = db.session.execute(db.select(*columns, db.func.count()).group_by(*columns)).all()
    return [(row[0] if len(columns) == 1 else tuple(row[:-1]), row[-1]) for row in rows]


def _escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
