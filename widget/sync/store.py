"""What every stream keeps and shares: the Links pairing a Zendesk object with its CRM record, the digest
a Link keeps of what both sides last held, local rows looked up by Zendesk id, ids taken a chunk at a
time, a batch's result and its failures in the outside service's words."""
import hashlib
import json
from dataclasses import dataclass

from ..clients.http import chunks
from ..extensions import db
from ..models import Link

ID_CHUNK = 500  # ids per SQL `IN (...)`, well under SQLite's variable limit


@dataclass
class Written:
    """What a batch write did: records written to the other side, unchanged (nothing to write), failed
    (see SyncError), left out (outside a selective sync, not ours, deleted before we had them, or
    waiting for their ticket), and removed from the CRM (tickets deleted in Zendesk)."""

    written: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    removed: int = 0


def digest(value):
    """sha256 of the canonical JSON of a record or a pair's mapped view (Link.last_hash): what hashes as
    last time is not written again, and a change that only repeats our own write is an echo."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def crm_stream_name(module):
    """The stream that brings the CRM's `module` (Accounts, Contacts, Leads) to Zendesk: its records'
    failures are kept under it."""
    return f"crm_{module.lower()}"


# ---- lookups -------------------------------------------------------------------------------------
def by_zendesk_id(ctx, model, zendesk_ids, *conditions):
    """{Zendesk id: row} of the installation's `model` rows (Link, Ticket, Comment) with those ids."""
    ids = sorted({int(i) for i in zendesk_ids if i is not None})
    found = {}
    for batch in chunks(ids, ID_CHUNK):
        found.update((row.zendesk_id, row) for row in db.session.scalars(db.select(model).filter(
            model.installation_id == ctx.installation.id, model.zendesk_id.in_(batch), *conditions)))
    return found


def links_by_zendesk(ctx, kind, zendesk_ids):
    """{Zendesk id: Link} of one kind (user, organization, ticket, comment)."""
    return by_zendesk_id(ctx, Link, zendesk_ids, Link.kind == kind)


def links_by_crm(ctx, kind, module, crm_ids):
    """{CRM id: Link} of one kind and CRM module."""
    ids = sorted({str(i) for i in crm_ids if i})
    found = {}
    for batch in chunks(ids, ID_CHUNK):
        found.update((link.crm_id, link) for link in db.session.scalars(db.select(Link).filter(
            Link.installation_id == ctx.installation.id, Link.kind == kind, Link.crm_module == module,
            Link.crm_id.in_(batch))))
    return found


def organization_ids(ctx, records):
    """{CRM account id: Zendesk organization id} for the accounts of CRM records (their Links)."""
    account_ids = {(r.get("Account_Name") or {}).get("id") for r in records if isinstance(r.get("Account_Name"), dict)}
    links = links_by_crm(ctx, "organization", "Accounts", account_ids - {None})
    return {crm_id: link.zendesk_id for crm_id, link in links.items()}


def person_email(record):
    """The email a CRM Contact or Lead is matched by (and its user Link keeps), or None."""
    return (record.get("Email") or "").strip().lower() or None


# ---- storing links -------------------------------------------------------------------------------
def link_pair(ctx, kind, zendesk_id, module, crm_id, hashed, email=None):
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
    row.crm_module, row.crm_id, row.last_hash = module, str(crm_id), hashed
    if email:
        row.email = email
    return True


def save_links(ctx, kind, written):
    """Link rows for records just written, each its own CRM record (tickets, comments): {Zendesk id:
    (CRM module, CRM id, hash)}. Not committed."""
    links = links_by_zendesk(ctx, kind, written)
    for zid, (module, crm_id, hashed) in written.items():
        link = links.get(zid) or Link(installation_id=ctx.installation.id, kind=kind, zendesk_id=zid)
        link.crm_module, link.crm_id, link.last_hash = module, crm_id, hashed
        db.session.add(link)


# ---- failures ------------------------------------------------------------------------------------
def failed(ctx, stream_name, object_id, message, result, retryable=True, **in_the_way):
    """A record that failed: counted in `result` and kept as a SyncError (what the batch wrote so far
    is committed first). `in_the_way`: engine.SyncContext.record_error's zendesk_id, other_crm_id."""
    result.failed += 1
    db.session.commit()
    ctx.record_error(stream_name, object_id, message, retryable=retryable, **in_the_way)


def crm_failure(answer):
    """A record the CRM refused, as it words it: `INVALID_DATA: invalid data (Deal)`."""
    field = (answer.details or {}).get("api_name")
    return f"{answer.code}: {answer.message}" + (f" ({field})" if field else "")


def job_answers(items, answers):
    """Each item sent in a Zendesk bulk job with its result ({} when none): results name their item's
    `index` in the job."""
    by_index = {answer.get("index", i): answer for i, answer in enumerate(answers)}
    return [(item, by_index.get(index) or {}) for index, item in enumerate(items)]


def job_failure(answer):
    """A bulk job item's failure as Zendesk words it: `DuplicateValue: Name: X has already been taken`."""
    error, details = answer.get("error") or "Failed", answer.get("details") or answer.get("description") or ""
    return f"{error}: {details}" if details else str(error)
