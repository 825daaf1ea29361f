"""The sync engine (docs/architecture.md#the-sync-engine). Every stream is listed in STREAMS, in the order they
run; a stream the list does not name never runs (engine.py)."""
from . import organizations, people, pull, tickets
from .engine import Stream

# People and organizations before tickets (ticket lookups need them), tickets before comments.
STREAMS = (
    Stream(organizations.ACCOUNTS, organizations.sync_accounts, module="Accounts"),
    Stream(people.CONTACTS, people.sync_contacts, module="Contacts"),
    Stream(people.LEADS, people.sync_leads, module="Leads"),
    Stream(pull.USERS, pull.sync_users),
    Stream(pull.ORGANIZATIONS, pull.sync_organizations, module="Accounts"),
    Stream(tickets.TICKETS, tickets.sync_tickets),
    Stream(tickets.COMMENTS, tickets.sync_comments),
)
