"""Fixtures for the settings tests: the extension wired to a Zendesk sandbox and a CRM sandbox, both
served over real HTTP on free loopback ports."""
import pytest

from widget import create_app
from widget.extensions import db
from widget.sandbox import crm as crm_sandbox_package
from widget.sandbox import zendesk as zendesk_sandbox_package
from widget.sandbox.serving import BackgroundServer


def _served_zendesk():
    """One account, `acme` (Professional plan), no tickets; `.url` is its base URL."""
    sandbox = zendesk_sandbox_package.create_sandbox(seed_tickets=0)
    with BackgroundServer(sandbox.app) as server:
        sandbox.url = server.url
        yield sandbox


def _served_crm():
    """JP and US orgs; `.url` is its base URL."""
    sandbox = crm_sandbox_package.create_sandbox(data_centres=("jp", "us"))
    with BackgroundServer(sandbox.app) as server:
        sandbox.url = server.url
        yield sandbox
    sandbox.close()


# A fresh pair for each test (they change the sandboxes' state) ...
zendesk_sandbox = pytest.fixture(_served_zendesk, name="zendesk_sandbox")
crm_sandbox = pytest.fixture(_served_crm, name="crm_sandbox")
# ... or one pair for a module whose tests leave them as they are.
zendesk_served = pytest.fixture(_served_zendesk, name="zendesk_served", scope="module")
crm_served = pytest.fixture(_served_crm, name="crm_served", scope="module")


@pytest.fixture
def app(tmp_path, zendesk_sandbox, crm_sandbox):
    zendesk = zendesk_sandbox.credentials(zendesk_sandbox.url)
    crm = crm_sandbox.credentials(crm_sandbox.url)
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
        "ZENDESK_BASE_URL": zendesk_sandbox.url, "ZENDESK_CLIENT_ID": zendesk["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk["oauth_client_secret"],
        "CRM_SANDBOX_URL": crm_sandbox.url, "CRM_CLIENT_ID": crm["client_id"], "CRM_CLIENT_SECRET": crm["client_secret"],
    })
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()
