"""The real-time inbox (F16; docs/architecture.md#real-time): store deliveries, then apply them in coalesced batches.

The webhooks blueprint stores every verified delivery (`store`, deduplicated by delivery id) before it
answers 200, and calls `trigger`, which queues a `drain` job. A drain holds the installation's "inbox"
lease, so at most one runs per installation at a time; it takes the waiting events in batches (a
pass at most every PASS_INTERVAL, so a burst costs a few calls a pass, not a few a change),
coalesces them per object (fifty events for one ticket → one re-read), re-reads the objects in bulk
(`show_many` of 100, CRM get-by-ids of 100), writes them through the sync's batch functions and marks
the events done. It loops until the inbox is empty, so events that arrive while it runs are taken too.

Echoes: the batch functions compare the mapped fields with `Link.last_hash` (what we last wrote to the
other side or read from it), so a change that only repeats our own write ends as a no-op and two-way
sync never loops.

Credits: after each pass the CRM's daily credits left are checked as the sync does between pages;
below the reserve the installation pauses and events wait until the scheduler lifts the pause.

Failures: a pass whose outside calls fail (after the clients' own retries) records a SyncError per object
with the service's message and marks its events `failed`; `retry_failed` puts them back in the queue
(catch-up also covers them). A refused grant pauses the installation and leaves the events waiting.
"""
import functools
import logging
import time
import uuid
from datetime import timedelta

from ..clients.http import AuthenticationError, ServiceError
from ..extensions import autocommit, db, insert_on_conflict
from ..models import InboxEvent, Installation, StreamLease, SyncRun, SyncSettings, as_utc, utcnow
from ..notices import notice
from ..ops.logs import sync_run
from . import deletions, engine, mapping, organizations, people, pull, queue, tickets
from .mapping_rows import read_records
from .store import crm_stream_name

logger = logging.getLogger(__name__)
LEASE = "inbox"
EVENTS_PER_PASS = 500
# A pass costs a few Zendesk calls (show_many of tickets, users, organizations) whatever its size, so
# passes start at most this often per installation; what arrives meanwhile joins the next one. At 50
# changes a second a pass per change would spend ~9,000 calls a minute (Team plans have 200); this way
# ~360 at most, and a change waits at most this long before its pass starts.
PASS_INTERVAL = 0.5
INTERRUPTED = notice("Interrupted: the worker stopped. Its events are applied again.")


# ---- receiving -----------------------------------------------------------------------------------
def store(installation_id, source, delivery_id, payload, object_kind=None, object_id=None):
    """Keep a verified delivery; False when this delivery id was stored before (a replay). One INSERT,
    committed by itself, that skips a delivery id already kept (no error, no rollback): a webhook's
    answer waits for one round trip to the database."""
    with autocommit() as connection:
        stored = connection.execute(_store_statement(connection.dialect.name), {
            "installation_id": installation_id, "source": source, "delivery_id": delivery_id,
            "object_kind": object_kind, "object_id": object_id, "payload": payload, "status": "new",
            "received_at": utcnow()}).scalar()
    return stored is not None


@functools.cache
def _store_statement(dialect_name):
    """Built once per database kind: building it costs more than running it (a delivery's answer waits)."""
    table = InboxEvent.__table__
    return (insert_on_conflict(dialect_name)(table).on_conflict_do_nothing(
        index_elements=["installation_id", "source", "delivery_id"]).returning(table.c.id))


def trigger(installation_id):
    """Process the inbox now: queue a drain job, unless one is waiting to start here (it will see what
    was committed before), one is running (it takes the event too: it looks at the inbox again after
    releasing its lease, and the event was committed before we saw the lease), or the installation can't
    apply events yet (before its first sync, or paused: the end of either triggers a drain, after this
    event was committed). One query, and under a burst no job per delivery."""
    if queue.pending("widget.sync.inbox.drain", installation_id):
        return
    # A read of what is committed, outside any transaction: one round trip to the database (a webhook
    # delivery's answer waits for it), not three.
    with autocommit() as connection:
        state = connection.execute(_DRAINABLE, {"installation_id": installation_id, "now": utcnow()}).first()
    if state is None or state.first_sync_done_at is None or state.paused_reason is not None or state.draining:
        return
    queue.enqueue_unless_waiting("widget.sync.inbox.drain", installation_id)


_DRAINABLE = db.select(  # built once, as _store_statement
    SyncSettings.first_sync_done_at, SyncSettings.paused_reason,
    db.select(StreamLease.id).where(StreamLease.installation_id == db.bindparam("installation_id"),
                                    StreamLease.stream == LEASE, StreamLease.expires_at > db.bindparam("now"))
    .exists().label("draining")
).where(SyncSettings.installation_id == db.bindparam("installation_id"))


# A failed record's stream → (source, object kind) of the event that has the inbox read it again.
RETRY_EVENTS = {"crm_accounts": ("crm", "Accounts"), "crm_contacts": ("crm", "Contacts"), "crm_leads": ("crm", "Leads"),
                "zendesk_tickets": ("zendesk", "ticket"), "zendesk_users": ("zendesk", "user"),
                "zendesk_organizations": ("zendesk", "organization")}


def retry_errors(installation_id, errors):
    """An admin's Retry (the dashboard): each failed record goes through the inbox as if it had just
    changed, so it is read again and written in batches like any real-time change, and its error is
    cleared once it is written. Comments are not retried here: they follow their ticket by themselves.
    Returns how many records were queued."""
    queued = 0
    for error in errors:
        if error.stream not in RETRY_EVENTS:
            continue
        source, kind = RETRY_EVENTS[error.stream]
        payload = ({"type": "retry", "operation": "update", "ids": [error.object_id]} if source == "crm"
                   else {"type": f"zen:event-type:{kind}.retry", "detail": {"id": error.object_id}})
        delivery = f"retry:{error.id}:{uuid.uuid4().hex}"
        queued += store(installation_id, source, delivery, payload, kind, error.object_id)
    if queued:
        trigger(installation_id)
    return queued


def retry_failed(installation_id):
    """Queue the failed events again (the scheduler's catch-up calls this; so can support)."""
    retried = db.session.execute(db.update(InboxEvent).where(
        InboxEvent.installation_id == installation_id, InboxEvent.status == "failed").values(status="new"))
    db.session.commit()
    if retried.rowcount:
        trigger(installation_id)
    return retried.rowcount


def stranded_installations():
    """Installations whose events have waited STALL_SECONDS with no drain holding the lease: the process
    that was applying them died, or its job was lost with it (the scheduler queues a drain for each).
    Real-time runs a dead drain left `running` are closed; their events are still `new`, applied again."""
    cutoff = utcnow() - timedelta(seconds=engine.STALL_SECONDS)
    draining = db.select(StreamLease.installation_id).where(StreamLease.stream == LEASE,
                                                            StreamLease.expires_at > utcnow())
    db.session.execute(db.update(SyncRun).where(
        SyncRun.kind == "realtime", SyncRun.status == "running", SyncRun.installation_id.not_in(draining),
        db.or_(SyncRun.heartbeat_at.is_(None), SyncRun.heartbeat_at < cutoff))
        .values(status="failed", finished_at=utcnow(),
                message=INTERRUPTED, message_notice=INTERRUPTED.stored())
        .execution_options(synchronize_session=False))
    db.session.commit()
    waiting = db.session.scalars(db.select(InboxEvent.installation_id).where(
        InboxEvent.status == "new", InboxEvent.received_at < cutoff, InboxEvent.installation_id.not_in(draining))
        .distinct()).all()
    return {installation_id for installation_id in waiting if _applicable(installation_id)}


# ---- the drain job -------------------------------------------------------------------------------
def drain(installation_id):
    """Apply the installation's waiting events until none are left. At most one per installation."""
    ctx, status = None, "failed"
    try:
        while True:
            try:
                with engine.lease(installation_id, LEASE) as holder:
                    ctx = _drain(installation_id, holder, ctx)
            except engine.LeaseHeld:
                # The holder looks at the inbox (and the settings) again after releasing the lease, so
                # what we came for is not stranded.
                status = "done"
                return
            if not (_applicable(installation_id) and _waiting(installation_id).first()):
                status = "done"
                return
    except Exception:
        # A queued job's exception would vanish in the worker: say it. The events stay `new`.
        logger.exception("real-time drain of installation %s failed", installation_id)
        raise
    finally:
        if ctx is not None and ctx.run is not None:
            db.session.rollback()
            ctx.run.status, ctx.run.finished_at = status, utcnow()
            db.session.commit()
            sync_run("failed" if status == "failed" else "ended", ctx.run)


def _applicable(installation_id):
    """May events be applied now? Not while uninstalling or paused (they wait for re-authorization),
    and not before the first sync has finished: real time applies only after it. Until then events
    wait; once it has finished, those it covered are settled without a read (_settle_covered)."""
    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.status != "installed":
        return False
    settings = engine.sync_settings(installation)
    db.session.refresh(settings)  # another process may have finished the first sync meanwhile
    return settings.paused_reason is None and settings.first_sync_done_at is not None


def _drain(installation_id, holder, ctx):
    """Passes under the lease until the inbox is empty; returns the context to reuse."""
    if not _applicable(installation_id):
        return ctx
    _settle_covered(installation_id)
    renewed = time.monotonic()
    while True:
        events = _waiting(installation_id).limit(EVENTS_PER_PASS).all()
        if not events:
            return ctx
        if ctx is None:
            installation = db.session.get(Installation, installation_id)
            run = SyncRun(installation_id=installation_id, kind="realtime", status="running",
                          mode=engine.sync_settings(installation).mode)
            db.session.add(run)
            db.session.commit()
            sync_run("started", run)
            ctx = engine.SyncContext(installation, run=run)
        started = time.monotonic()
        try:
            _apply(ctx, events)
            ctx.check_budget()  # the CRM's daily credits, as between a sync's pages
        except AuthenticationError as error:
            engine.pause_for_revoked_grant(ctx, error)  # as run_streams does; the events stay `new`
            return ctx
        except engine.SyncPaused:
            return ctx  # the rest wait; the scheduler drains them when the pause ends
        if time.monotonic() - renewed > engine.LEASE_SECONDS / 3:  # renewed now and then, not every pass
            if not engine.acquire_lease(installation_id, LEASE, holder):  # lost: another drain took over
                raise engine.LeaseHeld("lost the inbox lease")
            ctx.run.heartbeat_at = utcnow()
            db.session.commit()
            renewed = time.monotonic()
        # Still holding the lease, so deliveries meanwhile queue no drain of their own: they wait here.
        time.sleep(max(0.0, started + PASS_INTERVAL - time.monotonic()))


def _waiting(installation_id):
    return (db.session.query(InboxEvent)
            .filter_by(installation_id=installation_id, status="new").order_by(InboxEvent.id))


def _settle_covered(installation_id):
    """Events received before the finished first sync started are covered by it: it read every object
    afterwards. Marked done without another read. (Events that came during the first sync are
    applied: the sync may have read their object before the change.)"""
    started = db.session.scalar(
        db.select(db.func.max(SyncRun.started_at)).filter_by(installation_id=installation_id, kind="first",
                                                              status="done"))
    if started is None:
        return
    db.session.execute(db.update(InboxEvent).where(
        InboxEvent.installation_id == installation_id, InboxEvent.status == "new",
        InboxEvent.received_at < as_utc(started)).values(status="done", processed_at=utcnow()))
    db.session.commit()


# ---- one pass: coalesce, re-read in batches, write in batches --------------------------------------
def _apply(ctx, events):
    zendesk_events = [e for e in events if e.source == "zendesk"]
    crm_events = [e for e in events if e.source == "crm"]
    failed = set()
    failed |= _apply_zendesk(ctx, zendesk_events)
    failed |= _apply_crm(ctx, crm_events)
    now = utcnow()
    for event in events:
        event.status, event.processed_at = ("failed" if event.id in failed else "done"), now
    db.session.commit()


def _guarded(ctx, stream, events, object_ids, work):
    """Run `work()`; on an outside failure record it for every object and return the events' ids
    (to be marked failed). A refused grant is raised: the installation pauses."""
    try:
        work()
    except AuthenticationError:
        raise
    except ServiceError as error:
        db.session.rollback()
        for object_id in sorted(set(object_ids)):
            ctx.record_error(stream, object_id, notice("Not applied in real time (%(reason)s). It is tried again "
                                                       "with the next sync.", reason=str(error)))
        return {event.id for event in events}
    return set()


def _apply_zendesk(ctx, events):
    """Users first (tickets look their requesters up), then tickets, then their comments; organizations."""
    by_kind = {}
    for event in events:
        by_kind.setdefault(event.object_kind, []).append(event)
    failed = set()
    user_events = [e for e in by_kind.get("user", []) if not _type(e).endswith(".deleted")]
    user_ids = _ids(user_events)
    if user_ids:
        failed |= _guarded(ctx, "zendesk_users", user_events, user_ids,
                           lambda: pull.pull_users(ctx, ctx.zendesk.show_users(user_ids)))
    ticket_events = by_kind.get("ticket", [])
    ticket_ids = _ids(ticket_events)
    if ticket_ids:
        failed |= _guarded(ctx, "zendesk_tickets", ticket_events, ticket_ids,
                           lambda: _write_tickets(ctx, ticket_ids, ticket_events))
    organization_events = [e for e in by_kind.get("organization", []) if not _type(e).endswith(".deleted")]
    organization_ids = _ids(organization_events)
    if organization_ids:
        failed |= _guarded(ctx, "zendesk_organizations", organization_events, organization_ids,
                           lambda: pull.pull_organizations(ctx, ctx.zendesk.show_organizations(organization_ids)))
    return failed


def _write_tickets(ctx, ticket_ids, ticket_events):
    # Selective mode applies to real time too: only tickets of the chosen organizations.
    found = [t for t in ctx.zendesk.show_tickets(ticket_ids) if tickets.in_scope(ctx, t)]
    if not found:
        return
    tickets.write_tickets(ctx, found)
    wanted = {t["id"] for t in found}
    comments = []
    for event in ticket_events:
        ticket_id = int(event.object_id)
        if ticket_id not in wanted:
            continue
        if _type(event).endswith(".comment_added") and (event.payload.get("event") or {}).get("comment"):
            comments.append((ticket_id, _comment_from_event(event.payload)))
        elif _type(event).endswith(".created"):
            # NB: ticket.created carries no comment object, only `detail.description`; the first
            # comment (and any added with it) is read from the ticket's comments.
            comments.extend((ticket_id, comment) for comment in ctx.zendesk.list_comments(ticket_id))
    if comments:
        tickets.write_comments(ctx, _unique_comments(comments))


def _comment_from_event(payload):
    """The comment a `ticket.comment_added` event carries ({id, body, is_public, author},
    docs/outside-apis.md#zendesk-webhook-events), in the API's comment shape. Its creation time is the event's
    `time`."""
    comment = payload["event"]["comment"]
    author = comment.get("author") or {}
    return {"id": int(comment["id"]), "type": "Comment", "body": comment.get("body") or "",
            "public": bool(comment.get("is_public", True)),
            "author_id": int(author["id"]) if author.get("id") else None,
            "created_at": _whole_seconds(payload.get("time"))}


def _whole_seconds(stamp):
    """`2023-09-18T23:38:13.93870131Z` (nanoseconds, as Zendesk's `time`) → `2023-09-18T23:38:13Z`."""
    return stamp.split(".")[0].rstrip("Z") + "Z" if stamp else None


def _unique_comments(pairs):
    seen, unique = set(), []
    for ticket_id, comment in pairs:
        if comment["id"] not in seen:
            seen.add(comment["id"])
            unique.append((ticket_id, comment))
    return unique


def _apply_crm(ctx, events):
    """Accounts first (people are placed into their organizations), then Contacts and Leads. Only the
    modules chosen in settings. Deletions unlink (deletions.py; nothing is deleted in Zendesk), before
    the pass's other changes, so a new record with a deleted one's email or name links afresh."""
    chosen = set(ctx.settings.modules or [])
    failed = set()
    for module in mapping.MODULES:
        module_events = [e for e in events if e.object_kind == module]
        if module not in chosen:
            continue
        deleted = sorted({str(i) for e in module_events if e.payload.get("operation") == "delete"
                          for i in e.payload.get("ids") or []})
        if deleted:
            failed |= _guarded(ctx, crm_stream_name(module), module_events, deleted,
                               lambda module=module, ids=deleted: deletions.unlink(ctx, module, ids))
        ids = sorted({str(i) for e in module_events if e.payload.get("operation") != "delete"
                      for i in e.payload.get("ids") or []} - set(deleted))
        if ids:
            failed |= _guarded(ctx, crm_stream_name(module), module_events, ids,
                               lambda module=module, ids=ids: _push(ctx, module, ids))
    return failed


def _push(ctx, module, ids):
    """Re-read the records (their mapped fields, 100 ids a call: GET /{module}?ids=,
    docs/outside-apis.md#crm-reading-records) and write them to Zendesk through the people sync's batch functions."""
    records = read_records(ctx, module, ids)
    if module == "Accounts":
        organizations.push_accounts(ctx, records)
    else:
        people.push_people(ctx, module, records)


def _type(event):
    return str(event.payload.get("type") or "")


def _ids(events):
    return sorted({int(e.object_id) for e in events if e.object_id and e.object_id.isdigit()})
