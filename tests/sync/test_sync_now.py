"""Sync Now (F13) from the settings panel: the first sync starts on a worker, its progress (counts per
stream) is polled by the panel until done, and a second bulk sync is refused with a message (F14)."""
import time

from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.extensions import db
from widget.models import Ticket
from widget.security import mint_context


def _headers(s):
    installation = s.installation()
    token = mint_context(installation.context_secret, installation.org_id, ADMIN)
    return {"X-Widget-Context": token, "HX-Request": "true"}


def _soup(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_sync_now_runs_the_first_sync_shows_progress_and_refuses_a_second_bulk(synced_installation):
    s = synced_installation
    zendesk = s.account()
    requester = next(u for u in zendesk.users.values() if u["role"] == "end-user")
    for n in range(3):
        zendesk.create_ticket({"subject": f"Sync me {n}", "requester_id": requester["id"]}, {"body": "Hi"},
                              requester["id"])
    s.zendesk.state.clock.advance(61)  # the export leaves out the last minute (zendesk-api.md §4)
    client = s.app.test_client()
    headers = _headers(s)

    panel = _soup(client.get("/settings", headers=headers))
    form = panel.select_one("#sync-settings form")
    assert form is not None and panel.select_one("#sync-now").get_text() == "Sync Now"
    token = form.select_one("input[name=csrf_token]")["value"]

    started = client.post("/settings/sync", data={"csrf_token": token}, headers=headers)
    assert started.status_code == 200
    deadline, page = time.time() + 60, _soup(started)
    while "Sync finished." not in page.get_text() and time.time() < deadline:
        section = page.select_one("#sync-settings")
        if section.get("hx-trigger") != "every 1s":  # the fragment polls only while the run is active
            assert "Sync finished." in page.get_text() or "stopped" in page.get_text(), page.get_text()
        time.sleep(0.3)
        page = _soup(client.get("/settings/sync/progress", headers=headers))
    assert "Sync finished." in page.get_text(), page.get_text()
    assert page.select_one("#sync-settings").get("hx-trigger") is None  # polling has stopped
    rows = {row["data-stream"]: [td.get_text() for td in row.select("td")]
            for row in page.select("#sync-progress tbody tr")}
    assert rows["zendesk_tickets"][2] == str(db.session.scalar(db.select(db.func.count()).select_from(Ticket)))
    assert int(rows["zendesk_tickets"][2]) >= 3

    again = _soup(client.post("/settings/sync", data={"csrf_token": token}, headers=headers))
    assert again.select_one("#sync-refused").get_text() == \
        "A bulk sync can run only once. To run it again, contact support."


def test_sync_now_needs_the_form_token_and_an_admin(synced_installation):
    s = synced_installation
    client = s.app.test_client()
    refused = _soup(client.post("/settings/sync", data={}, headers=_headers(s)))
    assert "This form has expired" in refused.get_text()
    installation = s.installation()
    rep = dict(ADMIN, id="u9", is_admin=False, profile="Sales Rep")
    rep_headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, rep)}
    assert client.post("/settings/sync", data={}, headers=rep_headers).status_code == 403
    assert client.get("/settings/sync/progress", headers=rep_headers).status_code == 403
