"""The dashboard (F15) after a real first sync against the sandboxes: its numbers equal what the sandboxes
hold, the error log names each failed record with a link to it, everyone in the install scope may open
it (admins also get Edit), nobody outside it, it makes no outside call, and it speaks Japanese."""
from bs4 import BeautifulSoup

from tests.helpers import ADMIN, REP
from tests.sync.test_people import advance_zendesk
from widget.extensions import db
from widget.sandbox.crm.signing import mint_context
from widget.sync import runs


def _dashboard(s, user=ADMIN, htmx=False):
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user)}
    if htmx:
        headers["HX-Request"] = "true"
    return s.app.test_client().get("/dashboard", headers=headers)


def _soup(response):
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _row(page, name):
    return int(page.select_one(f"#synced tr[data-row={name}] td:last-child").get_text())


def _synced(s):
    """A first sync of some accounts, contacts and tickets, one account refused by Zendesk."""
    zendesk = s.account()
    s.crm_insert("Accounts", [{"Account_Name": "Hokkaido Dairy"}, {"Account_Name": "Okinawa Travel"}])
    account_ids = s.crm_insert("Accounts", [{"Account_Name": "Sapporo Beer Hall"}])
    s.crm_insert("Contacts", [{"Last_Name": f"Tanaka {n}", "Email": f"tanaka{n}@sapporo.example",
                               "Account_Name": {"id": account_ids[0]}} for n in range(3)])
    requester = next(u for u in zendesk.users.values() if u["role"] == "end-user")
    for n, status in enumerate(("open", "open", "pending", "solved")):
        ticket, _ = zendesk.create_ticket({"subject": f"Delivery {n} late", "requester_id": requester["id"]},
                                          {"body": "Where is it?"}, requester["id"])
        zendesk.update_ticket(ticket, {"status": status}, {"body": "Looking into it.", "public": True},
                              requester["id"])
    advance_zendesk(s)
    run = runs.start_first_sync(s.installation())
    runs.first_sync_job(s.installation_id, run.id)
    db.session.refresh(run)
    assert run.status == "done", run.message
    return run


def test_the_dashboards_numbers_are_the_sandboxes_and_it_calls_no_one(synced_installation):
    s = synced_installation
    run = _synced(s)
    s.zendesk_calls.reset()
    s.crm_calls.reset()
    page = _soup(_dashboard(s))
    assert s.zendesk_calls.api_calls() == [] and s.crm_calls.api_calls() == []  # from our tables only

    installation = s.installation()
    crm_tickets = s.crm_org().module(installation.crm_modules["tickets"]).records
    crm_comments = s.crm_org().module(installation.crm_modules["comments"]).records
    assert _row(page, "tickets") == len(crm_tickets) == len(s.account().tickets) > 0
    assert _row(page, "comments") == len(crm_comments) > 0
    zendesk_users = [u for u in s.account().users.values() if (u.get("external_id") or "").startswith("zcrm:Contacts:")]
    assert _row(page, "contacts") == len(zendesk_users) == 3
    organizations = [o for o in s.account().organizations.values()
                     if (o.get("external_id") or "").startswith("zcrm:Accounts:")]
    assert _row(page, "accounts") == len(organizations) > 0
    statuses = {li["data-status"]: int(li.get_text().split()[-1]) for li in page.select("#tickets-by-status li")}
    expected = {}
    for ticket in s.account().tickets.values():
        expected[ticket["status"]] = expected.get(ticket["status"], 0) + 1
    assert statuses == expected
    written = sum(int(float(rect["data-value"])) for rect in page.select("#chart-written rect"))
    assert written == sum(counts["written"] for counts in run.counts.values())
    errors = sum(counts["errors"] for counts in run.counts.values())
    assert page.select_one("#last-sync-result").get_text(strip=True) == \
        (f"Finished with {errors} error{'s' if errors != 1 else ''}" if errors else "Finished")
    assert page.select_one("time[data-local]")["datetime"].startswith(run.finished_at.date().isoformat())
    budget = page.select_one("#zendesk-budget").get_text(" ", strip=True)  # the sandbox's Professional plan
    assert budget.startswith("Zendesk: 400 requests a minute on this plan") and "last 5% of each minute" in budget


def test_the_error_log_names_each_failed_record_with_a_link(synced_installation):
    s = synced_installation
    run = _synced(s)
    ctx = s.context()
    ctx.record_error("crm_contacts", "4242", "Zendesk refused the email address: it is not valid.")
    ctx.record_error("zendesk_tickets", "77", "Zoho CRM refused the record: Subject is too long.")
    ctx.record_error("crm_accounts", "5151", "A Zendesk organization named “Acme” already exists and is linked to "
                     "another CRM account, so this account was not synced. Rename one of them.",
                     retryable=False, zendesk_id=8080, other_crm_id="6161")
    page = _soup(_dashboard(s))
    rows = {row.select("td")[1].get_text(): row for row in page.select("#error-log tbody tr")}
    contact = rows["4242"]
    assert contact.select_one("a")["href"] == f"{s.crm.url}/crm/tab/Contacts/4242"
    assert contact.select("td")[0].get_text() == "Zoho CRM contacts → Zendesk users"
    assert "not valid" in contact.select("td")[2].get_text()
    assert rows["77"].select_one("a")["href"] == f"{s.zendesk.url}/agent/tickets/77"
    assert page.select_one("#error-log h2 .muted").get_text() == f"({len(s.errors())})"
    both = [a["href"] for a in rows["5151"].select("a.other-record")]  # the two records the clash is between
    assert both == [f"{s.zendesk.url}/agent/organizations/8080", f"{s.crm.url}/crm/tab/Accounts/6161"]
    del run


def test_everyone_in_the_scope_may_look_admins_may_also_edit_others_are_refused(synced_installation):
    s = synced_installation
    admin = _soup(_dashboard(s))
    assert admin.select_one("#dashboard-edit") is not None
    assert _dashboard(s, user=REP).status_code == 403  # installed for admins only
    installation = s.installation()
    installation.scope_type = "all"
    db.session.commit()
    rep = _soup(_dashboard(s, user=REP))
    assert rep.select_one("#dashboard") is not None and rep.select_one("#dashboard-edit") is None
    assert s.app.test_client().get("/dashboard").status_code == 401  # no context at all


def test_a_fragment_for_htmx_and_japanese_values(synced_installation):
    s = synced_installation
    _synced(s)
    fragment = _dashboard(s, htmx=True)
    assert b"<html" not in fragment.data and "HX-Request" in fragment.headers["Vary"]
    with s.app.app_context():  # a context of its own: Flask-Babel keeps the locale it chose in the one it ran in
        page = _soup(_dashboard(s, user=dict(ADMIN, locale="ja_JP")))
    assert page.select_one("#last-sync h2").get_text() == "最後の同期"
    assert page.select_one("#last-sync-result").get_text(strip=True).startswith("完了")
    labels = {li["data-status"]: li.select_one(".badge").get_text() for li in page.select("#tickets-by-status li")}
    assert labels["open"] == "オープン" and labels["pending"] == "保留中"
    assert page.select_one("#synced tr[data-row=accounts] td").get_text() == "取引先"


def test_what_the_sync_wrote_down_reads_in_the_readers_language(synced_installation):
    """A failure the sync recorded in a worker (no reader, no language) is shown in each reader's."""
    s = synced_installation
    s.account().create_organization({"name": "Kyoto Foods", "external_id": "SF-001"})
    [account_id] = s.crm_insert("Accounts", [{"Account_Name": "Kyoto Foods"}])
    _synced(s)

    def message(page):
        return page.select_one(f"#error-log tr[data-error] a[href$='/{account_id}']").find_parent("tr") \
            .select("td")[2].get_text(" ", strip=True)

    assert message(_soup(_dashboard(s))) == (
        "A Zendesk organization named “Kyoto Foods” already exists and is linked to another record (its external "
        "ID is “SF-001”), so this account was not synced. Rename one of them. Zendesk organization")
    with s.app.app_context():
        japanese = message(_soup(_dashboard(s, user=dict(ADMIN, locale="ja_JP"))))
    assert japanese.startswith(
        "「Kyoto Foods」という名前の Zendesk 組織が既にあり、別のレコードに連携済み（外部 ID「SF-001」）")


def _post(s, path, data, user=ADMIN):
    installation = s.installation()
    headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user),
               "HX-Request": "true"}
    client = s.app.test_client()
    page = _soup(client.get("/dashboard", headers=headers)) if user.get("is_admin") else None
    token = page.select_one("#dashboard input[name=csrf_token]")["value"] if page else ""
    return client.post(path, data={"csrf_token": token, **data}, headers=headers)


def test_retry_syncs_a_failed_record_again_and_clears_its_error(synced_installation):
    s = synced_installation
    _synced(s)
    [contact_id] = s.crm_insert("Contacts", [{"Last_Name": "Sato", "Email": "sato@hakodate.example"}])
    s.context().record_error("crm_contacts", contact_id, "Zendesk did not answer in time.")
    page = _soup(_dashboard(s))
    error_id = page.select_one("#error-log tr[data-error] input[name=error]")["value"]

    answer = _soup(_post(s, "/dashboard/errors/retry", {"error": error_id}))
    assert answer.select_one("#dashboard-notice").get_text() == "1 record will be synced again in a moment."
    s.app.extensions["sync_pool"].shutdown(wait=True)  # the drain the retry queued
    synced = [u for u in s.account().users.values() if u.get("external_id") == f"zcrm:Contacts:{contact_id}"]
    assert len(synced) == 1 and synced[0]["email"] == "sato@hakodate.example"
    db.session.expire_all()
    assert [e for e in s.errors() if e.object_id == contact_id] == []


def test_retry_and_auto_sync_are_for_admins_and_need_the_form_token(synced_installation):
    s = synced_installation
    installation = s.installation()
    installation.scope_type = "all"
    db.session.commit()
    s.context().record_error("crm_contacts", "999", "Zendesk did not answer in time.")
    assert _post(s, "/dashboard/errors/retry", {}, user=REP).status_code == 403
    assert _post(s, "/dashboard/auto-sync", {"auto_sync": "off"}, user=REP).status_code == 403
    rep_page = _soup(_dashboard(s, user=REP))
    assert rep_page.select_one("#retry-all") is None and rep_page.select_one("#auto-sync-toggle") is None
    forged = s.app.test_client().post("/dashboard/auto-sync", data={"csrf_token": "x", "auto_sync": "off"}, headers={
        "X-Widget-Context": mint_context(installation.context_secret, installation.org_id, ADMIN)})
    assert b"This form has expired" in forged.data
    assert s.settings().auto_sync is True

    turned = _soup(_post(s, "/dashboard/auto-sync", {"auto_sync": "off"}))
    assert turned.select_one("#dashboard-notice").get_text() == "Auto Sync is off."
    db.session.expire_all()
    assert s.settings().auto_sync is False
    assert turned.select_one("#auto-sync-toggle").get_text() == "Turn on"
