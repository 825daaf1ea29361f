"""Request bodies are read only up to their route's limit (widget/body_limits.py): a larger one is refused
with 413 — the JSON error body on the marketplace and webhook routes, the refusal page on our forms —
before it is read when its Content-Length says so, and at the limit when it streams without one. Served
by gunicorn as in production, a 300 MB body leaves the worker's memory where it was."""
import json
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from tests.helpers import ADMIN, context_for, install, install_body, lifecycle
from tests.record.test_ticket_list import _add_tickets, _authorize
from tests.webhooks.served import GunicornServer
from widget import create_app
from widget.body_limits import FORM_MAX_BODY, LIFECYCLE_MAX_BODY, WEBHOOK_MAX_BODY
from widget.extensions import db
from widget.models import InboxEvent, Installation
from widget.record.reply import MAX_LENGTH
from widget.sandbox.serving import free_port

MB = 1024 * 1024


def _installation(org_id="org-1"):
    return db.session.scalar(db.select(Installation).filter_by(org_id=org_id))


def _padded_install(size):
    """A correctly signed install body of exactly `size` bytes (its org name takes up the rest)."""
    body = install_body(org_id="org-big")
    body["org_name"] = ""
    body["org_name"] = "x" * (size - len(json.dumps(body).encode()))
    assert len(json.dumps(body).encode()) == size
    return body


def test_a_lifecycle_call_over_its_limit_is_refused_with_413_and_its_json_error(app, client):
    refused = lifecycle(client, "install", _padded_install(LIFECYCLE_MAX_BODY + 1))  # signed, but too large
    assert refused.status_code == 413
    assert refused.get_json() == {"error": "payload_too_large",
                                  "message": "The request body is larger than 64 KB, the most this address accepts."}
    with app.app_context():
        assert _installation("org-big") is None
    assert lifecycle(client, "install", _padded_install(LIFECYCLE_MAX_BODY)).status_code == 201  # just fits
    # A real install for chosen profiles (300 of them, long names) is far inside the limit.
    profiles = [f"Regional sales representative, team {n:03}" for n in range(300)]
    body = install_body(org_id="org-2", scope={"type": "profiles", "profiles": profiles})
    assert len(json.dumps(body)) < LIFECYCLE_MAX_BODY / 3
    assert lifecycle(client, "install", body).status_code == 201


def test_a_webhook_over_its_limit_is_refused_with_413_and_nothing_is_stored(app, client):
    install(client)
    with app.app_context():
        key = _installation().installation_key
    for source in ("zendesk", "crm"):
        url = f"/webhooks/{source}/{key}"
        refused = client.post(url, data=b"{" + b" " * WEBHOOK_MAX_BODY + b"}", content_type="application/json")
        assert refused.status_code == 413
        assert refused.get_json()["error"] == "payload_too_large"
        assert refused.get_json()["message"] == ("The request body is larger than 1024 KB, the most this address "
                                                 "accepts.")
        # At the limit the body is read and judged as ever: here, not signed.
        fits = client.post(url, data=b"{" + b" " * (WEBHOOK_MAX_BODY - 2) + b"}", content_type="application/json")
        assert fits.status_code == 401
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(InboxEvent)) == 0
    # A ticket event with a long description and a long new comment, every character escaped in the JSON,
    # is well inside the limit.
    long_text = "長文のお問い合わせ" * 7000
    event = {"type": "zen:event-type:ticket.comment_added", "id": "e" * 36, "subject": "zen:ticket:1",
             "detail": {"description": long_text}, "event": {"comment": {"body": long_text}}}
    assert len(json.dumps(event).encode()) < WEBHOOK_MAX_BODY * 0.8


def test_a_form_over_its_limit_gets_the_refusal_page_and_changes_nothing(app, client):
    installed = install(client)
    ctx = context_for(installed)
    for language, message in (("en", "What you sent is larger than 1 MB, the most a form here accepts. Shorten "
                                     "it and send it again."),
                              ("ja", "送信した内容が、フォームで受け付けられる上限（1 MB）を超えています。"
                                     "短くしてからもう一度送信してください。")):
        with app.app_context():
            refused = app.test_client().post("/settings/zendesk", data={"ctx": ctx, "subdomain": "a" * FORM_MAX_BODY},
                                             headers={"X-Widget-Context": ctx, "Accept-Language": language})
        assert refused.status_code == 413
        assert BeautifulSoup(refused.data, "html.parser").select_one("p.error").get_text() == message
    with app.app_context():
        assert _installation().zendesk_subdomain is None


def test_the_longest_reply_a_rep_may_write_is_inside_the_form_limit(app, client):
    """A reply one character too long, in Japanese (9 bytes a character once URL-encoded), still reaches
    the form and gets its own message there, not the size refusal."""
    installed = install(client)
    ctx = context_for(installed)
    settings = client.get("/settings", query_string={"ctx": ctx})  # the user's form token, as any page has it
    token = BeautifulSoup(settings.data, "html.parser").select_one("input[name=csrf_token]")["value"]
    _authorize(app, "org-1")
    _add_tickets(app, "org-1", ["open"])
    form = {"csrf_token": token, "body": "返" * (MAX_LENGTH + 1), "visibility": "public"}
    assert FORM_MAX_BODY / 4 < len(urlencode(form)) < FORM_MAX_BODY / 2
    answer = client.post("/record/Contacts/42/tickets/1/comments", data=form,
                         headers={"X-Widget-Context": ctx, "HX-Request": "true"})
    assert answer.status_code == 200
    error = BeautifulSoup(answer.data, "html.parser").select_one("#ticket-reply .error").get_text(strip=True)
    assert error == f"A reply can have at most {MAX_LENGTH:,} characters; this one has {MAX_LENGTH + 1:,}."


# Over a real socket, to gunicorn as in production: a body streamed without a Content-Length (chunked),
# or one whose Content-Length says 300 MB.

@dataclass
class Sent:
    bytes_sent: int
    status: int
    body: dict


def _send(port, path, total, chunked):
    """POST `total` bytes of body to `path`, 1 MB at a time, reading the answer while sending (the server
    answers 413 and closes long before the client is done)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    answer = bytearray()

    def read():
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass  # reset by the server once it has answered

    reader = threading.Thread(target=read)
    reader.start()
    piece = b" " * MB
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    sent = 0
    try:
        sock.sendall(head.encode())
        while sent < total:
            sock.sendall(frame)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading and closed the connection
    reader.join(timeout=30)
    sock.close()
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return Sent(sent, status, json.loads(body) if body else None)


def _memory(pid):
    """(resident, peak resident) KB of process `pid`."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@pytest.fixture
def gunicorn_served(tmp_path):
    """The app served by gunicorn in a process of its own (tests/webhooks/served.py), one installation."""
    database = f"sqlite:///{tmp_path / 'limits.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        db.create_all()
        install(app.test_client())
        key = _installation().installation_key
        db.engine.dispose()
    config = dict.fromkeys(GunicornServer.ENVIRONMENT, "") | {"SQLALCHEMY_DATABASE_URI": database}
    server = GunicornServer(config, free_port()).start()
    try:
        with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as children:
            (worker,) = children.read().split()
        yield server, int(worker), key
    finally:
        server.close()


def test_a_300_mb_body_is_refused_at_the_limit_and_never_held_in_memory(gunicorn_served):
    server, worker, key = gunicorn_served
    for path, limit in (("/lifecycle/install", "64 KB"), (f"/webhooks/zendesk/{key}", "1024 KB"),
                        (f"/webhooks/crm/{key}", "1024 KB")):
        for chunked in (True, False):
            before = _memory(worker)
            sent = _send(server.port, path, 300 * MB, chunked)
            after = _memory(worker)
            assert after[0] - before[0] < 5 * 1024, f"{path}: resident memory grew by {after[0] - before[0]} KB"
            assert after[1] - before[1] < 5 * 1024, f"{path}: peak memory grew by {after[1] - before[1]} KB"
            assert sent.bytes_sent < 64 * MB, "the server kept reading"
            assert sent.status == 413, (path, chunked)
            assert sent.body == {"error": "payload_too_large",
                                 "message": f"The request body is larger than {limit}, the most this address accepts."}


def test_under_gunicorn_a_body_within_the_limit_streamed_without_a_length_is_read_whole(gunicorn_served):
    """Chunked is a way to send, not a refusal: the marketplace's call arrives whole and is judged."""
    server, _worker, _key = gunicorn_served
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    body = json.dumps(install_body(org_id="org-chunked", installer=ADMIN)).encode()
    sock.sendall(b"POST /lifecycle/install HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Connection: close\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    answer = b""
    while data := sock.recv(65536):
        answer += data
    sock.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"401"  # read whole, then refused only because it is not signed
    assert json.loads(payload)["error"] == "invalid_signature"
