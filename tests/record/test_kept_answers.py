"""A related list's poll whose rendering is kept is answered before Flask (widget/record/kept_answers.py):
the very answer Flask gives, with its request id, log line and metric; and whatever Flask would do more
than hand back the kept rendering (refuse, renew the context, render) is still Flask's. The clock is moved,
never waited for."""
import logging

import jwt
import pytest
from flask import request, request_started

from tests.helpers import ADMIN, REP, context_for, install
from widget.extensions import db
from widget.models import Installation
from widget.ops.instruments import REQUEST_SECONDS
from widget.record import kept_answers
from widget.security import ACTIVITY_STEP

URL = "/record/Contacts/42/tickets"
HTMX = {"HX-Request": "true"}
RENEWED = "X-Widget-Context-Renewed"


@pytest.fixture
def dispatched(app):
    """The paths of the requests Flask dispatched to a view (a kept answer never reaches Flask)."""
    paths = []

    def note(sender, **extra):
        paths.append(request.path)
    request_started.connect(note, app)
    yield paths
    request_started.disconnect(note, app)


@pytest.fixture
def kept(client, dispatched):
    """An installation for everyone, and the list of Contact 42 rendered once (by Flask) for the rep."""
    installed = install(client, scope={"type": "all"})
    dispatched.clear()
    first = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP), **HTMX})
    assert first.status_code == 200 and dispatched == [URL]
    dispatched.clear()
    return installed, first


def _answered_count():
    return next(sample.value for metric in REQUEST_SECONDS.collect() for sample in metric.samples
                if sample.name.endswith("_count") and sample.labels == {"route": "record.ticket_list"})


def test_a_kept_list_is_answered_before_flask_as_flask_answers_it(app, client, kept, dispatched, caplog):
    installed, first = kept
    caplog.set_level(logging.INFO, logger="widget.requests")
    counted = _answered_count()

    again = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP), **HTMX})

    assert dispatched == []
    assert again.status_code == 200 and again.data == first.data
    ours = {name: value for name, value in again.headers.items() if name != "X-Request-Id"}
    assert ours == {name: value for name, value in first.headers.items() if name != "X-Request-Id"}
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    (line,) = [record for record in caplog.records if record.name == "widget.requests"]
    with app.app_context():
        installation_id = db.session.scalar(db.select(Installation.id))
    assert (line.request_id, line.method, line.route, line.status, line.installation_id) == (
        again.headers["X-Request-Id"], "GET", "record.ticket_list", 200, installation_id)
    assert _answered_count() == counted + 1


def test_a_kept_answer_keeps_the_request_id_a_proxy_sent(client, kept, dispatched):
    installed, _ = kept
    headers = {"X-Widget-Context": context_for(installed, user=REP), "X-Request-Id": "lb-7f3a.91", **HTMX}
    assert client.get(URL, headers=headers).headers["X-Request-Id"] == "lb-7f3a.91"
    assert dispatched == []


def test_a_kept_answer_records_the_users_activity_and_a_poll_does_not(client, kept, dispatched, clock):
    installed, _ = kept
    token = context_for(installed, user=REP, now=clock.now)
    clock.advance(ACTIVITY_STEP)  # behind by a step, not yet due for its renewal

    polled = client.get(URL, headers={"X-Widget-Context": token, "X-Widget-Background": "1", **HTMX})
    used = client.get(URL, headers={"X-Widget-Context": token, **HTMX})

    assert dispatched == []
    assert polled.status_code == 200 and RENEWED not in polled.headers
    touched = jwt.decode(used.headers[RENEWED], options={"verify_signature": False})
    assert touched["active_at"] == clock.now and (touched["user"], touched["entity_id"]) == (REP, "42")
    assert used.data == polled.data  # the list holds no context: the header carries it


def _uninstalling(app):
    with app.app_context():
        db.session.execute(db.update(Installation).values(status="uninstalling"))
        db.session.commit()


@pytest.mark.parametrize("case, status", [
    ("another record's context", 403),
    ("a user outside the install scope", 403),
    ("an installation being uninstalled", 410),
    ("a context due for its renewal", 200),
    ("an expired context", 401),
    ("no context", 401),
    ("a page that is no number", 400),
])
def test_what_flask_must_answer_goes_to_flask_though_the_list_is_kept(app, client, kept, dispatched, clock, case,
                                                                      status):
    installed, first = kept
    url, token = URL, context_for(installed, user=REP, now=clock.now)
    if case == "another record's context":
        token = context_for(installed, user=REP, entity_id="43", now=clock.now)
    elif case == "a user outside the install scope":
        with app.app_context():
            db.session.execute(db.update(Installation).values(scope_type="admins"))  # not a watched table
            db.session.commit()
    elif case == "an installation being uninstalled":
        _uninstalling(app)
    elif case == "a context due for its renewal":
        clock.advance(app.config["CONTEXT_RENEW_AFTER"])
    elif case == "an expired context":
        clock.advance(15 * 60)
    elif case == "no context":
        token = None
    elif case == "a page that is no number":
        url = URL + "?page=two"

    answer = client.get(url, headers={**({"X-Widget-Context": token} if token else {}), **HTMX})

    assert dispatched == [URL] and answer.status_code == status
    if status == 200:
        assert answer.data == first.data and RENEWED in answer.headers
    else:
        assert b"<table" not in answer.data


def test_an_admins_kept_list_is_no_list_for_a_rep_outside_the_scope(client, dispatched):
    installed = install(client, scope={"type": "admins"})
    dispatched.clear()
    assert client.get(URL, headers={"X-Widget-Context": context_for(installed, user=ADMIN), **HTMX}).status_code == 200
    refused = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP), **HTMX})
    assert refused.status_code == 403 and b"<table" not in refused.data
    assert dispatched == [URL, URL]


def test_only_an_htmx_get_of_a_list_is_answered_before_flask(client, kept, dispatched):
    installed, first = kept
    token = context_for(installed, user=REP)
    whole_page = client.get(URL, headers={"X-Widget-Context": token})
    posted = client.post(URL, headers={"X-Widget-Context": token, **HTMX})  # a new ticket's form, sent empty
    assert whole_page.status_code == 200 and b"<html" in whole_page.data
    assert posted.data != first.data
    assert dispatched == [URL, URL]


def test_a_kept_answer_that_fails_is_left_to_flask_and_logged(client, kept, dispatched, monkeypatch, caplog):
    installed, first = kept

    def broken(request, entity, record_id):
        raise RuntimeError("the kept lists are unreadable")
    monkeypatch.setattr(kept_answers, "kept_answer", broken)
    answer = client.get(URL, headers={"X-Widget-Context": context_for(installed, user=REP), **HTMX})

    assert dispatched == [URL] and answer.status_code == 200 and answer.data == first.data
    (line,) = [record for record in caplog.records if record.name == "widget.record.kept_answers"]
    assert (line.levelname, line.getMessage(), line.error) == ("WARNING", "kept list not answered", "RuntimeError")
