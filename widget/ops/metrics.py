"""Prometheus metrics (docs/architecture.md#routes): the service's state, read from the database at each scrape, and
what the processes counted as they worked (instruments.py), written by prometheus-client.

Counting rows at scrape time, rather than keeping counters in memory, gives the same answer from every
gunicorn worker, host and RQ worker: the state they share is the database. The processes' own counts
are added up across processes by prometheus-client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is
set (README "Operations"). Labels never carry tenant data (org ids, names): what an operator watches is
the whole service.
"""
import os
import time

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from ..extensions import db
from ..models import InboxEvent, Installation, SyncError, SyncRun, SyncSettings, as_utc
from .instruments import PREFIX, REGISTRY

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class DatabaseGauges:
    """A prometheus-client collector of gauges counted from the database (in the app context of the scrape)."""

    def collect(self):
        now = time.time()
        installations = _gauge("installations", "Installations by status (installed, uninstalling).", ["status"])
        for status, count in _grouped(Installation.status):
            installations.add_metric([status], count)
        paused = _gauge("installations_paused", "Installations whose sync is paused (revoked grant, CRM credits).")
        paused.add_metric([], db.session.scalar(db.select(db.func.count()).select_from(SyncSettings)
                                                .where(SyncSettings.paused_reason.is_not(None))))
        inbox = _gauge("inbox_events", "Real-time events kept, by source and status (new: waiting; failed: to "
                       "retry).", ["source", "status"])
        for (source, status), count in _grouped(InboxEvent.source, InboxEvent.status):
            inbox.add_metric([source, status], count)
        oldest = db.session.scalar(db.select(db.func.min(InboxEvent.received_at)).where(InboxEvent.status == "new"))
        lag = _gauge("inbox_oldest_waiting_seconds", "Age of the oldest real-time event not applied yet (0: none).")
        lag.add_metric([], max(0.0, now - as_utc(oldest).timestamp()) if oldest else 0.0)
        errors = _gauge("sync_errors", "Records that failed to sync and wait for a retry or a person, by stream.",
                        ["stream"])
        for stream, count in _grouped(SyncError.stream):
            errors.add_metric([stream], count)
        runs = _gauge("sync_runs", "Sync runs by kind (first, catchup, realtime) and status.", ["kind", "status"])
        for (kind, status), count in _grouped(SyncRun.kind, SyncRun.status):
            runs.add_metric([kind, status], count)
        finished = _gauge("sync_run_last_finished_timestamp_seconds", "When the last run of each kind finished.",
                          ["kind"])
        for kind, last in db.session.execute(db.select(SyncRun.kind, db.func.max(SyncRun.finished_at))
                                             .where(SyncRun.finished_at.is_not(None)).group_by(SyncRun.kind)):
            finished.add_metric([kind], as_utc(last).timestamp())
        return [installations, paused, inbox, lag, errors, runs, finished]


def exposition():
    """The text format of every metric: the database's gauges and the processes' counts (this process's,
    or with PROMETHEUS_MULTIPROC_DIR all processes' that wrote there)."""
    registry = CollectorRegistry()
    registry.register(DatabaseGauges())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    return generate_latest(registry)


def _gauge(name, documentation, labels=()):
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _grouped(*columns):
    rows = db.session.execute(db.select(*columns, db.func.count()).group_by(*columns)).all()
    return [(row[0] if len(columns) == 1 else tuple(row[:-1]), row[-1]) for row in rows]
