"""A signed lifecycle call is accepted once: its signature is remembered (in the database, so every worker
and host agrees) until its timestamp leaves the window, and a second use is refused with 409 and changes
nothing. The context secret is never sent twice: a re-install rotates it."""
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.helpers import ADMIN, REP, context_for, install_body, served
from widget import create_app
from widget.extensions import db
from widget.lifecycle import replay
from widget.models import Installation, UsedSignature
from widget.sandbox.crm.signing import marketplace_headers


def signed(client, action, body, timestamp=None):
    """A lifecycle call as the marketplace signs it: (raw body, headers), to send once or again."""
    raw = json.dumps(body).encode()
    return action, raw, marketplace_headers(client.application.config["MARKETPLACE_SECRET"], raw, timestamp)


def send(client, call):
    action, raw, headers = call
    return client.post(f"/lifecycle/{action}", data=raw, headers=headers)


def stored(app, org_id="org-1"):
    with app.app_context():
        row = db.session.scalar(db.select(Installation).filter_by(org_id=org_id))
        return None if row is None else {"id": row.id, "scope": row.scope_type, "secret": row.context_secret}


def assert_replay_refused(response):
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "replayed_request" and body["message"]
    assert "context_secret" not in body


def test_an_old_uninstall_replayed_after_a_reinstall_is_refused(app, client):
    assert send(client, signed(client, "install", install_body())).status_code == 201
    uninstall = signed(client, "uninstall", {"org_id": "org-1", "uninstaller": ADMIN})
    assert send(client, uninstall).status_code == 200
    assert stored(app) is None
    reinstalled = send(client, signed(client, "install", install_body()))
    assert reinstalled.status_code == 201
    new = stored(app)

    assert_replay_refused(send(client, uninstall))
    assert stored(app) == new  # the new installation stands


def test_an_old_widening_replayed_after_a_narrowing_is_refused(app, client):
    send(client, signed(client, "install", install_body()))
    widen = signed(client, "permissions", {"org_id": "org-1", "changed_by": ADMIN, "scope": {"type": "all"}})
    assert send(client, widen).status_code == 200
    narrow = send(client, signed(client, "permissions", {"org_id": "org-1", "changed_by": ADMIN,
                                                         "scope": {"type": "admins"}}))
    assert narrow.status_code == 200 and "context_secret" not in narrow.get_json()

    assert_replay_refused(send(client, widen))
    assert stored(app)["scope"] == "admins"


def test_a_replayed_install_never_gets_the_secret(app, client):
    call = signed(client, "install", install_body())
    first = send(client, call)
    assert first.status_code == 201 and first.get_json()["context_secret"]

    assert_replay_refused(send(client, call))
    assert stored(app)["secret"] == first.get_json()["context_secret"]  # nothing rotated by the replay


def test_a_reinstall_rotates_the_secret_and_old_contexts_stop_working(app, client):
    first = send(client, signed(client, "install", install_body(scope={"type": "all"}))).get_json()
    again = send(client, signed(client, "install", install_body(scope={"type": "all"})))
    assert again.status_code == 200
    second = again.get_json()
    assert second["installation_id"] == first["installation_id"]
    assert second["context_secret"] != first["context_secret"] and len(second["context_secret"]) >= 32
    url = "/record/Contacts/42/tickets"
    assert client.get(url, headers={"X-Widget-Context": context_for(first, user=REP)}).status_code == 401
    assert client.get(url, headers={"X-Widget-Context": context_for(second, user=REP)}).status_code == 200


@pytest.mark.parametrize("offset,accepted", [(25, True), (45, False), (299, False)])
def test_little_clock_skew_into_the_future(app, client, offset, accepted):
    response = send(client, signed(client, "install", install_body(), timestamp=int(time.time()) + offset))
    assert response.status_code == (201 if accepted else 401)
    assert (stored(app) is not None) == accepted


def test_remembered_signatures_are_purged_once_they_could_not_be_accepted_anyway(app):
    now = datetime.now(timezone.utc)
    with app.app_context():
        assert replay.first_use("sha256=" + "a" * 64, int(now.timestamp()) - 290, now=now)
        assert not replay.first_use("sha256=" + "a" * 64, int(now.timestamp()) - 290, now=now)
        later = now + timedelta(minutes=10)
        assert replay.first_use("sha256=" + "b" * 64, int(later.timestamp()), now=later)
        assert db.session.scalars(db.select(UsedSignature.signature)).all() == ["sha256=" + "b" * 64]


@pytest.fixture
def served_on_postgresql(postgres_url):
    """The extension on PostgreSQL, served over real HTTP by a threaded server (concurrent requests)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url})
    with app.app_context():
        db.create_all()
    with served(app):
        yield app, app.url
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_a_concurrent_double_submit_is_accepted_once(served_on_postgresql):
    app, url = served_on_postgresql
    raw = json.dumps(install_body()).encode()
    headers = marketplace_headers(app.config["MARKETPLACE_SECRET"], raw)
    answers, start = [], threading.Barrier(4)

    def submit():
        start.wait()
        answers.append(requests.post(f"{url}/lifecycle/install", data=raw, headers=headers, timeout=30))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409, 409], [answer.text for answer in answers]
    assert sum("context_secret" in answer.json() for answer in answers) == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Installation)) == 1
