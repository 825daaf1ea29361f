"""zenpy, an independent real Zendesk client, against the sandbox unchanged (docs/outside-apis.md#zendesk-clients):
it reaches the sandbox through ZENPY_FORCE_SCHEME / ZENPY_FORCE_NETLOC."""
import time
from urllib.parse import urlsplit

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization, Ticket, User
from zenpy.lib.exception import APIException, RecordNotFoundException

from tests.helpers import served
from widget.sandbox.zendesk import create_sandbox


def client_for(sandbox, monkeypatch):
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", urlsplit(sandbox.url).netloc)
    creds = sandbox.credentials(sandbox.url)["accounts"][0]
    return Zenpy(subdomain="acme", email=creds["admin_email"], token=creds["api_token"])


@pytest.fixture
def zenpy(zendesk, monkeypatch):
    return client_for(zendesk, monkeypatch)


def test_show_ticket_and_missing_ticket(zenpy, zendesk):
    ticket = zenpy.tickets(id=1)
    stored = zendesk.account().tickets[1]
    assert ticket.id == 1 and ticket.subject == stored["subject"] and ticket.status == stored["status"]
    assert ticket.requester.email == zendesk.account().users[stored["requester_id"]]["email"]
    with pytest.raises(RecordNotFoundException):
        zenpy.tickets(id=424242)


def test_create_and_update_ticket(zenpy, zendesk):
    audit = zenpy.tickets.create(Ticket(subject="From zenpy", description="Made by a real client",
                                        requester=User(name="Zen Py", email="zen@py.example")))
    created = audit.ticket
    assert created.id in zendesk.account().tickets and created.subject == "From zenpy"
    assert zenpy.users(id=created.requester_id).email == "zen@py.example"
    created.status = "pending"
    zenpy.tickets.update(created)
    assert zenpy.tickets(id=created.id).status == "pending"
    comments = list(zenpy.tickets.comments(ticket=created.id))
    assert [c.body for c in comments] == ["Made by a real client"]


def test_cursor_listing_returns_every_ticket(zenpy, zendesk):
    ids = [ticket.id for ticket in zenpy.tickets(cursor_pagination=2)]
    assert ids == sorted(zendesk.account().tickets)


def test_user_create_or_update_and_search(zenpy):
    created = zenpy.users.create_or_update(User(name="Upsert Me", email="upsert@py.example", external_id="Z-1"))
    updated = zenpy.users.create_or_update(User(name="Upserted", external_id="z-1"))
    assert updated.id == created.id and updated.name == "Upserted"
    found = list(zenpy.search(type="user", email="upsert@py.example"))
    assert [user.id for user in found] == [created.id]
    assert [u.id for u in zenpy.users.search(external_id="Z-1")] == [created.id]
    assert zenpy.users.me().email == "admin@acme.example"


def test_search_tickets_by_requester(zenpy, zendesk):
    account = zendesk.account()
    requester_id = account.tickets[1]["requester_id"]
    email = account.users[requester_id]["email"]
    found = sorted(t.id for t in zenpy.search(type="ticket", requester=email))
    assert found == sorted(t["id"] for t in account.tickets.values() if t["requester_id"] == requester_id)


def test_search_window_maps_to_search_response_limit_exceeded(monkeypatch, caplog):
    """zenpy follows next_page to page 11, gets our 422 `invalid`, raises SearchResponseLimitExceeded
    inside its generator and stops after 1,000 results (any other error would propagate)."""
    with served(create_sandbox(seed_tickets=1100)) as sandbox:
        zenpy = client_for(sandbox, monkeypatch)
        found = [ticket.id for ticket in zenpy.search(type="ticket")]
    assert found == list(range(1, 1001))
    assert "more results than Zendesk allows" in caplog.text


def test_bulk_create_job_and_duplicate_organization(zenpy):
    job = zenpy.users.create([User(name="Bulk A", email="a@bulk.py"), User(name="Bulk B", email="b@bulk.py")])
    assert job.status == "queued"
    deadline = time.monotonic() + 10
    while job.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.02)
        job = zenpy.job_status(id=job.id)
    assert job.status == "completed" and [r.status for r in job.results] == ["Created", "Created"]

    zenpy.organizations.create(Organization(name="Zen Org"))
    with pytest.raises(APIException) as refused:
        zenpy.organizations.create_or_update(Organization(name="Zen Org"))
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["error"] == "RecordInvalid"
