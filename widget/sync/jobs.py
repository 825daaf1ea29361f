"""Sync jobs of an installation: the hook uninstall uses to stop them (DESIGN §6, §7).

There are no sync jobs yet. The sync engine (a later issue) fills `stop_installation_jobs`: drop the
installation's queued jobs (thread queue or RQ) and ask running ones to stop. Independently, every job
must check `installation.status == "installed"` before it starts and between pages, so an installation
marked `uninstalling` never starts new work even on a worker that missed the stop.
"""


def stop_installation_jobs(installation):
    """Stop every sync job of `installation`; returns how many were stopped. Called by uninstall after
    the installation is marked `uninstalling`. Nothing to stop until the sync engine exists."""
    return 0
