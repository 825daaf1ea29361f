"""Shared fixtures: the extension app, and sandboxes served over real HTTP on free loopback ports."""
import os

import pytest

# Production is the mode unless development is said (widget/config.py): the tests use the development
# secrets, and so do the processes they start (`flask` commands, gunicorn, RQ workers inherit it).
os.environ["WIDGET_ENV"] = "development"

from widget import create_app
from widget.extensions import db
from widget.sandbox.serving import BackgroundServer
from widget.sandbox.zendesk import create_sandbox


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}"})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def zendesk():
    """A seeded Zendesk sandbox (one account, `acme`, 30 tickets) on a free port; `.url` is its base URL."""
    sandbox = create_sandbox(seed_tickets=30)
    with BackgroundServer(sandbox.app) as server:
        sandbox.url = server.url
        yield sandbox
