"""Sync jobs of an installation: the hook uninstall uses to stop them (docs/architecture.md#where-jobs-run,
docs/architecture.md#uninstall).

Uninstall marks the installation `uninstalling` first, then calls `stop_installation_jobs`:
- jobs that have not started are dropped (thread pool: cancelled futures and timers; RQ: removed from
  the queue and from the scheduled registry of delayed retries);
- running jobs stop at their next page on any worker: every job checks the status before each stream
  and between pages (engine.SyncContext.check_running raises SyncStopped), so an installation marked
  `uninstalling` never starts new work even on a worker that missed the stop.
"""
from . import queue


def stop_installation_jobs(installation):
    """Drop the installation's waiting jobs; returns how many were dropped."""
    return queue.cancel_installation_jobs(installation.id)
