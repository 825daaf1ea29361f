"""The related list's query: the local copies of the tickets linked to one CRM record (DESIGN §5), so
the widget never waits on an outside API to list."""
from ..extensions import db
from ..models import Ticket

PAGE_SIZE = 10
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
# Which lookup of the ticket points at a record of each CRM module.
LINK_COLUMN = {"Contacts": Ticket.crm_contact_id, "Leads": Ticket.crm_lead_id,
               "Accounts": Ticket.crm_account_id, "Deals": Ticket.crm_deal_id}


def record_tickets(installation, entity, record_id, status=None, page=1):
    """(tickets on this page, total) for the record, newest update first; `status` filters."""
    query = db.select(Ticket).where(Ticket.installation_id == installation.id,
                                    LINK_COLUMN[entity] == str(record_id))
    if status in STATUSES:
        query = query.where(Ticket.status == status)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Ticket.updated_at.desc(), Ticket.zendesk_id.desc())
                              .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)).all()
    return rows, total
