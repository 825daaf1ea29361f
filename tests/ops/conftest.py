"""The sync tests' installation with both sandboxes (tests/sync/conftest.py), for what a sync leaves in
the metrics and the logs."""
from tests.sync.conftest import crm_sandbox, synced_installation, zendesk_sandbox  # noqa: F401 (fixtures)
