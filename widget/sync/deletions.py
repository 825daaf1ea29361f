"""Records deleted in the CRM (Accounts, Contacts, Leads): the sync unlinks them and deletes nothing in
Zendesk. The pair's Link goes, and the Zendesk user or organization loses our external_id
("zcrm:Contacts:<id>") when it still holds it, so it is nobody's: a later CRM record with the same email
(a person) or exactly the same name (an account) is linked to it afresh, by the people sync's usual
matching, and a change made in Zendesk meanwhile goes nowhere.

The sync learns of deletions two ways:
- the notification channel's `{Module}.delete` events, in real time (inbox.py);
- GET /crm/v8/{module}/deleted, read by each run of a CRM stream since the last deletion it saw
  (`If-Modified-Since`), which also catches those whose notification was lost or came while the
  channel was down (https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html;
  docs/outside-apis-crm-audit.md). Both recycle-bin and permanent deletions count (`type=all`).
"""
from datetime import timedelta

from ..extensions import db
from ..models import utcnow
from . import mapping
from .store import crm_stream_name, links_by_crm

KINDS = {"Accounts": "organization", "Contacts": "user", "Leads": "user"}
# The first look at a module's deletions (the installation's first sync) goes back this far: earlier
# deletions are of records this installation never linked. The margin covers clocks a little apart.
FIRST_LOOK_MARGIN = timedelta(hours=1)


def unlink(ctx, module, crm_ids):
    """Unlink the CRM records `crm_ids` of `module`, deleted in the CRM. Returns how many were linked."""
    kind = KINDS[module]
    links = list(links_by_crm(ctx, kind, module, crm_ids).values())
    if not links:
        return 0
    ours = {link.zendesk_id: mapping.external_id(module, link.crm_id).lower() for link in links}
    if kind == "user":
        found, update = ctx.zendesk.show_users(list(ours)), ctx.zendesk.update_user
    else:
        found, update = ctx.zendesk.show_organizations(list(ours)), ctx.zendesk.update_organization
    for obj in found:
        if (obj.get("external_id") or "").lower() == ours[obj["id"]]:
            update(obj["id"], {"external_id": None})  # an update: the user or organization stays
    for link in links:
        db.session.delete(link)
    db.session.commit()
    ctx.clear_errors(crm_stream_name(module), [link.crm_id for link in links])
    return len(links)


def catch_up(ctx, module):
    """Unlink the records of `module` deleted since the last look (GET /{module}/deleted, every page),
    then remember the latest deletion time seen."""
    name = f"{crm_stream_name(module)}:deleted"
    cursor = ctx.cursor(name) or (utcnow() - FIRST_LOOK_MARGIN).isoformat(timespec="seconds")
    # NB: one second earlier, as for records: If-Modified-Since has whole seconds and means "after".
    since = (mapping.parse_time(cursor) - timedelta(seconds=1)).isoformat()
    latest, ids = cursor, []
    for entry in ctx.crm.deleted_records(module, modified_since=since):
        ids.append(entry["id"])
        if entry.get("deleted_time") and mapping.parse_time(entry["deleted_time"]) > mapping.parse_time(latest):
            latest = entry["deleted_time"]
    ctx.check_running()
    unlink(ctx, module, ids)
    if latest != ctx.cursor(name):
        ctx.save_cursor(name, latest)
