"""The sync engine (docs/architecture.md#the-sync-engine). Importing the package registers the streams (see
engine.STREAMS)."""
from . import tickets  # noqa: F401  (zendesk_tickets, zendesk_comments)
