"""The installation a webhook address names, remembered for a few seconds in each process.

Every delivery needs its installation's id and the secret that verifies it; under a burst of deliveries
reading them from the database each time is a query per delivery for values that hardly ever change.
So each process remembers them for REMEMBERED_FOR seconds, and reads them again at once when a delivery
does not verify with what it remembers (a webhook re-created with a new secret works at its first
delivery). Until it reads again, an installation being uninstalled may still store deliveries: its drain
applies none of them (widget/sync/inbox.py), and the uninstall removes them with the installation.
"""
import threading
import time
from dataclasses import dataclass

from flask import current_app

from ..extensions import db
from ..models import Installation

REMEMBERED_FOR = 10.0  # seconds


@dataclass(frozen=True)
class Address:
    installation_id: int
    zendesk_webhook_secret: str | None
    crm_channel_token: str | None
    crm_channel_id: str | None


class Addresses:
    def __init__(self):
        self._known, self._lock = {}, threading.Lock()

    def find(self, installation_key, fresh=False):
        """The installed installation's Address, or None (unknown keys are never remembered)."""
        now = time.monotonic()
        if not fresh:
            with self._lock:
                known = self._known.get(installation_key)
            if known is not None and now - known[1] < REMEMBERED_FOR:
                return known[0]
        installation = db.session.scalar(db.select(Installation).filter_by(installation_key=installation_key))
        with self._lock:
            if installation is None or installation.status != "installed":
                self._known.pop(installation_key, None)
                return None
            address = Address(installation.id, installation.zendesk_webhook_secret, installation.crm_channel_token,
                              installation.crm_channel_id)
            self._known[installation_key] = (address, now)  # (values, when read)
        return address

    def forget(self, installation_key):
        with self._lock:
            self._known.pop(installation_key, None)


def addresses():
    """This app's remembered addresses (tests make many apps in one process, each its own database)."""
    return current_app.extensions.setdefault("webhook_addresses", Addresses())
