"""A sales rep's day in a real browser (Debian's chromium via Playwright), in Japanese and in English, with
third-party cookies blocked and our widget on another site than the CRM UI: on a Contact's page the
"Zendesk Tickets" list shows the contact's tickets; "New Zendesk Ticket" opens our form in the CRM's popup,
Save creates the ticket and the list shows it at once; the ticket opens in place, a reply reaches its thread
and the Zendesk sandbox; an Account's page lists its organization's tickets with their requesters (F18, F19,
F22). The CRM and Zendesk hold the demo's company (widget/sandbox/company.py), synced once by the admin.
A screenshot of each step: docs/screenshots/rep-<step>-<lang>.png."""
from collections import Counter

import pytest

from tests.browser.conftest import install_from_marketplace, shoot, sign_in, strict_chromium  # noqa: F401
from tests.browser.test_help_page_walkthrough import _world
from tests.browser.test_new_ticket_popup import authorize_both, open_popup
from widget.extensions import db
from widget.models import Installation, Ticket
from widget.sync import runs

pytestmark = pytest.mark.browser

WAIT = 30_000  # generous: a loaded 2-core CI machine

LANGUAGES = {
    "jp": {"rep": ("rep@jp.zylker.example", "jp-rep-pass"), "admin": ("admin@jp.zylker.example", "jp-admin-pass"),
           "shot": "ja", "heading": "Zendesk チケット", "reply": "明日、修正版をお送りします。", "sent": "返信"},
    "us": {"rep": ("rep@us.zylker.example", "us-rep-pass"), "admin": ("admin@us.zylker.example", "us-admin-pass"),
           "shot": "en", "heading": "Zendesk Tickets", "reply": "The fix ships tomorrow.", "sent": "reply"},
}



@pytest.fixture(params=sorted(LANGUAGES))
def company(request, tmp_path):
    """The demo's company in both sandboxes (the CRM org in the run's data centre), our extension between them."""
    for world in _world(tmp_path, request.param, dataset="company", seed_tickets=120):
        yield request.param, world


def _installed_and_synced(context, world, admin):
    """The admin installs for everyone, authorizes both services and runs the first sync."""
    page = sign_in(context, world["crm_url"], *admin)
    install_from_marketplace(page, "all")
    page.get_by_role("link", name="Later", exact=True).click()
    authorize_both(context, page, world)
    with world["extension"].app_context():
        installation = db.session.scalar(db.select(Installation))
        run = runs.start_first_sync(installation)
        runs.first_sync_job(installation.id, run.id)
        db.session.refresh(run)
        assert run.status == "done", run.message
        tickets = db.session.scalars(db.select(Ticket)).all()
        contact = Counter(t.crm_contact_id for t in tickets if t.crm_contact_id).most_common(1)[0][0]
        account = Counter(t.crm_account_id for t in tickets if t.crm_account_id).most_common(1)[0][0]
        account_tickets = {t.zendesk_id for t in tickets if t.crm_account_id == account}
    page.close()
    return contact, account, account_tickets


def test_a_rep_works_a_contacts_tickets_and_sees_an_accounts(strict_chromium, company):
    dc, world = company
    texts = LANGUAGES[dc]
    admin_context = strict_chromium.new_context(viewport={"width": 1280, "height": 900})
    contact_id, account_id, account_tickets = _installed_and_synced(admin_context, world, texts["admin"])
    admin_context.close()

    context = strict_chromium.new_context(viewport={"width": 1280, "height": 900},
                                          locale="ja-JP" if dc == "jp" else "en-US")
    page = sign_in(context, world["crm_url"], *texts["rep"])
    assert "Administrator" not in page.inner_text("#whoami")  # a rep, not an admin

    # The Contact's page: its tickets, from our site in the CRM's iframe.
    page.goto(f"{world['crm_url']}/crm/tab/Contacts/{contact_id}")
    tickets = page.frame_locator("#tickets-widget")
    tickets.locator("table.tickets tbody tr").first.wait_for(timeout=WAIT)
    assert tickets.locator("h1").inner_text() == texts["heading"]
    before = tickets.locator("table.tickets tbody tr").count()
    shoot(page, f"rep-1-contact-{texts['shot']}")

    # New Zendesk Ticket, in the CRM's popup.
    form, _ = open_popup(page)
    subject = "請求書の宛名を変更したい" if dc == "jp" else "Please change the invoice address"
    form.locator("#subject").fill(subject)
    form.locator("#description").fill("来月分から新しい住所でお願いします。" if dc == "jp" else
                                      "From next month on, please use our new address.")
    form.locator("#ticket_type").select_option("question")
    form.locator("#priority").select_option("normal")
    form.locator("#tags").fill("billing")
    shoot(page, f"rep-2-new-ticket-{texts['shot']}")
    form.locator("#new-ticket-save").click()
    page.locator("#new-ticket-popup").wait_for(state="hidden", timeout=WAIT)

    # The list shows it at once, before any webhook.
    row = tickets.locator("table.tickets tbody tr", has_text=subject)
    row.wait_for(timeout=WAIT)
    assert tickets.locator("table.tickets tbody tr").count() == min(before + 1, 10)
    created = [t for t in world["zendesk"].account().tickets.values() if t["subject"] == subject]
    assert len(created) == 1 and created[0]["type"] == "question" and created[0]["tags"] == ["billing"]
    shoot(page, f"rep-3-created-{texts['shot']}")

    # Open it in place and reply: the reply shows in the thread and reaches Zendesk.
    row.locator("td.subject a").click()
    detail = tickets.locator("#ticket-detail #ticket-thread")
    detail.wait_for(timeout=WAIT)
    shoot(page, f"rep-4-ticket-{texts['shot']}")
    tickets.locator("#ticket-reply textarea").fill(texts["reply"])
    tickets.locator("#reply-send").click()
    tickets.locator("#reply-notice").wait_for(timeout=WAIT)
    assert texts["reply"] in tickets.locator("#ticket-thread li.comment").last.inner_text()
    comments = world["zendesk"].account().comments[created[0]["id"]]
    assert any(texts["reply"] in c["body"] for c in comments)
    shoot(page, f"rep-5-replied-{texts['shot']}")

    # The Account's page: its organization's tickets, each with its requester.
    page.goto(f"{world['crm_url']}/crm/tab/Accounts/{account_id}")
    account_list = page.frame_locator("#tickets-widget")
    account_list.locator("#ticket-filter").wait_for(timeout=WAIT)
    account_list.locator("#ticket-filter").select_option("all")
    shown = account_list.locator("table.tickets tbody tr")
    shown.first.wait_for(timeout=WAIT)
    ids = {int(row_id.removeprefix("ticket-")) for row_id in
           shown.evaluate_all("rows => rows.map(row => row.id)")}
    assert ids and ids <= account_tickets | {created[0]["id"]}
    requesters = account_list.locator("table.tickets tbody td[data-label]:nth-child(7)").all_inner_texts()
    assert len(requesters) == len(ids) and all(name.strip() for name in requesters)  # who asked, on each
    shoot(page, f"rep-6-account-{texts['shot']}")

    assert context.cookies(world["extension_url"]) == []  # nothing of ours rests on a cookie
    context.close()
