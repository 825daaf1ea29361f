"""Is a CRM user an administrator right now? Asked of the CRM when an admin's widget context is renewed
(widget/context.py): the CRM signed `is_admin` for 15 minutes, and only the CRM can say it still holds.

The answer comes from GET /crm/v8/users/{id} with the installation's own CRM grant: an administrator is
an active user whose profile is Zoho CRM's Administrator profile (as the CRM sandbox decides `is_admin`).
Anything else — demoted, deactivated, no such user, the CRM not answering, no grant — is not confirmed.

A confirmation is kept for CONFIRMATION_SECONDS in this process's memory: a short-lived fact about one
admin, so each worker asks the CRM at most once a minute per admin, and a demotion reaches every worker
within that minute with nothing to share or invalidate between them (no table, no write per renewal).
"""
import threading

from flask import current_app

from .clients.http import RetryPolicy, ServiceError
from .connections import connection, crm_client

ADMINISTRATOR_PROFILE = "Administrator"
CONFIRMATION_SECONDS = 60
# The admin is waiting for a page: one short attempt; a CRM that doesn't answer confirms nothing.
CHECK_POLICY = RetryPolicy(attempts=1, timeout=3.0)

_lock = threading.Lock()


def confirmed_admin(installation, user_id, now):
    """True when the CRM says `user_id` is an administrator of the installation's org (or said so less
    than CONFIRMATION_SECONDS before `now`)."""
    confirmations = _confirmations()
    key = (installation.id, str(user_id))
    with _lock:
        confirmed_at = confirmations.get(key)
    if confirmed_at is not None and now - confirmed_at < CONFIRMATION_SECONDS:
        return True
    if not _ask_the_crm(installation, user_id):
        with _lock:
            confirmations.pop(key, None)
        return False
    with _lock:
        confirmations[key] = now
    return True


def _ask_the_crm(installation, user_id):
    grant = connection(installation, "crm")
    if grant is None or grant.status != "active":
        return False
    try:
        user = crm_client(installation, grant, policy=CHECK_POLICY).user(user_id)
    except ServiceError:
        return False
    return bool(user) and user.get("status") == "active" and \
        (user.get("profile") or {}).get("name") == ADMINISTRATOR_PROFILE


def _confirmations():
    """(installation id, user id) -> when the CRM last confirmed; one map per app."""
    return current_app.extensions.setdefault("confirmed_admins", {})
