"""Zendesk users' and organizations' changes back to their CRM records (F20, docs/architecture.md#what-maps-to-what).

Streams:
- `zendesk_users`: the incremental user export (cursor, 1000 a page); users linked to a CRM Contact or
  Lead bring their `both`/`to_crm` fields to it (CRM updates of 100, in parallel).
- `zendesk_organizations` (when Accounts are chosen): the incremental organization export (time-based,
  1000 a page); organizations linked to a CRM Account bring their `both`/`to_crm` fields to it, the
  same way.

Batch writers (real time calls them too): `pull_users`, `pull_organizations`. A Zendesk change that only
repeats our own write (its mapped fields hash to Link.last_hash, store.digest) is an echo, dropped.
"""
from ..extensions import db
from ..notices import notice
from . import mapping
from .mapping_rows import mappings_for, read_records
from .store import (Written, crm_failure, digest, failed, link_pair, links_by_zendesk, organization_ids,
                    person_email)

USERS, ORGANIZATIONS = "zendesk_users", "zendesk_organizations"


# ---- Zendesk users → CRM -------------------------------------------------------------------------
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
    Echoes of our own writes (fields hashing to Link.last_hash) are dropped. Returns store.Written."""
    return _pull(ctx, zendesk_users, "user", USERS, mapping.PEOPLE)


# ---- Zendesk organizations → CRM -----------------------------------------------------------------
def sync_organizations(ctx):
    """Organizations changed since the saved time (all of them the first time); only linked ones matter."""
    for page in ctx.zendesk.export_organizations(start_time=int(ctx.cursor(ORGANIZATIONS) or 0)):
        ctx.check_running()
        pull_organizations(ctx, page.records)
        if page.cursor is not None:
            ctx.save_cursor(ORGANIZATIONS, str(page.cursor))


def pull_organizations(ctx, zendesk_organizations):
    """Bring linked Zendesk organizations' two-way and to_crm fields to their CRM Accounts (updates of
    100). Echoes of our own writes are dropped, as for users. Returns store.Written."""
    return _pull(ctx, zendesk_organizations, "organization", ORGANIZATIONS, ("Accounts",))


def _pull(ctx, zendesk_objects, kind, stream_name, modules):
    """Zendesk objects of `kind` linked to a record of one of the chosen `modules` (by their Link, else
    their external_id) and changed since we last wrote or read them, written to those records."""
    objects = [o for o in zendesk_objects if o.get("id")]
    result = Written()
    mappings = {module: mappings_for(ctx, module) for module in modules if module in (ctx.settings.modules or [])}
    links = links_by_zendesk(ctx, kind, [o["id"] for o in objects])
    work = {}  # module -> [(object, link or None, crm id)]
    for obj in objects:
        link = links.get(obj["id"])
        module, crm_id = (link.crm_module, link.crm_id) if link else (mapping.parse_external_id(obj.get("external_id"))
                                                                      or (None, None))
        if module not in mappings:  # not one of ours, or the module is not chosen
            result.skipped += 1
            continue
        if link is not None and digest(mapping.view_of_zendesk(obj, mappings[module])) == link.last_hash:
            result.unchanged += 1  # our own write coming back, or nothing mapped changed
            continue
        work.setdefault(module, []).append((obj, link, crm_id))
    for module, items in work.items():
        _pull_module(ctx, module, mappings[module], items, result, kind, stream_name)
    ctx.count(stream_name, read=len(zendesk_objects), written=result.written, errors=result.failed)
    return result


def _pull_module(ctx, module, mappings, items, result, kind, stream_name):
    """Write the Zendesk objects' mapped fields to their CRM records of `module` — `items` are
    (object, its Link or None, CRM id) — unless the CRM changed a two-way field later."""
    records = {r["id"]: r for r in read_records(ctx, module, sorted({crm_id for _, _, crm_id in items}))}
    org_ids = organization_ids(ctx, records.values())
    account_ids = _account_ids(ctx, [obj.get("organization_id") for obj, _, _ in items], mappings)
    updates, hashes = [], {}
    for obj, link, crm_id in items:
        record = records.get(crm_id)
        if record is None:
            failed(ctx, stream_name, obj["id"], notice("The linked CRM record %(crm_id)s no longer exists.",
                                                       crm_id=crm_id), result, retryable=False)
            continue
        wanted = mapping.to_crm(obj, mappings, account_ids)
        crm_changed = link is None or digest(mapping.view_of_crm(module, record, mappings, org_ids)) != \
            link.last_hash
        if crm_changed and mapping.later_side(record.get("Modified_Time"), obj.get("updated_at")) == "crm":
            wanted = mapping.without_two_way(wanted, mappings)  # the CRM's later change stays (and goes to Zendesk)
        changes = mapping.crm_changes(record, wanted)
        hashes[crm_id] = (obj["id"], digest(mapping.view_of_zendesk(obj, mappings)))
        if changes:
            updates.append({"id": crm_id, **changes})
        else:
            result.unchanged += 1
    answers = ctx.crm.update_records(module, updates) if updates else []  # 100 a call, in parallel
    refused = set()
    for update, answer in zip(updates, answers):
        if answer.ok:
            result.written += 1
        else:
            refused.add(update["id"])
            failed(ctx, stream_name, hashes[update["id"]][0], crm_failure(answer), result)
    for crm_id, (zendesk_id, hashed) in hashes.items():
        if crm_id not in refused:
            link_pair(ctx, kind, zendesk_id, module, crm_id, hashed, email=person_email(records[crm_id]))
    db.session.commit()
    ctx.clear_errors(stream_name, [zendesk_id for crm_id, (zendesk_id, _) in hashes.items() if crm_id not in refused])


def _account_ids(ctx, zendesk_ids, mappings):
    """{Zendesk organization id: CRM account id} when an organization field flows to the CRM."""
    if not any(r.zendesk_field == mapping.ORGANIZATION and r.direction in mapping.TO_CRM for r in mappings):
        return {}
    return {zid: link.crm_id for zid, link in links_by_zendesk(ctx, "organization", zendesk_ids).items()}
