"""Leases: a named lock per installation that holds across threads, processes and hosts, kept as a row
(StreamLease) that expires, so a crashed holder frees it by itself. The sync engine runs one job per
installation and stream under one; a grant's token refresh runs under another (widget.connections)."""
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import StreamLease, utcnow

LEASE_SECONDS = 30  # renewed at every cursor save; a crashed holder frees it this fast


def holder_name():
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def acquire_lease(installation_id, name, holder, seconds=LEASE_SECONDS):
    """True if `holder` now holds the lease. Atomic on SQLite and PostgreSQL: an insert, or an
    update that only matches an expired lease (or one the holder already has)."""
    until = utcnow() + timedelta(seconds=seconds)
    try:
        db.session.add(StreamLease(installation_id=installation_id, stream=name, holder=holder, expires_at=until))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
    free = db.or_(StreamLease.expires_at < utcnow(), StreamLease.holder == holder)
    current = db.session.scalar(db.select(StreamLease.holder).filter_by(installation_id=installation_id, stream=name))
    if current is not None and dead_on_this_host(current):
        free = db.or_(free, StreamLease.holder == current)  # only if nobody took it since we looked
    taken = db.session.execute(
        db.update(StreamLease)
        .where(StreamLease.installation_id == installation_id, StreamLease.stream == name, free)
        .values(holder=holder, expires_at=until))
    db.session.commit()
    return taken.rowcount == 1


def dead_on_this_host(holder):
    """True when `holder` ran on this host in a process that no longer exists (killed, crashed): a
    restarted worker takes its lease at once instead of waiting for it to expire. Holders on other
    hosts cannot be checked, so their leases expire after LEASE_SECONDS."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, under another user
    return False


def release_lease(installation_id, name, holder):
    db.session.execute(db.delete(StreamLease).where(
        StreamLease.installation_id == installation_id, StreamLease.stream == name, StreamLease.holder == holder))
    db.session.commit()
