"""In a real browser: a rep works the "Zendesk Tickets" related list of a Contact — filter, open a ticket
in place, reply, go back to the same filter — at the width of the CRM's related-list iframe (about
900 px) and on a narrow screen, never scrolling sideways; the list reloads when a ticket is created."""
import pytest

from tests.browser.conftest import shoot
from tests.helpers import served
from tests.record.conftest import company, crm_sandbox, synced_installation, zendesk_sandbox  # noqa: F401 (fixtures)
from widget.extensions import db
from widget.models import Ticket, utcnow

pytestmark = pytest.mark.browser


def _fits(page, width):
    scroll, client = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert client == width and scroll <= client, f"{page.url}: {scroll} px of content in {client} px"


def _rows(page):
    return page.locator("table.tickets tbody tr")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_rep_filters_opens_replies_and_goes_back_without_scrolling_sideways(chromium, company,  # noqa: F811
                                                                              language):
    claims = {"locale": "ja_JP", "time_zone": "Asia/Tokyo"} if language == "ja" else {"time_zone": "Asia/Tokyo"}
    ctx = company.context("Contacts", "yui", **claims)
    db.session.commit()  # nothing of ours held open while the served app writes
    with served(company.s.app) as server:
        page = chromium.new_page(viewport={"width": 900, "height": 760})
        page.goto(f"{server.url}/record/Contacts/{company.records['yui']}/tickets?ctx={ctx}")
        page.wait_for_selector("table.tickets")
        assert _rows(page).count() == 3  # open ones first
        _fits(page, 900)

        page.select_option("#ticket-filter", "all")
        page.wait_for_function("() => document.querySelectorAll('table.tickets tbody tr').length === 4")
        shoot(page, f"record-tickets-{language}")

        page.click(f"#ticket-{company.tickets['yui_open']} td.subject a")
        page.wait_for_selector("#ticket-detail #ticket-thread")
        _fits(page, 900)
        page.fill("#ticket-reply textarea", "The fix ships tomorrow.\nThanks for your patience.")
        page.check("#visibility-1")  # public reply
        page.select_option("#status", "pending")
        page.click("#reply-send")
        page.wait_for_selector("#reply-notice")
        assert "The fix ships tomorrow." in page.locator("#ticket-thread li.comment").last.inner_text()
        assert page.locator("#ticket-reply textarea").input_value() == ""
        _fits(page, 900)
        shoot(page, f"record-ticket-detail-{language}")

        page.click("#back-to-list")
        page.wait_for_selector("table.tickets")
        assert page.locator("#ticket-filter").input_value() == "all"  # the same filter (and page) as before
        assert _rows(page).count() == 4

        # A ticket created in place (the New Zendesk Ticket form sends `ticketCreated`) shows at once.
        db.session.add(Ticket(installation_id=company.s.installation_id, zendesk_id=9001, subject="Created here",
                              status="new", crm_contact_id=company.records["yui"], updated_at=utcnow()))
        db.session.commit()
        page.evaluate("htmx.trigger(document.body, 'ticketCreated')")
        page.wait_for_selector("#ticket-9001")

        page.set_viewport_size({"width": 420, "height": 760})
        _fits(page, 420)
        page.close()
