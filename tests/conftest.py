"""Shared fixtures: the extension app, sandboxes served over real HTTP on free loopback ports, a PostgreSQL
database of a test's own; and the markers' rules: a test marked `postgres` or `redis` is skipped, saying
why, when that service is down, and fails instead under `.ci/run` (REQUIRE_SERVICES=1), which starts them."""
import os
import socket
import time
import uuid
from contextlib import ExitStack
from functools import cache
from urllib.parse import urlsplit

import pytest
import sqlalchemy

# Production is the mode unless development is said (widget/config.py): the tests use the development
# secrets, and so do the processes they start (`flask` commands, gunicorn, RQ workers inherit it).
os.environ["WIDGET_ENV"] = "development"

from tests.helpers import POSTGRES_URL, REDIS_URL, served  # noqa: E402
from widget import context, create_app  # noqa: E402
from widget.extensions import db  # noqa: E402
from widget.sandbox.zendesk import create_sandbox  # noqa: E402

SERVICES = {"postgres": ("PostgreSQL", POSTGRES_URL), "redis": ("Redis", REDIS_URL)}


@cache
def _down(url):
    """Why the service at `url` cannot be reached (None when it answers a TCP connection)."""
    address = urlsplit(url)
    try:
        with socket.create_connection((address.hostname, address.port), timeout=2):
            return None
    except OSError as error:
        return f"nothing answers on {address.hostname}:{address.port} ({error.strerror or error})"


def pytest_collection_modifyitems(items):
    unmarked = [item.nodeid for item in items
                if "postgres_url" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None]
    if unmarked:
        raise pytest.UsageError(f"tests taking postgres_url must be marked postgres: {', '.join(unmarked)}")


def pytest_runtest_setup(item):
    for marker, (name, url) in SERVICES.items():
        if item.get_closest_marker(marker) is None or (reason := _down(url)) is None:
            continue
        message = f"needs {name}: {reason}; start it (.ci/run does) or point TEST_{marker.upper()}_URL at one"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


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
def serve():
    """Serves sandboxes (or any WSGI app) over real HTTP for the test, all closed after it:
    `serve(sandbox)` returns the sandbox with `.url` set (tests/helpers.py `served` has the options)."""
    with ExitStack() as stack:
        yield lambda target, *args, **kwargs: stack.enter_context(served(target, *args, **kwargs))


@pytest.fixture
def zendesk(serve):
    """A seeded Zendesk sandbox (one account, `acme`, 30 tickets) on a free port; `.url` is its base URL."""
    return serve(create_sandbox(seed_tickets=30))


@pytest.fixture
def postgres_url():
    """A PostgreSQL database of the test's own on the local server, dropped afterwards (mark the test
    `postgres`)."""
    name = f"test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_app(postgres_url):
    """The app on a PostgreSQL database of the test's own, its tables created (mark the test `postgres`)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url, "TESTING": True})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class ServerClock:
    """The widget's server clock (widget.context.clock), moved by the test."""

    def __init__(self):
        self.now = int(time.time())

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    moved = ServerClock()
    monkeypatch.setattr(context, "clock", moved)
    return moved
