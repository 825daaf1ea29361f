"""Each signed marketplace call is accepted once (docs/architecture.md#lifecycle).

A signature stays acceptable for its whole window (security.SIGNATURE_MAX_AGE): replayed inside it, an
old uninstall would delete a new installation and an old `scope: all` would widen a narrowed scope. So
every accepted signature is remembered in the database (one table, a unique constraint: every worker and
host agrees, and of two copies sent at once one insert wins) until its timestamp has left the window.
"""
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import UsedSignature, utcnow
from ..security import SIGNATURE_MAX_AGE

# Rows are kept a minute past their window: a host whose clock runs a little behind may still accept
# the signature while another host, ahead, would already have forgotten it.
CLOCK_MARGIN = timedelta(seconds=60)


def first_use(signature, timestamp, now=None):
    """Remember `signature` (verified, with its `timestamp`); False when it was used before."""
    expires_at = datetime.fromtimestamp(int(timestamp) + SIGNATURE_MAX_AGE, timezone.utc)
    return remember_once(signature, expires_at, now)


def remember_once(signature, expires_at, now=None):
    """Remember `signature` (at most 80 characters) until `expires_at`, when it can no longer be accepted
    anyway; False when it is remembered already. Also keeps the agent sidebar's signed requests
    (widget/agent/tokens.py)."""
    now = utcnow() if now is None else now
    # Cheap: an indexed range delete of the few rows a few minutes' window holds.
    db.session.execute(delete(UsedSignature).where(UsedSignature.expires_at < now - CLOCK_MARGIN))
    db.session.add(UsedSignature(signature=signature, expires_at=expires_at))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True
