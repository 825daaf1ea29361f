"""Fixtures for the settings tests: the extension wired to a Zendesk sandbox and a CRM sandbox, both
served over real HTTP on free loopback ports."""
import pytest

from tests.helpers import served, wired_config
from tests.settings.flows import ZENDESK_ADMIN_EMAILS, ZENDESK_PASSWORD
from widget import create_app
from widget.extensions import db
from widget.sandbox import crm as crm_sandbox_package
from widget.sandbox import zendesk as zendesk_sandbox_package


def _served_zendesk():
    """One account, `acme` (Professional plan), no tickets, with an administrator under each of our CRM
    admins' emails (flows.ZENDESK_ADMIN_EMAILS); `.url` is its base URL."""
    sandbox = zendesk_sandbox_package.create_sandbox(seed_tickets=0)
    for email in ZENDESK_ADMIN_EMAILS:
        sandbox.add_admin("CRM Admin", email, ZENDESK_PASSWORD)
    with served(sandbox):
        yield sandbox


def _served_crm():
    """JP and US orgs; `.url` is its base URL."""
    with served(crm_sandbox_package.create_sandbox(data_centres=("jp", "us"))) as sandbox:
        yield sandbox


# A fresh pair for each test (they change the sandboxes' state) ...
zendesk_sandbox = pytest.fixture(_served_zendesk, name="zendesk_sandbox")
crm_sandbox = pytest.fixture(_served_crm, name="crm_sandbox")
# ... or one pair for a module whose tests leave them as they are.
zendesk_served = pytest.fixture(_served_zendesk, name="zendesk_served", scope="module")
crm_served = pytest.fixture(_served_crm, name="crm_served", scope="module")


@pytest.fixture
def app(tmp_path, zendesk_sandbox, crm_sandbox):
    app = create_app(wired_config(tmp_path / "test.db", crm_sandbox, zendesk_sandbox))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()
