"""Sync Now (F13) from the settings panel: the first sync starts on a worker, its progress (counts per
stream) is polled by the panel until done, and a second bulk sync is refused with a message (F14)."""
import time

import requests
from bs4 import BeautifulSoup

from tests.helpers import ADMIN
from widget.connections import connection, save_grant
from widget.extensions import db
from widget.models import Ticket, utcnow
from widget.sandbox.crm.signing import mint_context
from widget.sync import queue, runs


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
    # the export leaves out the last minute (docs/outside-apis.md#zendesk-incremental-exports)
    s.zendesk.state.clock.advance(61)
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
    assert page.select_one("#open-dashboard")["href"].startswith("/dashboard?ctx=")  # where it ends
    bars = {row["data-stream"]: row.select_one("progress")["data-state"]
            for row in page.select("#sync-progress tbody tr")}
    assert set(bars.values()) == {"finished"} and "zendesk_comments" in bars  # a bar a stream
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


def _wait_until_settled(client, headers, timeout=60):
    """Poll the progress fragment as the page does until it stops polling; returns the last fragment."""
    deadline = time.time() + timeout
    while True:
        # NB: the test client's requests share this test's app context and session: start each afresh,
        # as every real request does.
        db.session.rollback()
        page = _soup(client.get("/settings/sync/progress", headers=headers))
        if page.select_one("#sync-settings").get("hx-trigger") is None or time.time() > deadline:
            return page
        time.sleep(0.3)


def _start(client, headers):
    panel = _soup(client.get("/settings", headers=headers))
    token = panel.select_one("#sync-settings input[name=csrf_token]")["value"]
    return client.post("/settings/sync", data={"csrf_token": token}, headers=headers)


def test_the_panel_shows_the_credits_left_and_a_pause_before_they_run_out_in_japanese(synced_installation):
    s = synced_installation
    s.crm_insert("Accounts", [{"Account_Name": f"Credit {n}"} for n in range(5)])
    org = s.crm_org()
    left = 502  # just above the reserve the sync keeps (engine.CREDIT_RESERVE = 500); the panel spends none
    spent = requests.post(f"{s.crm.url}/_sandbox/orgs/jp/credits", timeout=10,
                          json={"used": org.daily_credits() - org.credits_used() - left})
    assert spent.status_code == 200, spent.text
    client = s.app.test_client()
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id,
                                                dict(ADMIN, locale="ja_JP")), "HX-Request": "true"}

    assert _start(client, headers).status_code == 200
    page = _wait_until_settled(client, headers)
    assert "同期を一時停止しました。" in page.select_one("#sync-progress").get_text()
    assert "API クレジットが残りわずかです" in page.select_one("#sync-paused").get_text()
    credits = page.select_one("#crm-credits").get_text()
    assert credits.startswith("本日の Zoho CRM API クレジット残り: ")
    assert int(credits.rsplit(" ", 1)[1]) == s.settings().crm_credits_remaining < 500
    assert page.select_one("#sync-now") is not None  # not running: the admin may try again later
    assert org.daily_credits() - org.credits_used() > 0  # paused before running out


def test_a_refused_grant_shows_in_the_progress_and_re_authorizing_lifts_the_pause(synced_installation):
    from widget.sandbox.zendesk.oauth import revoke

    s = synced_installation
    account = s.account()
    grants = list(account.grants.values())
    for grant in grants:  # the admin removed our access in Zendesk
        revoke(account, grant)
    client = s.app.test_client()
    headers = _headers(s)
    run = runs.start_first_sync(s.installation())  # as Sync Now does (its panel would show the revoked grant)
    queue.enqueue("widget.sync.runs.first_sync_job", s.installation_id, run.id).result(timeout=30)

    page = _wait_until_settled(client, headers)
    paused = page.select_one("#sync-paused")
    assert "refused access. Re-authorize to resume syncing." in paused.get_text()
    assert page.select_one("#paused-reauthorize-zendesk")["href"].startswith("/settings/zendesk/authorize")
    assert page.select_one("#paused-reauthorize-crm")["target"] == "authorization"
    assert "Sync paused." in page.select_one("#sync-progress").get_text()

    # The admin re-authorized (the grant works again): the next look at the panel verifies both grants
    # against the services in its two status parts, and the second to answer lifts the pause; the panel
    # itself and the polled fragment (no check) do not.
    assert connection(s.installation(), "zendesk").status == "revoked"  # what the panel offers to redo
    with account.lock:  # (standing in for a new grant through the OAuth pages, which other tests walk)
        for grant in grants:
            account.grants[grant.access_token] = grant
            account.refresh_tokens[grant.refresh_token] = grant.access_token
    stored = connection(s.installation(), "zendesk")
    save_grant(s.installation(), "zendesk", stored.token, stored.account, stored.api_base)  # as the callback does
    settings = s.settings()
    assert settings.paused_reason is not None
    assert "sync-paused" in client.get("/settings/sync/progress", headers=headers).get_data(as_text=True)
    panel = _soup(client.get("/settings", headers=headers))
    assert panel.select_one("#sync-paused") is not None
    assert panel.select_one("#sync-part")["hx-trigger"] == "sync-resumed from:body"
    first = client.get("/settings/crm/status", headers=headers)
    assert first.status_code == 200 and "HX-Trigger" not in first.headers  # Zendesk not checked yet
    db.session.expire_all()
    assert s.settings().paused_reason is not None
    second = client.get("/settings/zendesk/status", headers=headers)
    assert second.headers["HX-Trigger"] == "sync-resumed"  # the sync part loads again
    assert _soup(second).select_one("#zendesk-connection .ok") is not None
    db.session.expire_all()
    assert s.settings().paused_reason is None
    assert _soup(client.get("/settings/sync/progress", headers=headers)).select_one("#sync-paused") is None
    s.app.extensions["sync_pool"].shutdown(wait=True)  # the first sync and the inbox drain the lift started
    db.session.refresh(run)
    assert (run.status, run.message) == ("done", None)  # the paused first sync carried on by itself


def test_edit_appears_once_the_first_sync_has_completed_and_values_speak_japanese(synced_installation):
    s = synced_installation
    client = s.app.test_client()
    before = _soup(client.get("/settings/sync/progress", headers=_headers(s))).select_one("#sync-edit")
    assert before.get_text(strip=True) == "Choose what syncs"  # the wizard, before there is anything to edit
    assert before["hx-get"] == "/settings/wizard/sync" and before["hx-target"] == "#settings-panel"

    settings = s.settings()
    settings.first_sync_done_at = utcnow()
    db.session.commit()
    after = _soup(client.get("/settings/sync/progress", headers=_headers(s)))
    assert after.select_one("#sync-edit").get_text(strip=True) == "Edit"

    installation = s.installation()
    japanese = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id,
                                                 dict(ADMIN, locale="ja_JP"))}
    with s.app.app_context():  # a context of its own: Flask-Babel keeps the locale it chose in the one it ran in
        summary = _soup(client.get("/settings/sync/progress", headers=japanese)).select_one("#sync-settings p")
    assert "取引先, 連絡先, 見込み客" in summary.get_text()
    assert summary.select_one("#sync-edit").get_text(strip=True) == "編集"


def test_each_stream_has_its_bar_finished_running_or_waiting(synced_installation):
    s = synced_installation
    run = runs.start_first_sync(s.installation())
    run.status, run.holder, run.heartbeat_at = "running", "a-live-worker:1:1", utcnow()
    run.counts = {"crm_accounts": {"read": 3, "written": 3, "errors": 0},
                  "crm_contacts": {"read": 40, "written": 12, "errors": 0}}
    db.session.commit()
    page = _soup(s.app.test_client().get("/settings/sync/progress", headers=_headers(s)))
    bars = {row["data-stream"]: row.select_one("progress") for row in page.select("#sync-progress tbody tr")}
    assert bars["crm_accounts"]["data-state"] == "finished"
    assert bars["crm_contacts"]["data-state"] == "running" and not bars["crm_contacts"].has_attr("value")
    assert bars["zendesk_tickets"]["data-state"] == "waiting"
    assert bars["crm_contacts"]["aria-label"] == "Zoho CRM contacts → Zendesk users: in progress"
