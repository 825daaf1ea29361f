"""CRM records to Zendesk: what the Accounts → organizations (organizations.py) and Contacts/Leads →
users (people.py) streams share.

The CRM streams `crm_accounts`, `crm_contacts`, `crm_leads` (only when the module is chosen in settings)
read the records modified since the cursor, oldest first (`sort_by=Modified_Time`, `If-Modified-Since`:
both documented on GET records, docs/outside-apis.md#crm-reading-records; exact, and one call per 200
records, where search would stop at 2000 and lag behind writes). Pages follow `page_token` from the first
page, so records edited while being read shift no page. The cursor is the Modified_Time of a written
page's last record; a run asks from one second before it (the header has whole seconds) and the boundary
second read again is written again only if changed (hash), so nothing is missed and nothing is
duplicated. Then the records deleted since the last look are unlinked (deletions.py: nothing is deleted
in Zendesk).

Each pair has a Link whose `last_hash` is the digest of the pair's mapped fields as we last wrote or
read them (store.digest): a record whose fields hash the same is not written again. Two-way fields follow
"later change wins": Zendesk's later values stay in Zendesk and are brought to the CRM record.
"""
from datetime import timedelta
from itertools import islice

from ..clients.crm import MAX_PER_PAGE
from . import deletions, mapping
from .mapping_rows import crm_fields, read_records
from .store import crm_failure, crm_stream_name, digest, failed


def crm_stream(ctx, module, write):
    """Write `module`'s records changed since the cursor with `write(ctx, records)`, a page at a time."""
    name = crm_stream_name(module)
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


def with_mapped_fields(ctx, module, records, mappings):
    """The records, read again (by ids, 100 a call) if they were read without some field `mappings` (the
    installation's, mapping_rows.mappings_for) read: a missing field would otherwise be written to Zendesk
    as empty."""
    needed = mapping.crm_fields(module, mappings)
    short = [r["id"] for r in records if any(name not in r for name in needed)]
    if not short:
        return records
    fresh = {r["id"]: r for r in read_records(ctx, module, short)}
    return [fresh.get(r["id"], r) for r in records if r["id"] in fresh or r["id"] not in short]


def chosen_organizations(ctx):
    """Selective sync: {Zendesk organization id: organization} of the chosen ones; None in bulk mode.
    Read once per context (show_many, 100 a call)."""
    if ctx.settings.mode != "selective":
        return None
    cache = vars(ctx).setdefault("people_cache", {})
    if "chosen" not in cache:
        ids = ctx.chosen_organization_ids()
        cache["chosen"] = {o["id"]: o for o in ctx.zendesk.show_organizations(ids)} if ids else {}
    return cache["chosen"]


def zendesk_won(link, obj, record, mappings):
    """True when Zendesk changed the pair's fields since the last sync, later than the CRM did."""
    if link is None or digest(mapping.view_of_zendesk(obj, mappings)) == link.last_hash:
        return False
    return mapping.later_side(record.get("Modified_Time"), obj.get("updated_at")) == "zendesk"


def later_zendesk_values(record, obj, mappings):
    """The CRM update that brings Zendesk's later two-way values to the record ([] when none differ)."""
    two_way = [row for row in mappings if row.direction == "both"]
    changes = mapping.crm_changes(record, mapping.to_crm(obj, two_way))
    return [{"id": record["id"], **changes}] if changes else []


def write_crm(ctx, module, stream_name, updates, result):
    """CRM updates (100 a call, in parallel); a record the CRM refuses becomes a SyncError."""
    answers = ctx.crm.update_records(module, updates) if updates else []
    for update, answer in zip(updates, answers):
        if not answer.ok:
            failed(ctx, stream_name, update["id"], crm_failure(answer), result)
