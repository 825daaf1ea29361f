"""People and organizations (F20, docs/architecture.md#what-maps-to-what): CRM Accounts → Zendesk organizations, CRM
Contacts and Leads → Zendesk end-users, and Zendesk users' changes back to their CRM records.

Streams:
- `crm_accounts`, `crm_contacts`, `crm_leads` (only when the module is chosen in settings): the records
  modified since the cursor, oldest first (`sort_by=Modified_Time`, `If-Modified-Since`: both documented
  on GET records, docs/outside-apis.md#crm-reading-records; exact, and one call per 200 records, where search would stop
  at 2000 and lag behind writes). Pages follow `page_token` from the first page, so records edited while
  being read shift no page. The cursor is the Modified_Time of a written page's last record; a run asks
  from one second before it (the header has whole seconds) and the boundary second read again is
  written again only if changed (hash), so nothing is missed and nothing is duplicated. Then the
  records deleted since the last look are unlinked (deletions.py: nothing is deleted in Zendesk).
- `zendesk_users`: the incremental user export (cursor, 1000 a page); users linked to a CRM Contact or
  Lead bring their `both`/`to_crm` fields to it (CRM updates of 100, in parallel).
- `zendesk_organizations` (when Accounts are chosen): the incremental organization export (time-based,
  1000 a page); organizations linked to a CRM Account bring their `both`/`to_crm` fields to it, the
  same way.

Batch writers (real time calls them too): `push_accounts`, `push_people`, `pull_users`,
`pull_organizations`.

Identity and matching: organizations by external_id "zcrm:Accounts:<id>". The one
exception is a new account whose name an organization already holds (Zendesk names are unique): that
organization is adopted (linked, given our external_id, written) when it has exactly the account's name
and belongs to no other record; otherwise the account is a SyncError saying what is in the way.
Users by email, then external_id ("zcrm:Contacts:<id>"), which is what create_or_update_many does itself,
so no lookup is made before writing. Each pair gets a Link whose `last_hash` is the digest of the pair's
mapped fields as we last wrote or read them (mapping.digest): a record whose fields hash the same is
not written again, and a Zendesk change that only repeats our own write is an echo, dropped.

Costs: organizations: create_many jobs of 100 for new ones; updates are single `create_or_update`
calls, made only for accounts whose mapped fields changed. Names create_many found taken cost one
show_many by external_ids per job, then one search by name and one write each. NB: real Zendesk also
has a bulk `PUT organizations/update_many` (a job of 100), but neither its documented bulk writes
(docs/outside-apis.md#zendesk-writes-and-search) nor the sandbox have it; with it, updates would cost one call per 100.
Users: create_or_update_many jobs of 100. Linked records whose two-way fields changed are looked up
in batches (show_many of 100, CRM get-by-ids of 100) for the "later change wins" rule. A job whose
status Zendesk no longer keeps is reconciled by the client (records read back, only those not written
sent again), so its results link records as after any job.
"""
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from sqlalchemy.exc import IntegrityError

from ..clients.crm import MAX_PER_PAGE, MAX_RECORDS_PER_CALL
from ..clients.http import InvalidRequest, NotFound
from ..clients.zendesk import BULK_LIMIT, is_taken
from ..extensions import db
from ..models import FieldMapping, Link
from ..notices import notice
from . import deletions, mapping
from .engine import stream

ACCOUNTS, CONTACTS, LEADS, USERS = "crm_accounts", "crm_contacts", "crm_leads", "zendesk_users"
ORGANIZATIONS = "zendesk_organizations"
STREAMS = {"Accounts": ACCOUNTS, "Contacts": CONTACTS, "Leads": LEADS}
ID_CHUNK = 500  # ids per SQL `IN (...)`


@dataclass
class Written:
    """What a batch did: written to the other side, unchanged (nothing to write), failed, out of scope."""

    written: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0


# ---- the field mapping of an installation --------------------------------------------------------
def ensure_default_mappings(installation):
    """The standard FieldMapping rows (mapping.STANDARD) for every module that has none yet; an admin's
    own rows are kept. Idempotent."""
    existing = {(row.module, row.crm_field) for row in db.session.scalars(
        db.select(FieldMapping).filter_by(installation_id=installation.id))}
    for module, rows in mapping.STANDARD.items():
        for row in rows:
            if (module, row.crm_field) not in existing:
                db.session.add(FieldMapping(installation_id=installation.id, module=module, crm_field=row.crm_field,
                                            zendesk_field=row.zendesk_field, direction=row.direction,
                                            value_map=dict(row.value_map), standard=True))
    try:
        db.session.commit()
    except IntegrityError:  # created meanwhile by another worker
        db.session.rollback()


def mappings_for(ctx, module):
    """The installation's mapping rows of a module (the standard ones are created on first use)."""
    rows = _mapping_rows(ctx.installation, module)
    if not rows:
        ensure_default_mappings(ctx.installation)
        rows = _mapping_rows(ctx.installation, module)
    return [mapping.Field(r.crm_field, r.zendesk_field, r.direction, dict(r.value_map or {})) for r in rows]


def _mapping_rows(installation, module):
    return db.session.scalars(db.select(FieldMapping).filter_by(installation_id=installation.id, module=module)
                              .order_by(FieldMapping.id)).all()


def crm_fields(module, ctx=None):
    """The CRM fields to read for `module`: with `ctx`, the installation's mapping; else the standard one."""
    return mapping.crm_fields(module, mappings_for(ctx, module) if ctx is not None else ())


# ---- the CRM streams -----------------------------------------------------------------------------
@stream(ACCOUNTS, "Accounts")
def sync_accounts(ctx):
    _crm_stream(ctx, "Accounts", push_accounts)


@stream(CONTACTS, "Contacts")
def sync_contacts(ctx):
    _crm_stream(ctx, "Contacts", lambda ctx, records: push_people(ctx, "Contacts", records))


@stream(LEADS, "Leads")
def sync_leads(ctx):
    _crm_stream(ctx, "Leads", lambda ctx, records: push_people(ctx, "Leads", records))


def _crm_stream(ctx, module, write):
    name = STREAMS[module]
    cursor = ctx.cursor(name)
    since = None
    # NB: one second earlier: If-Modified-Since has whole seconds and means "after"
    # (docs/outside-apis.md#crm-reading-records)
    if cursor:
        since = (mapping.parse_time(cursor) - timedelta(seconds=1)).isoformat()
    records = ctx.crm.list_records(module, crm_fields(module, ctx), modified_since=since, tokens_only=True,
                                   sort_by="Modified_Time", sort_order="asc")
    while True:
        page = list(islice(records, MAX_PER_PAGE))  # the generator reads one API page per 200 records
        if not page:
            break
        ctx.check_running()
        write(ctx, page)
        ctx.save_cursor(name, page[-1]["Modified_Time"])
    deletions.catch_up(ctx, module)  # records deleted meanwhile: unlinked


# ---- Accounts → organizations --------------------------------------------------------------------
def push_accounts(ctx, crm_records):
    """Write CRM Accounts (records with the mapped fields) to Zendesk organizations; returns Written."""
    mappings = mappings_for(ctx, "Accounts")
    records = _with_mapped_fields(ctx, "Accounts", [r for r in crm_records if r.get("id")])
    result = Written()
    chosen = _chosen_organizations(ctx)
    links = _links_by_crm(ctx, "organization", "Accounts", [r["id"] for r in records])
    creates, updates = [], []  # (record, payload) / (record, organization id, payload)
    for record in records:
        target = links[record["id"]].zendesk_id if record["id"] in links else None
        if chosen is not None:
            target = target if target in chosen else _meet_chosen(record, chosen)
            if target is None:
                result.skipped += 1
                continue
        view_hash = mapping.digest(mapping.view_of_crm("Accounts", record, mappings))
        link = links.get(record["id"])
        if link is not None and link.zendesk_id == target and link.last_hash == view_hash:
            result.unchanged += 1
            continue
        payload = mapping.to_zendesk("Accounts", record, mappings)
        payload["external_id"] = mapping.external_id("Accounts", record["id"])
        if target is None:
            creates.append((record, payload))
        else:
            updates.append((record, target, payload))
    _update_organizations(ctx, mappings, updates, links, result)
    _create_organizations(ctx, mappings, creates, result)
    ctx.count(ACCOUNTS, read=len(crm_records), written=result.written, errors=result.failed)
    return result


def _with_mapped_fields(ctx, module, records):
    """The records, read again (by ids, 100 a call) if they were read without some mapped field: a
    missing field would otherwise be written to Zendesk as empty."""
    needed = crm_fields(module, ctx)
    short = [r["id"] for r in records if any(name not in r for name in needed)]
    if not short:
        return records
    fresh = {}
    for batch in _chunks(short, MAX_RECORDS_PER_CALL):
        fresh.update((r["id"], r) for r in ctx.crm.list_records(module, needed, ids=",".join(batch)))
    return [fresh.get(r["id"], r) for r in records if r["id"] in fresh or r["id"] not in short]


def _chosen_organizations(ctx):
    """Selective sync: {Zendesk organization id: organization} of the chosen ones; None in bulk mode.
    Read once per context (show_many, 100 a call)."""
    if ctx.settings.mode != "selective":
        return None
    cache = vars(ctx).setdefault("people_cache", {})
    if "chosen" not in cache:
        ids = ctx.chosen_organization_ids()
        cache["chosen"] = {o["id"]: o for o in ctx.zendesk.show_organizations(ids)} if ids else {}
    return cache["chosen"]


def _meet_chosen(record, chosen):
    """The chosen organization an unlinked account belongs to: ours by external_id, or, for the first
    link, the one with exactly its name that has no external_id yet."""
    ours = mapping.external_id("Accounts", record["id"]).lower()
    for org in chosen.values():
        if (org.get("external_id") or "").lower() == ours:
            return org["id"]
    name = (record.get("Account_Name") or "").strip()
    for org in chosen.values():
        if not org.get("external_id") and name and org.get("name") == name:
            return org["id"]
    return None


def _update_organizations(ctx, mappings, updates, links, result):
    """Single create_or_update calls by id (no batch update for organizations), after the later-change
    rule: two-way fields Zendesk changed after the CRM did keep Zendesk's values."""
    if not updates:
        return
    current = {o["id"]: o for o in ctx.zendesk.show_organizations([target for _, target, _ in updates])}
    crm_updates = []
    for record, target, payload in updates:
        org = current.get(target)
        if org is None:  # deleted in Zendesk: create it again
            _create_organizations(ctx, mappings, [(record, payload)], result)
            continue
        if _zendesk_won(links.get(record["id"]), org, record, mappings):
            payload = mapping.keep_later_zendesk_values(payload, org, mappings)
            crm_updates += _later_zendesk_values(record, org, mappings)
        _write_organization(ctx, mappings, record, {"id": target, **payload}, result)
    db.session.commit()
    _write_crm(ctx, "Accounts", ACCOUNTS, crm_updates, result)


def _create_organizations(ctx, mappings, creates, result):
    """create_many jobs of 100. Items refused because the name or external_id is taken meet the
    organization that holds it (`_meet_taken`): never a second organization."""
    for batch in _chunks(creates, BULK_LIMIT):
        # A failure of the whole call (after the client's retries) stops the stream before its cursor moves.
        answers = ctx.zendesk.create_many_organizations([payload for _, payload in batch])
        by_index = {answer.get("index", i): answer for i, answer in enumerate(answers)}
        taken = []
        for index, (record, payload) in enumerate(batch):
            answer = by_index.get(index) or {}
            if answer.get("success"):
                _link(ctx, "organization", answer["id"], "Accounts", record["id"],
                      mapping.digest(mapping.view_of_zendesk(payload, mappings)))
                result.written += 1
                ctx.clear_errors(ACCOUNTS, [record["id"]])
            elif is_taken(answer):
                taken.append((record, payload))
            else:
                _failed(ctx, ACCOUNTS, record["id"], _job_failure(answer), result)
        db.session.commit()
        _meet_taken(ctx, mappings, taken, result)


def _meet_taken(ctx, mappings, taken, result):
    """Accounts whose new organization Zendesk refused as a duplicate. Our own organization (created by a
    run that crashed before linking it) is found by external_id, 100 a call, and written over. Otherwise
    the organization holding the name (one search each: no call takes many names) is adopted when it is
    nobody's and has exactly the account's name; when it is another record's, the account gets a
    SyncError saying so."""
    if not taken:
        return
    ours = {str(o.get("external_id")).lower(): o for o in ctx.zendesk.show_organizations_by_external_ids(
        [payload["external_id"] for _, payload in taken])}
    for record, payload in taken:
        org = ours.get(payload["external_id"].lower())
        if org is None:
            org = ctx.zendesk.organization_named((payload.get("name") or "").strip())
            if org is None:  # renamed or deleted meanwhile: create it (or find ours) by external_id
                _write_organization(ctx, mappings, record, payload, result)
                continue
            refusal = _not_adoptable(ctx, record, payload, org)
            if refusal is not None:
                message, other_crm_id = refusal
                _failed(ctx, ACCOUNTS, record["id"], message, result, retryable=False, zendesk_id=org["id"],
                        other_crm_id=other_crm_id)
                continue
        _write_organization(ctx, mappings, record, {"id": org["id"], **payload}, result)
    db.session.commit()


def _not_adoptable(ctx, record, payload, org):
    """Why the unlinked account may not take `org`, the organization holding its name, as its own:
    (message in plain words, the other CRM account's id or None); None when it may."""
    name = org.get("name") or ""
    link = _links_by_zendesk(ctx, "organization", [org["id"]]).get(org["id"])
    owner = (link.crm_module, link.crm_id) if link is not None else mapping.parse_external_id(org.get("external_id"))
    if owner is not None and owner[0] == "Accounts":
        message = notice("A Zendesk organization named “%(name)s” already exists and is linked to another CRM "
                         "account, so this account was not synced. Rename one of them.", name=name)
        return message, owner[1]
    if owner is not None or org.get("external_id"):
        message = notice("A Zendesk organization named “%(name)s” already exists and is linked to another record "
                         "(its external ID is “%(external_id)s”), so this account was not synced. Rename one of them.",
                         name=name, external_id=org.get("external_id"))
        return message, None
    if name != (payload.get("name") or "").strip():
        message = notice("A Zendesk organization named “%(name)s” already exists. Zendesk treats names that differ "
                         "only in capital letters as the same, so this account was not synced. Make the two names "
                         "the same to link them, or rename one of them.", name=name)
        return message, None
    return None


def _write_organization(ctx, mappings, record, payload, result):
    """create_or_update (by `id`, else external_id) and link the account to what Zendesk saved."""
    try:
        saved = ctx.zendesk.create_or_update_organization(payload)
    except (InvalidRequest, NotFound) as error:  # e.g. "RecordInvalid: ... (name: Name: X has already been taken)"
        _failed(ctx, ACCOUNTS, record["id"], str(error), result)
        return
    _link(ctx, "organization", saved["id"], "Accounts", record["id"],
          mapping.digest(mapping.view_of_zendesk(saved, mappings)))
    result.written += 1
    ctx.clear_errors(ACCOUNTS, [record["id"]])


# ---- Contacts and Leads → end-users --------------------------------------------------------------
def push_people(ctx, module, crm_records):
    """Write CRM Contacts or Leads to Zendesk users (create_or_update_many, matched by email, then
    external_id), each Contact into its Account's organization; returns Written."""
    mappings = mappings_for(ctx, module)
    name = STREAMS[module]
    records = _with_mapped_fields(ctx, module, [r for r in crm_records if r.get("id")])
    result = Written()
    in_scope = _people_scope(ctx, module)
    org_ids = _organization_ids(ctx, records)
    links = _links_by_crm(ctx, "user", module, [r["id"] for r in records])
    changed = []  # (record, payload)
    for record in records:
        if in_scope is not None and not in_scope(record):
            result.skipped += 1
            continue
        view_hash = mapping.digest(mapping.view_of_crm(module, record, mappings, org_ids))
        link = links.get(record["id"])
        if link is not None and link.last_hash == view_hash:
            result.unchanged += 1
            continue
        payload = mapping.to_zendesk(module, record, mappings, org_ids)
        account = record.get("Account_Name")
        if isinstance(account, dict) and account.get("id") and mapping.ORGANIZATION in payload \
                and payload[mapping.ORGANIZATION] is None:
            del payload[mapping.ORGANIZATION]  # its account is not in Zendesk (not synced): leave the user's as is
        # No `role`: a new user is an end-user, and an agent matched by email stays an agent.
        payload["external_id"] = mapping.external_id(module, record["id"])
        changed.append((record, payload))
    if module == "Leads":
        changed = _without_contacts_emails(ctx, name, changed, result)
    current = _current_users(ctx, mappings, changed, links)
    crm_updates = []
    for batch in _chunks(changed, BULK_LIMIT):
        sent = []
        for record, payload in batch:
            user = current.get(record["id"])
            if user is not None and _zendesk_won(links.get(record["id"]), user, record, mappings):
                payload = mapping.keep_later_zendesk_values(payload, user, mappings)
                crm_updates += _later_zendesk_values(record, user, mappings)
            sent.append((record, payload))
        # A failure of the whole call (after the client's retries) stops the stream before its cursor moves.
        answers = ctx.zendesk.create_or_update_users([payload for _, payload in sent])
        by_index = {answer.get("index", i): answer for i, answer in enumerate(answers)}
        written = []
        for index, (record, payload) in enumerate(sent):
            answer = by_index.get(index) or {}
            if answer.get("success"):
                expected = _merged(current.get(record["id"]), payload)
                if _link(ctx, "user", answer["id"], module, record["id"],
                         mapping.digest(mapping.view_of_zendesk(expected, mappings)), email=_email(record)):
                    written.append(record["id"])
                else:
                    _failed(ctx, name, record["id"], notice("The Zendesk user with this email is already linked "
                                                            "to a CRM Contact; the Lead was not linked."),
                            result, retryable=False)
            else:
                _failed(ctx, name, record["id"], _job_failure(answer), result)
        db.session.commit()
        result.written += len(written)
        ctx.clear_errors(name, written)
    _write_crm(ctx, module, name, crm_updates, result)
    ctx.count(name, read=len(crm_records), written=result.written, errors=result.failed)
    return result


def _without_contacts_emails(ctx, stream_name, changed, result):
    """Leads whose email is a linked Contact's are not sent: Zendesk would match the Contact's user by
    that email and overwrite it with the Lead. Each is reported (the Contact keeps the user)."""
    emails = sorted({_email(record) for record, _ in changed} - {None})
    taken = set()
    for batch in _chunks(emails, ID_CHUNK):
        taken.update(db.session.scalars(db.select(Link.email).filter(
            Link.installation_id == ctx.installation.id, Link.kind == "user", Link.crm_module == "Contacts",
            Link.email.in_(batch))))
    kept = []
    for record, payload in changed:
        if _email(record) in taken:
            _failed(ctx, stream_name, record["id"], notice("A CRM Contact with the same email is already linked to "
                                                           "that Zendesk user, so this Lead was not synced (the "
                                                           "Contact keeps the user)."), result, retryable=False)
        else:
            kept.append((record, payload))
    return kept


def _email(record):
    return (record.get("Email") or "").strip().lower() or None


def _people_scope(ctx, module):
    """None (bulk: everyone), else a predicate on CRM records. Selective: Contacts of the chosen
    organizations' accounts; Leads (no account) whose email is an end-user's of a chosen organization."""
    chosen = _chosen_organizations(ctx)
    if chosen is None:
        return None
    if module == "Contacts":
        accounts = {link.crm_id for link in _links_by_zendesk(ctx, "organization", chosen).values()}
        return lambda record: ((record.get("Account_Name") or {}).get("id") or None) in accounts
    cache = vars(ctx).setdefault("people_cache", {})
    if "chosen_emails" not in cache:
        emails = set()
        for org_id in sorted(chosen):  # one search per chosen organization (offset pages of 100)
            emails |= {(u.get("email") or "").lower() for u in ctx.zendesk.search_users(f"organization:{org_id}")}
        cache["chosen_emails"] = emails - {""}
    return lambda record: (record.get("Email") or "").strip().lower() in cache["chosen_emails"]


def _organization_ids(ctx, records):
    """{CRM account id: Zendesk organization id} for the records' accounts (their Links)."""
    account_ids = {(r.get("Account_Name") or {}).get("id") for r in records if isinstance(r.get("Account_Name"), dict)}
    links = _links_by_crm(ctx, "organization", "Accounts", account_ids - {None})
    return {crm_id: link.zendesk_id for crm_id, link in links.items()}


def _current_users(ctx, mappings, changed, links):
    """{CRM id: Zendesk user} of the changed records already linked, when the mapping has two-way fields
    (the later-change rule needs them): show_many, 100 a call."""
    if not any(row.direction == "both" for row in mappings):
        return {}
    wanted = {links[r["id"]].zendesk_id: r["id"] for r, _ in changed if r["id"] in links}
    if not wanted:
        return {}
    return {wanted[user["id"]]: user for user in ctx.zendesk.show_users(wanted)}


def _zendesk_won(link, obj, record, mappings):
    """True when Zendesk changed the pair's fields since the last sync, later than the CRM did."""
    if link is None or mapping.digest(mapping.view_of_zendesk(obj, mappings)) == link.last_hash:
        return False
    return mapping.later_side(record.get("Modified_Time"), obj.get("updated_at")) == "zendesk"


def _later_zendesk_values(record, obj, mappings):
    """The CRM update that brings Zendesk's later two-way values to the record ([] when none differ)."""
    two_way = [row for row in mappings if row.direction == "both"]
    changes = mapping.crm_changes(record, mapping.to_crm(obj, two_way))
    return [{"id": record["id"], **changes}] if changes else []


def _write_crm(ctx, module, stream_name, updates, result):
    """CRM updates (100 a call, in parallel); a record the CRM refuses becomes a SyncError."""
    answers = ctx.crm.update_records(module, updates) if updates else []
    for update, answer in zip(updates, answers):
        if not answer.ok:
            field = (answer.details or {}).get("api_name")
            _failed(ctx, stream_name, update["id"], f"{answer.code}: {answer.message}" + (f" ({field})" if field else ""),
                    result)


def _merged(obj, payload):
    """What the Zendesk object holds after `payload` is written over it."""
    merged = dict(obj or {})
    for key, value in payload.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "email" and merged.get("email"):
            # NB: email is write-once; on update it only adds an identity (docs/outside-apis.md#zendesk-objects)
            continue
        else:
            merged[key] = value
    return merged


# ---- Zendesk users → CRM -------------------------------------------------------------------------
@stream(USERS)
def sync_users(ctx):
    """Users changed since the cursor (all of them the first time); only linked ones matter."""
    if not set(ctx.settings.modules or []) & set(mapping.PEOPLE):
        return
    for page in ctx.zendesk.export_users(start_time=0, cursor=ctx.cursor(USERS)):
        ctx.check_running()
        pull_users(ctx, page.records)
        if page.cursor is not None:
            ctx.save_cursor(USERS, page.cursor)


def pull_users(ctx, zendesk_users):
    """Bring linked Zendesk users' two-way and to_crm fields to their CRM Contacts/Leads (updates of 100).
    Echoes of our own writes (fields hashing to Link.last_hash) are dropped. Returns Written."""
    return _pull(ctx, zendesk_users, "user", USERS, mapping.PEOPLE)


# ---- Zendesk organizations → CRM -----------------------------------------------------------------
@stream(ORGANIZATIONS, "Accounts")
def sync_organizations(ctx):
    """Organizations changed since the saved time (all of them the first time); only linked ones matter."""
    for page in ctx.zendesk.export_organizations(start_time=int(ctx.cursor(ORGANIZATIONS) or 0)):
        ctx.check_running()
        pull_organizations(ctx, page.records)
        if page.cursor is not None:
            ctx.save_cursor(ORGANIZATIONS, str(page.cursor))


def pull_organizations(ctx, zendesk_organizations):
    """Bring linked Zendesk organizations' two-way and to_crm fields to their CRM Accounts (updates of
    100). Echoes of our own writes are dropped, as for users. Returns Written."""
    return _pull(ctx, zendesk_organizations, "organization", ORGANIZATIONS, ("Accounts",))


def _pull(ctx, zendesk_objects, kind, stream_name, modules):
    """Zendesk objects of `kind` linked to a record of one of the chosen `modules` (by their Link, else
    their external_id) and changed since we last wrote or read them, written to those records."""
    objects = [o for o in zendesk_objects if o.get("id")]
    result = Written()
    mappings = {module: mappings_for(ctx, module) for module in modules if module in (ctx.settings.modules or [])}
    links = _links_by_zendesk(ctx, kind, [o["id"] for o in objects])
    work = {}  # module -> [(object, link or None, crm id)]
    for obj in objects:
        link = links.get(obj["id"])
        module, crm_id = (link.crm_module, link.crm_id) if link else (mapping.parse_external_id(obj.get("external_id"))
                                                                      or (None, None))
        if module not in mappings:  # not one of ours, or the module is not chosen
            result.skipped += 1
            continue
        if link is not None and mapping.digest(mapping.view_of_zendesk(obj, mappings[module])) == link.last_hash:
            result.unchanged += 1  # our own write coming back, or nothing mapped changed
            continue
        work.setdefault(module, []).append((obj, link, crm_id))
    for module, items in work.items():
        _pull_module(ctx, module, items, result, kind, stream_name)
    ctx.count(stream_name, read=len(zendesk_objects), written=result.written, errors=result.failed)
    return result


def _pull_module(ctx, module, items, result, kind, stream_name):
    """Write the Zendesk objects' mapped fields to their CRM records of `module` — `items` are
    (object, its Link or None, CRM id) — unless the CRM changed a two-way field later."""
    mappings = mappings_for(ctx, module)
    records = {}
    ids = sorted({crm_id for _, _, crm_id in items})
    # GET /{module}?ids= takes 100 ids (docs/outside-apis.md#crm-reading-records)
    for batch in _chunks(ids, MAX_RECORDS_PER_CALL):
        records.update((r["id"], r) for r in ctx.crm.list_records(module, crm_fields(module, ctx), ids=",".join(batch)))
    org_ids = _organization_ids(ctx, records.values())
    account_ids = _account_ids(ctx, [obj.get("organization_id") for obj, _, _ in items], mappings)
    updates, hashes = [], {}
    for obj, link, crm_id in items:
        record = records.get(crm_id)
        if record is None:
            _failed(ctx, stream_name, obj["id"], notice("The linked CRM record %(crm_id)s no longer exists.",
                                                        crm_id=crm_id), result, retryable=False)
            continue
        wanted = mapping.to_crm(obj, mappings, account_ids)
        crm_changed = link is None or mapping.digest(mapping.view_of_crm(module, record, mappings, org_ids)) != \
            link.last_hash
        if crm_changed and mapping.later_side(record.get("Modified_Time"), obj.get("updated_at")) == "crm":
            wanted = mapping.without_two_way(wanted, mappings)  # the CRM's later change stays (and goes to Zendesk)
        changes = mapping.crm_changes(record, wanted)
        hashes[crm_id] = (obj["id"], mapping.digest(mapping.view_of_zendesk(obj, mappings)))
        if changes:
            updates.append({"id": crm_id, **changes})
        else:
            result.unchanged += 1
    answers = ctx.crm.update_records(module, updates) if updates else []  # 100 a call, in parallel
    failed = set()
    for update, answer in zip(updates, answers):
        if answer.ok:
            result.written += 1
        else:
            failed.add(update["id"])
            field = (answer.details or {}).get("api_name")
            _failed(ctx, stream_name, hashes[update["id"]][0],
                    f"{answer.code}: {answer.message}" + (f" ({field})" if field else ""), result)
    for crm_id, (zendesk_id, digest) in hashes.items():
        if crm_id not in failed:
            _link(ctx, kind, zendesk_id, module, crm_id, digest, email=_email(records[crm_id]))
    db.session.commit()
    ctx.clear_errors(stream_name, [zendesk_id for crm_id, (zendesk_id, _) in hashes.items() if crm_id not in failed])


def _account_ids(ctx, organization_ids, mappings):
    """{Zendesk organization id: CRM account id} when an organization field flows to the CRM."""
    if not any(r.zendesk_field == mapping.ORGANIZATION and r.direction in mapping.TO_CRM for r in mappings):
        return {}
    return {zid: link.crm_id for zid, link in _links_by_zendesk(ctx, "organization", organization_ids).items()}


# ---- links and errors ----------------------------------------------------------------------------
def _link(ctx, kind, zendesk_id, module, crm_id, digest, email=None):
    """Record (or move) the pair's Link with the hash of what both sides now hold (and, for people, the
    email they share). False when the Zendesk user is a Contact's already and this is a Lead (the
    Contact keeps it). Not committed."""
    row = db.session.scalar(db.select(Link).filter_by(installation_id=ctx.installation.id, kind=kind,
                                                      zendesk_id=zendesk_id))
    if row is not None and row.crm_module == "Contacts" and module == "Leads":
        return False
    previous = db.session.scalar(db.select(Link).filter_by(installation_id=ctx.installation.id, kind=kind,
                                                           crm_module=module, crm_id=str(crm_id)))
    if previous is not None and previous is not row:
        db.session.delete(previous)  # the record now pairs with another Zendesk object (e.g. a new email)
        db.session.flush()
    if row is None:
        row = Link(installation_id=ctx.installation.id, kind=kind, zendesk_id=zendesk_id)
        db.session.add(row)
    row.crm_module, row.crm_id, row.last_hash = module, str(crm_id), digest
    if email:
        row.email = email
    return True


def _failed(ctx, stream_name, object_id, message, result, retryable=True, **in_the_way):
    result.failed += 1
    db.session.commit()  # what the batch wrote so far stays
    ctx.record_error(stream_name, object_id, message, retryable=retryable, **in_the_way)


def _job_failure(answer):
    """A bulk job item's failure as Zendesk words it: `DuplicateValue: Name: X has already been taken`."""
    error, details = answer.get("error") or "Failed", answer.get("details") or answer.get("description") or ""
    return f"{error}: {details}" if details else str(error)


def _links_by_crm(ctx, kind, module, crm_ids):
    """{CRM id: Link} of one kind and CRM module."""
    ids = sorted({str(i) for i in crm_ids if i})
    found = {}
    for batch in _chunks(ids, ID_CHUNK):
        found.update((link.crm_id, link) for link in db.session.scalars(db.select(Link).filter(
            Link.installation_id == ctx.installation.id, Link.kind == kind, Link.crm_module == module,
            Link.crm_id.in_(batch))))
    return found


def _links_by_zendesk(ctx, kind, zendesk_ids):
    """{Zendesk id: Link} of one kind."""
    ids = sorted({int(i) for i in zendesk_ids if i is not None})
    found = {}
    for batch in _chunks(ids, ID_CHUNK):
        found.update((link.zendesk_id, link) for link in db.session.scalars(db.select(Link).filter(
            Link.installation_id == ctx.installation.id, Link.kind == kind, Link.zendesk_id.in_(batch))))
    return found


def _chunks(items, size):
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)]
