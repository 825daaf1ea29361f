"""CRM Accounts → Zendesk organizations (F20, docs/architecture.md#what-maps-to-what): the `crm_accounts` stream
(push.py reads it) and its batch writer `push_accounts`, which real time calls too.

Identity and matching: organizations by external_id "zcrm:Accounts:<id>". The one
exception is a new account whose name an organization already holds (Zendesk names are unique): that
organization is adopted (linked, given our external_id, written) when it has exactly the account's name
and belongs to no other record; otherwise the account is a SyncError saying what is in the way.

Costs: create_many jobs of 100 for new ones; updates are single `create_or_update` calls, made only for
accounts whose mapped fields changed. Names create_many found taken cost one show_many by external_ids
per job, then one search by name and one write each. NB: real Zendesk also has a bulk
`PUT organizations/update_many` (a job of 100), but neither its documented bulk writes
(docs/outside-apis.md#zendesk-writes-and-search) nor the sandbox have it; with it, updates would cost one call
per 100.
"""
from ..clients.http import InvalidRequest, NotFound, chunks
from ..clients.zendesk import BULK_LIMIT, is_taken
from ..extensions import db
from ..notices import notice
from . import mapping
from .mapping_rows import mappings_for
from .push import chosen_organizations, crm_stream, later_zendesk_values, with_mapped_fields, write_crm, zendesk_won
from .store import (Written, crm_stream_name, digest, failed, job_answers, job_failure, link_pair, links_by_crm,
                    links_by_zendesk)

ACCOUNTS = crm_stream_name("Accounts")


def sync_accounts(ctx):
    crm_stream(ctx, "Accounts", push_accounts)


def push_accounts(ctx, crm_records):
    """Write CRM Accounts (records with the mapped fields) to Zendesk organizations; returns store.Written."""
    mappings = mappings_for(ctx, "Accounts")
    records = with_mapped_fields(ctx, "Accounts", [r for r in crm_records if r.get("id")], mappings)
    result = Written()
    chosen = chosen_organizations(ctx)
    links = links_by_crm(ctx, "organization", "Accounts", [r["id"] for r in records])
    creates, updates = [], []  # (record, payload) / (record, organization id, payload)
    for record in records:
        target = links[record["id"]].zendesk_id if record["id"] in links else None
        if chosen is not None:
            target = target if target in chosen else _meet_chosen(record, chosen)
            if target is None:
                result.skipped += 1
                continue
        view_hash = digest(mapping.view_of_crm("Accounts", record, mappings))
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
        if zendesk_won(links.get(record["id"]), org, record, mappings):
            payload = mapping.keep_later_zendesk_values(payload, org, mappings)
            crm_updates += later_zendesk_values(record, org, mappings)
        _write_organization(ctx, mappings, record, {"id": target, **payload}, result)
    db.session.commit()
    write_crm(ctx, "Accounts", ACCOUNTS, crm_updates, result)


def _create_organizations(ctx, mappings, creates, result):
    """create_many jobs of 100. Items refused because the name or external_id is taken meet the
    organization that holds it (`_meet_taken`): never a second organization."""
    for batch in chunks(creates, BULK_LIMIT):
        # A failure of the whole call (after the client's retries) stops the stream before its cursor moves.
        answers = ctx.zendesk.create_many_organizations([payload for _, payload in batch])
        taken = []
        for (record, payload), answer in job_answers(batch, answers):
            if answer.get("success"):
                link_pair(ctx, "organization", answer["id"], "Accounts", record["id"],
                          digest(mapping.view_of_zendesk(payload, mappings)))
                result.written += 1
                ctx.clear_errors(ACCOUNTS, [record["id"]])
            elif is_taken(answer):
                taken.append((record, payload))
            else:
                failed(ctx, ACCOUNTS, record["id"], job_failure(answer), result)
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
                failed(ctx, ACCOUNTS, record["id"], message, result, retryable=False, zendesk_id=org["id"],
                       other_crm_id=other_crm_id)
                continue
        _write_organization(ctx, mappings, record, {"id": org["id"], **payload}, result)
    db.session.commit()


def _not_adoptable(ctx, record, payload, org):
    """Why the unlinked account may not take `org`, the organization holding its name, as its own:
    (message in plain words, the other CRM account's id or None); None when it may."""
    name = org.get("name") or ""
    link = links_by_zendesk(ctx, "organization", [org["id"]]).get(org["id"])
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
        failed(ctx, ACCOUNTS, record["id"], str(error), result)
        return
    link_pair(ctx, "organization", saved["id"], "Accounts", record["id"],
              digest(mapping.view_of_zendesk(saved, mappings)))
    result.written += 1
    ctx.clear_errors(ACCOUNTS, [record["id"]])
