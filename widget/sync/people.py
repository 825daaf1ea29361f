"""CRM Contacts and Leads → Zendesk end-users (F20, docs/architecture.md#what-maps-to-what): the `crm_contacts`
and `crm_leads` streams (push.py reads them) and their batch writer `push_people`, which real time calls too.

Identity and matching: users by email, then external_id ("zcrm:Contacts:<id>"), which
is what create_or_update_many does itself, so no lookup is made before writing. Each pair gets a Link
whose `last_hash` is the digest of the pair's mapped fields as we last wrote or read them (store.digest):
a record whose fields hash the same is not written again, and a Zendesk change that only repeats our own
write is an echo, dropped.

Costs: create_or_update_many jobs of 100. Linked records whose two-way fields changed are looked up in
batches (show_many of 100, CRM get-by-ids of 100) for the "later change wins" rule. A job whose status
Zendesk no longer keeps is reconciled by the client (records read back, only those not written sent
again), so its results link records as after any job.
"""
from ..clients.http import chunks
from ..clients.zendesk import BULK_LIMIT
from ..extensions import db
from ..models import Link
from ..notices import notice
from . import mapping
from .mapping_rows import mappings_for
from .push import chosen_organizations, crm_stream, later_zendesk_values, with_mapped_fields, write_crm, zendesk_won
from .store import (ID_CHUNK, Written, crm_stream_name, digest, failed, job_answers, job_failure, link_pair,
                    links_by_crm, links_by_zendesk, organization_ids, person_email)

CONTACTS, LEADS = crm_stream_name("Contacts"), crm_stream_name("Leads")


def sync_contacts(ctx):
    crm_stream(ctx, "Contacts", lambda ctx, records: push_people(ctx, "Contacts", records))


def sync_leads(ctx):
    crm_stream(ctx, "Leads", lambda ctx, records: push_people(ctx, "Leads", records))


def push_people(ctx, module, crm_records):
    """Write CRM Contacts or Leads to Zendesk users (create_or_update_many, matched by email, then
    external_id), each Contact into its Account's organization; returns store.Written."""
    mappings = mappings_for(ctx, module)
    name = crm_stream_name(module)
    records = with_mapped_fields(ctx, module, [r for r in crm_records if r.get("id")], mappings)
    result = Written()
    in_scope = _people_scope(ctx, module)
    org_ids = organization_ids(ctx, records)
    links = links_by_crm(ctx, "user", module, [r["id"] for r in records])
    changed = []  # (record, payload)
    for record in records:
        if in_scope is not None and not in_scope(record):
            result.skipped += 1
            continue
        view_hash = digest(mapping.view_of_crm(module, record, mappings, org_ids))
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
    for batch in chunks(changed, BULK_LIMIT):
        sent = []
        for record, payload in batch:
            user = current.get(record["id"])
            if user is not None and zendesk_won(links.get(record["id"]), user, record, mappings):
                payload = mapping.keep_later_zendesk_values(payload, user, mappings)
                crm_updates += later_zendesk_values(record, user, mappings)
            sent.append((record, payload))
        # A failure of the whole call (after the client's retries) stops the stream before its cursor moves.
        answers = ctx.zendesk.create_or_update_users([payload for _, payload in sent])
        written = []
        for (record, payload), answer in job_answers(sent, answers):
            if answer.get("success"):
                expected = _merged(current.get(record["id"]), payload)
                if link_pair(ctx, "user", answer["id"], module, record["id"],
                             digest(mapping.view_of_zendesk(expected, mappings)), email=person_email(record)):
                    written.append(record["id"])
                else:
                    failed(ctx, name, record["id"], notice("The Zendesk user with this email is already linked "
                                                           "to a CRM Contact; the Lead was not linked."),
                           result, retryable=False)
            else:
                failed(ctx, name, record["id"], job_failure(answer), result)
        db.session.commit()
        result.written += len(written)
        ctx.clear_errors(name, written)
    write_crm(ctx, module, name, crm_updates, result)
    ctx.count(name, read=len(crm_records), written=result.written, errors=result.failed)
    return result


def _without_contacts_emails(ctx, stream_name, changed, result):
    """Leads whose email is a linked Contact's are not sent: Zendesk would match the Contact's user by
    that email and overwrite it with the Lead. Each is reported (the Contact keeps the user)."""
    emails = sorted({person_email(record) for record, _ in changed} - {None})
    taken = set()
    for batch in chunks(emails, ID_CHUNK):
        taken.update(db.session.scalars(db.select(Link.email).filter(
            Link.installation_id == ctx.installation.id, Link.kind == "user", Link.crm_module == "Contacts",
            Link.email.in_(batch))))
    kept = []
    for record, payload in changed:
        if person_email(record) in taken:
            failed(ctx, stream_name, record["id"], notice("A CRM Contact with the same email is already linked to "
                                                          "that Zendesk user, so this Lead was not synced (the "
                                                          "Contact keeps the user)."), result, retryable=False)
        else:
            kept.append((record, payload))
    return kept


def _people_scope(ctx, module):
    """None (bulk: everyone), else a predicate on CRM records. Selective: Contacts of the chosen
    organizations' accounts; Leads (no account) whose email is an end-user's of a chosen organization."""
    chosen = chosen_organizations(ctx)
    if chosen is None:
        return None
    if module == "Contacts":
        accounts = {link.crm_id for link in links_by_zendesk(ctx, "organization", chosen).values()}
        return lambda record: ((record.get("Account_Name") or {}).get("id") or None) in accounts
    cache = vars(ctx).setdefault("people_cache", {})
    if "chosen_emails" not in cache:
        emails = set()
        for org_id in sorted(chosen):  # one search per chosen organization (offset pages of 100)
            emails |= {(u.get("email") or "").lower() for u in ctx.zendesk.search_users(f"organization:{org_id}")}
        cache["chosen_emails"] = emails - {""}
    return lambda record: person_email(record) in cache["chosen_emails"]


def _current_users(ctx, mappings, changed, links):
    """{CRM id: Zendesk user} of the changed records already linked, when the mapping has two-way fields
    (the later-change rule needs them): show_many, 100 a call."""
    if not any(row.direction == "both" for row in mappings):
        return {}
    wanted = {links[r["id"]].zendesk_id: r["id"] for r, _ in changed if r["id"] in links}
    if not wanted:
        return {}
    return {wanted[user["id"]]: user for user in ctx.zendesk.show_users(wanted)}


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
