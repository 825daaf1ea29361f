"""Zendesk tickets and their comments into the CRM (F21, docs/architecture.md#what-maps-to-what).

Two streams, both one-way (Zendesk → CRM):
- `zendesk_tickets`: the incremental ticket export (cursor-based, 1000 a page, every status including
  closed), with the page's requesters, assignees and organizations sideloaded (`include=users,organizations`)
  so names cost no extra call. Each page is upserted into the "Zendesk Tickets" module (duplicate check
  `Ticket_ID`, 100 a call, in parallel up to the edition's concurrency) and into the local `Ticket` table.
- `zendesk_comments`: `incremental/ticket_events` with `include=comment_events` (time-based), whose
  Comment child events, public and internal, are upserted into "Zendesk Ticket Comments" (duplicate
  check `Comment_ID`, looked up to the ticket's CRM record) and into the local `Comment` table.

Crash safety: a stream's cursor is committed (`ctx.save_cursor`) only after its page is in the CRM and
in the local tables; a page read again after a crash is upserted again, which finds the records by
their Zendesk ids and so never duplicates them. Records whose written fields hash as last time are not
sent again.

`write_tickets` and `write_comments` are the batch writers; real-time processing calls them too.
"""
from collections import deque

from sqlalchemy.exc import IntegrityError

from ..clients.crm import MAX_RECORDS_PER_CALL
from ..clients.http import ServiceError, chunks
from ..connections import zendesk_base_url
from ..extensions import db
from ..models import Comment, Link, SyncError, Ticket
from ..notices import notice
from .mapping import parse_time
from .store import ID_CHUNK, Written, by_zendesk_id, crm_failure, digest, failed, links_by_zendesk, save_links

TICKETS = "zendesk_tickets"
COMMENTS = "zendesk_comments"
SIDELOADS = "users,organizations"
DEAL_PREFIX = "zcrm:Deals:"  # ticket.external_id of a ticket created from a Deal page (the record widget sets it)
STAFF_ROLES = ("agent", "admin")
NAME_LENGTH = 255  # the CRM's default text length (the modules' `Name` display field)
SUMMARY_LENGTH = 120  # a comment's `Name`: the start of its first line
BODY_LENGTH = 32000  # the CRM's textarea limit
STAFF_CACHE_LIMIT = 5000  # agents' names kept for a run (comment authors); bounded, whatever the ticket count


# ---- the streams ---------------------------------------------------------------------------------

def sync_tickets(ctx):
    """Every ticket changed since the saved cursor (all of them on the first sync), page by page."""
    for page in ctx.zendesk.export_tickets(start_time=0, cursor=ctx.cursor(TICKETS), include=SIDELOADS):
        ctx.check_running()
        write_tickets(ctx, page.records, sideloads=page.sideloads)
        if page.cursor is not None:
            ctx.save_cursor(TICKETS, page.cursor)


def sync_comments(ctx):
    """Every comment added since the saved time (all of them on the first sync).

    Event pages hold any number of comments (pages never split a second, and many events have none),
    so comments are written in whole hundreds across pages, the few left over waiting for the next
    page: upserts stay at the minimum, ceil(comments / 100). A page's cursor is saved once every comment
    of it and of the pages before it is written; after a crash the next run reads from there again."""
    unwritten, pages = [], deque()  # comments read, not yet written; [cursor, its comments unwritten] per page
    for page in ctx.zendesk.export_ticket_events(start_time=int(ctx.cursor(COMMENTS) or 0)):
        ctx.check_running()
        comments = [(event["ticket_id"], child) for event in page.records
                    for child in event.get("child_events") or [] if _whole_comment(child)]
        unwritten.extend(comments)
        pages.append([page.cursor, len(comments)])
        _write_whole_batches(ctx, unwritten, pages, everything=page.end_of_stream)
    _write_whole_batches(ctx, unwritten, pages, everything=True)


def _whole_comment(child):
    """A Comment child event with its text. Without `include=comment_events` Zendesk lists a comment only as
    its `comment_present` / `comment_public` flags (docs/outside-apis-zendesk-audit.md, ticket_events):
    never written as an empty comment."""
    return child.get("event_type", child.get("type")) == "Comment" and ("body" in child or "html_body" in child)


def _write_whole_batches(ctx, unwritten, pages, everything):
    count = len(unwritten) if everything else len(unwritten) - len(unwritten) % MAX_RECORDS_PER_CALL
    if count:
        write_comments(ctx, unwritten[:count])
        del unwritten[:count]
    covered = None
    while pages and pages[0][1] <= count:  # pages now wholly written, oldest first
        count -= pages[0][1]
        covered = pages.popleft()[0]
    if pages:
        pages[0][1] -= count
    if covered is not None:
        ctx.save_cursor(COMMENTS, str(covered))


# ---- tickets -------------------------------------------------------------------------------------

def write_tickets(ctx, zendesk_tickets, sideloads=None):
    """Upsert Zendesk tickets (API dicts) into the CRM and the local table; returns `store.Written`.
    Tickets outside a selective sync are left out; deleted ones leave the CRM (`remove_tickets`).
    `sideloads`: the page's `users`/`organizations`; whatever names they lack are read with show_many,
    100 a call."""
    tickets = [t for t in zendesk_tickets if t.get("status") != "deleted" and in_scope(ctx, t)]
    result = Written(removed=remove_tickets(ctx, [t["id"] for t in zendesk_tickets if t.get("status") == "deleted"]))
    result.skipped = len(zendesk_tickets) - len(tickets) - result.removed
    if tickets:
        users, organizations = _people(ctx, tickets, sideloads or {})
        people = links_by_zendesk(ctx, "user", [t.get("requester_id") for t in tickets])
        accounts = links_by_zendesk(ctx, "organization", [t.get("organization_id") for t in tickets])
        done = links_by_zendesk(ctx, "ticket", [t["id"] for t in tickets])
        records = {t["id"]: ticket_record(ctx, t, users, organizations, people, accounts) for t in tickets}
        crm_ids, written = _upsert(ctx, TICKETS, "tickets", "Ticket_ID", records, done, result)
        _save_local(lambda: (save_links(ctx, "ticket", written),
                             _save_tickets(ctx, tickets, records, users, crm_ids)))
        _retry_waiting_comments(ctx, set(crm_ids))
    ctx.count(TICKETS, read=len(zendesk_tickets), written=result.written, errors=result.failed)
    return result


def remove_tickets(ctx, ticket_ids):
    """Tickets deleted in Zendesk (the exports list them once more, `status: "deleted"`) leave the CRM:
    their "Zendesk Tickets" records and their comments' records (100 ids a call), then our rows of them
    and their old errors. A record the CRM will not delete is reported (SyncError) and our rows go all
    the same: the ticket is no more, and the export will not list it again. Returns how many we had."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    tickets = by_zendesk_id(ctx, Ticket, ids)
    comments = db.session.scalars(db.select(Comment.zendesk_id).filter(
        Comment.installation_id == ctx.installation.id, Comment.ticket_zendesk_id.in_(list(tickets)))).all()
    _forget_errors(ctx, ids, comments)
    links = {COMMENTS: links_by_zendesk(ctx, "comment", comments), TICKETS: links_by_zendesk(ctx, "ticket", tickets)}
    for stream_name, module_key in ((COMMENTS, "comments"), (TICKETS, "tickets")):  # never an orphan comment
        by_crm_id = {link.crm_id: link.zendesk_id for link in links[stream_name].values()}
        if not by_crm_id:
            continue
        answers = ctx.crm.delete_records(ctx.installation.crm_modules[module_key], list(by_crm_id))
        for crm_id, answer in zip(by_crm_id, answers):
            if not answer.ok and answer.code != "INVALID_DATA":  # INVALID_DATA: someone deleted it already
                ctx.record_error(stream_name, by_crm_id[crm_id], notice(
                    "Deleted in Zendesk, but its CRM record could not be removed: %(reason)s",
                    reason=crm_failure(answer)), retryable=False)
    for model, kind, zendesk_ids in ((Comment, "comment", comments), (Ticket, "ticket", list(tickets))):
        for chunk in chunks(zendesk_ids, ID_CHUNK):
            db.session.execute(db.delete(Link).where(Link.installation_id == ctx.installation.id,
                                                     Link.kind == kind, Link.zendesk_id.in_(chunk)))
            db.session.execute(db.delete(model).where(model.installation_id == ctx.installation.id,
                                                      model.zendesk_id.in_(chunk)))
    db.session.commit()
    return len(tickets)


def _forget_errors(ctx, ticket_ids, comment_ids):
    """The deleted tickets' earlier errors, their comments' and those of comments that waited for them."""
    ctx.clear_errors(TICKETS, ticket_ids)
    ctx.clear_errors(COMMENTS, comment_ids)
    for batch in chunks(ticket_ids, ID_CHUNK):
        db.session.execute(db.delete(SyncError).where(
            SyncError.installation_id == ctx.installation.id, SyncError.stream == COMMENTS,
            SyncError.waiting_for_ticket.in_(batch)))
    db.session.commit()


def in_scope(ctx, ticket):
    """Bulk: every ticket. Selective: tickets of the chosen organizations (Zendesk ids)."""
    if ctx.settings.mode != "selective":
        return True
    chosen = set(ctx.chosen_organization_ids())
    return ticket.get("organization_id") in chosen


def ticket_record(ctx, ticket, users, organizations, people, accounts):
    """The "Zendesk Tickets" record of a ticket: its fields, and lookups to the requester's Contact
    (else Lead), the organization's Account and the Deal it was created from."""
    requester = users.get(ticket.get("requester_id")) or {}
    person = people.get(ticket.get("requester_id"))
    account = accounts.get(ticket.get("organization_id"))
    deal = _deal_id(ticket)
    return {
        "Ticket_ID": str(ticket["id"]),
        "Name": (ticket.get("subject") or "").strip()[:NAME_LENGTH] or f"Ticket #{ticket['id']}",
        # The modules' picklists hold Zendesk's values capitalised ("hold" → "Hold", lifecycle/install.py).
        "Status": _capitalised(ticket.get("status")),
        "Priority": _capitalised(ticket.get("priority")),
        "Type": _capitalised(ticket.get("type")),
        "Tags": ", ".join(ticket.get("tags") or []) or None,
        "Requester_Name": (requester.get("name") or "")[:NAME_LENGTH] or None,
        "Requester_Email": requester.get("email") or None,
        "Assignee": ((users.get(ticket.get("assignee_id")) or {}).get("name") or "")[:NAME_LENGTH] or None,
        "Organization": ((organizations.get(ticket.get("organization_id")) or {}).get("name") or "")[:NAME_LENGTH]
        or None,
        "Zendesk_Link": f"{zendesk_base_url(ctx.installation)}/agent/tickets/{ticket['id']}",
        "Zendesk_Created_Time": crm_datetime(ticket.get("created_at")),
        "Zendesk_Updated_Time": crm_datetime(ticket.get("updated_at")),
        "Contact": {"id": person.crm_id} if person and person.crm_module == "Contacts" else None,
        "Lead": {"id": person.crm_id} if person and person.crm_module == "Leads" else None,
        "Account": {"id": account.crm_id} if account else None,
        "Deal": {"id": deal} if deal else None,
    }


def _people(ctx, tickets, sideloads):
    """({user id: user}, {organization id: organization}) for the tickets' requesters, assignees and
    organizations: the sideloads, then show_many for any the sideloads lack."""
    users = {u["id"]: u for u in sideloads.get("users") or []}
    organizations = {o["id"]: o for o in sideloads.get("organizations") or []}
    wanted = {t.get(key) for t in tickets for key in ("requester_id", "assignee_id")} - {None}
    if wanted - users.keys():
        users.update((u["id"], u) for u in ctx.zendesk.show_users(wanted - users.keys()))
    wanted = {t.get("organization_id") for t in tickets} - {None}
    if wanted - organizations.keys():
        organizations.update((o["id"], o) for o in ctx.zendesk.show_organizations(wanted - organizations.keys()))
    _remember_staff(ctx, users.values())
    return users, organizations


def _deal_id(ticket):
    external_id = ticket.get("external_id") or ""
    deal = external_id[len(DEAL_PREFIX):] if external_id.startswith(DEAL_PREFIX) else ""
    return deal if deal.isdigit() else None


def _save_tickets(ctx, tickets, records, users, crm_ids):
    rows = by_zendesk_id(ctx, Ticket, [t["id"] for t in tickets])
    for ticket in tickets:
        record = records[ticket["id"]]
        row = rows.get(ticket["id"]) or Ticket(installation_id=ctx.installation.id, zendesk_id=ticket["id"])
        db.session.add(row)
        row.subject = (ticket.get("subject") or "")[:NAME_LENGTH]
        row.status, row.priority, row.type = ticket.get("status") or "new", ticket.get("priority"), ticket.get("type")
        row.tags = list(ticket.get("tags") or [])
        row.requester_id, row.assignee_id = ticket.get("requester_id"), ticket.get("assignee_id")
        row.requester_name = record["Requester_Name"] or ""
        row.requester_email = (users.get(ticket.get("requester_id")) or {}).get("email") or ""
        row.assignee_name = record["Assignee"] or ""
        row.organization_id = ticket.get("organization_id")
        row.organization_name = record["Organization"] or ""
        row.created_at, row.updated_at = parse_time(ticket.get("created_at")), parse_time(ticket.get("updated_at"))
        row.crm_record_id = crm_ids.get(ticket["id"], row.crm_record_id)
        row.crm_contact_id = (record["Contact"] or {}).get("id")
        row.crm_lead_id = (record["Lead"] or {}).get("id")
        row.crm_account_id = (record["Account"] or {}).get("id")
        row.crm_deal_id = (record["Deal"] or {}).get("id")


# ---- comments ------------------------------------------------------------------------------------

def write_comments(ctx, comments):
    """Upsert comments — `(ticket_id, comment)` pairs, the comment as ticket_events' Comment child event
    or the comments API gives it — into the CRM and the local table; returns `store.Written`.

    A comment needs its ticket's CRM record (its lookup). Tickets not synced yet are fetched (show_many,
    100 a call) and written first; comments of tickets outside a selective sync are left out; a comment
    whose ticket still cannot be written waits as a SyncError (`waiting_for_ticket`) and is written when
    that ticket is (`_retry_waiting_comments`): never a lookup to a record that does not exist."""
    comments = list(comments)
    result = Written()
    if comments:
        tickets = _synced_tickets(ctx, {ticket_id for ticket_id, _ in comments})
        ready = [(tickets[tid], c) for tid, c in comments if tickets.get(tid) and tickets[tid].crm_record_id]
        for ticket_id, comment in comments:
            if ticket_id not in tickets:
                result.skipped += 1  # outside a selective sync (or deleted)
            elif not tickets[ticket_id].crm_record_id:
                result.skipped += 1
                ctx.record_error(COMMENTS, comment["id"], notice(
                    "Waiting for ticket %(ticket_id)s, which is not in the CRM yet (see its own error).",
                    ticket_id=ticket_id), waiting_for_ticket=ticket_id)
        if ready:
            authors = _author_names(ctx, ready)
            done = links_by_zendesk(ctx, "comment", [c["id"] for _, c in ready])
            records = {c["id"]: comment_record(t, c, authors) for t, c in ready}
            crm_ids, written = _upsert(ctx, COMMENTS, "comments", "Comment_ID", records, done, result)
            _save_local(lambda: (save_links(ctx, "comment", written), _save_comments(ctx, ready, authors, crm_ids)))
    ctx.count(COMMENTS, read=len(comments), written=result.written, errors=result.failed)
    return result


def comment_record(ticket_row, comment, authors):
    body = comment.get("plain_body") or comment.get("body") or ""
    first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return {
        "Comment_ID": str(comment["id"]),
        "Name": first_line[:SUMMARY_LENGTH] or f"Comment {comment['id']}",
        "Zendesk_Ticket": {"id": ticket_row.crm_record_id},
        "Author": (authors.get(comment.get("author_id")) or "")[:NAME_LENGTH] or None,
        "Body": body[:BODY_LENGTH],
        "Public": bool(comment.get("public", True)),
        "Zendesk_Created_Time": crm_datetime(comment.get("created_at")),
    }


def _synced_tickets(ctx, ticket_ids):
    """{ticket id: local Ticket row} for these tickets; tickets not synced yet (or whose CRM write
    failed before) are read from Zendesk and written first."""
    rows = by_zendesk_id(ctx, Ticket, ticket_ids)
    missing = sorted(tid for tid in ticket_ids if tid not in rows or not rows[tid].crm_record_id)
    if missing:
        write_tickets(ctx, ctx.zendesk.show_tickets(missing))
        rows.update(by_zendesk_id(ctx, Ticket, missing))
    return rows


def _author_names(ctx, ready):
    """{user id: name} of the comments' authors: the tickets' requesters and assignees (local rows), the
    agents seen this run, then show_many for the rest."""
    names = dict(_staff(ctx))
    for row, _ in ready:
        names.setdefault(row.requester_id, row.requester_name)
        names.setdefault(row.assignee_id, row.assignee_name)
    unknown = {c.get("author_id") for _, c in ready} - names.keys() - {None}
    if unknown:
        users = ctx.zendesk.show_users(unknown)
        _remember_staff(ctx, users)
        names.update((u["id"], u.get("name") or "") for u in users)
    return names


def _save_comments(ctx, ready, authors, crm_ids):
    rows = by_zendesk_id(ctx, Comment, [c["id"] for _, c in ready])
    for ticket_row, comment in ready:
        row = rows.get(comment["id"]) or Comment(installation_id=ctx.installation.id, zendesk_id=comment["id"])
        db.session.add(row)
        row.ticket_zendesk_id = ticket_row.zendesk_id
        row.author_id = comment.get("author_id")
        row.author_name = (authors.get(comment.get("author_id")) or "")[:NAME_LENGTH]
        row.body = comment.get("plain_body") or comment.get("body") or ""
        row.public = bool(comment.get("public", True))
        row.created_at = parse_time(comment.get("created_at"))
        row.crm_record_id = crm_ids.get(comment["id"], row.crm_record_id)


def _retry_waiting_comments(ctx, ticket_ids):
    """Comments that waited for one of these tickets (now in the CRM): read them again and write them."""
    found = set()
    for batch in chunks(sorted(ticket_ids), ID_CHUNK):
        found.update(db.session.scalars(db.select(SyncError.waiting_for_ticket).filter(
            SyncError.installation_id == ctx.installation.id, SyncError.stream == COMMENTS,
            SyncError.waiting_for_ticket.in_(batch))))
    for ticket_id in sorted(found):  # rare: a call per ticket whose comments waited
        write_comments(ctx, [(ticket_id, comment) for comment in ctx.zendesk.list_comments(ticket_id)])


# ---- shared --------------------------------------------------------------------------------------

def _upsert(ctx, stream_name, module_key, unique_field, records, links, result):
    """Upsert the records ({zendesk id: record}) whose content changed since we last wrote them, in
    batches of 100 in parallel (CrmClient.upsert_records). Per-record failures become SyncErrors with
    the CRM's message. Returns ({zendesk id: CRM id} of the records in the CRM, {zendesk id: (module,
    CRM id, hash)} of those written now, for their Link rows)."""
    module = (ctx.installation.crm_modules or {}).get(module_key)
    if not module:
        raise ServiceError("The Zendesk modules are not set up in the CRM yet: connect Zoho CRM again.")
    hashes = {zid: digest(record) for zid, record in records.items()}
    crm_ids = {zid: link.crm_id for zid, link in links.items() if link.last_hash == hashes[zid]}
    changed = [zid for zid in records if zid not in crm_ids]
    answers = ctx.crm.upsert_records(module, [records[zid] for zid in changed], [unique_field]) if changed else []
    fresh = {}
    for zid, answer in zip(changed, answers):
        if answer.ok:
            crm_ids[zid] = fresh[zid] = answer.id
        else:
            failed(ctx, stream_name, zid, crm_failure(answer), result)
    result.written += len(crm_ids)
    ctx.clear_errors(stream_name, list(crm_ids))
    return crm_ids, {zid: (module, crm_id, hashes[zid]) for zid, crm_id in fresh.items()}


def _save_local(write):
    """Run `write()` (adds local rows) and commit; if another writer (real time, a second worker)
    inserted one of the same rows meanwhile, roll back and write once more over its rows."""
    try:
        with db.session.no_autoflush:  # rows are complete only once `write()` has set every field
            write()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        with db.session.no_autoflush:
            write()
        db.session.commit()


def _staff(ctx):
    """Agents' names seen during this context's run (comment authors are mostly agents)."""
    return vars(ctx).setdefault("zendesk_staff_names", {})


def _remember_staff(ctx, users):
    staff = _staff(ctx)
    for user in users:
        if user.get("role") in STAFF_ROLES and len(staff) < STAFF_CACHE_LIMIT:
            staff[user["id"]] = user.get("name") or ""


def crm_datetime(value):
    """Zendesk's `2024-05-01T09:30:00Z` as the CRM writes datetimes, `2024-05-01T09:30:00+00:00`."""
    parsed = parse_time(value)
    return parsed.isoformat(timespec="seconds") if parsed else None


def _capitalised(value):
    return value.capitalize() if value else None
