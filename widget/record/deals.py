"""A CRM Deal's Account, for the Deal page's ticket list (its Account's tickets show beside its own).

Why a small table filled by one CRM call, rather than anything the sync already holds: the sync never
reads Deals (the CRM sends us no notification for them), and a ticket created from a Deal says which
Deal in its external_id, not which Account — its requester's organization need not be the Deal's
Account, and a Deal with no ticket of its own still shows its Account's tickets. So the first time a
Deal page's list is opened we read the Deal once (`GET Deals/{id}`, a short try) and remember its
`Account_Name`; the list itself is then served from the local copy alone. The Account is read again at
most every REFRESH_EVERY (a Deal rarely changes Account; the list polls every 30 s and must not cost a
CRM call each time). A failed read keeps what we knew and is tried again after RETRY_AFTER.
"""
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from ..clients.http import NotFound, RetryPolicy, ServiceError
from ..connections import connection, crm_client
from ..extensions import db
from ..models import DealAccount, as_utc, utcnow

REFRESH_EVERY = timedelta(hours=1)
RETRY_AFTER = timedelta(minutes=2)
# Read while a rep waits for the list: one short try, then the list shows without the Account's tickets.
READ_POLICY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0, timeout=4.0)


def deal_account(installation, deal_id):
    """(the Deal's CRM Account id or None, known, read again after): `known` is False while the Deal was
    never read."""
    row = db.session.scalar(db.select(DealAccount).filter_by(installation_id=installation.id, deal_id=str(deal_id)))
    if row is None or as_utc(row.refresh_after) <= utcnow():
        row = _read(installation, str(deal_id), row)
    return row.account_id, row.read_at is not None, row.refresh_after


def _read(installation, deal_id, row):
    row = row or DealAccount(installation_id=installation.id, deal_id=deal_id)
    deal = _deal(installation, deal_id)
    if deal is None:
        row.refresh_after = utcnow() + RETRY_AFTER
    else:
        account = deal.get("Account_Name")
        row.account_id = str(account["id"]) if isinstance(account, dict) and account.get("id") else None
        row.read_at, row.refresh_after = utcnow(), utcnow() + REFRESH_EVERY
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # another request of the same page remembered it first
        db.session.rollback()
        row = db.session.scalar(db.select(DealAccount).filter_by(installation_id=installation.id, deal_id=deal_id))
    return row


def _deal(installation, deal_id):
    """The Deal as the CRM has it ({} when deleted), or None when it could not be read."""
    grant = connection(installation, "crm")
    if grant is None or grant.status != "active":
        return None
    try:
        return crm_client(installation, grant, policy=READ_POLICY).get_record("Deals", deal_id) or {}
    except NotFound:
        return {}
    except ServiceError:
        return None
