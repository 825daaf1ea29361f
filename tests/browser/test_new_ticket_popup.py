""""New Zendesk Ticket" in a real browser (Debian's chromium via Playwright): the record page's button opens
our form in the CRM's popup (an overlay holding our iframe, from another site), the form fits it without
scrolling sideways, a chosen contact fills in the requester, and Save creates the ticket, closes the popup
and reloads the related list, which shows the ticket (F18, F19, F22)."""
import re

import pytest

from tests.browser.conftest import chromium, install_from_marketplace, shoot, sign_in  # noqa: F401  (fixture)
from tests.browser.test_help_page_walkthrough import _world
from tests.browser.test_wizard_walkthrough import _authorize_both as authorize_both  # also the CSP test's

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path):
    yield from _world(tmp_path, "us")


def open_popup(page):
    page.click("#new-zendesk-ticket")
    page.locator("#new-ticket-popup").wait_for(state="visible")
    form = page.frame_locator("#new-ticket-widget")
    form.locator("#new-ticket-form").wait_for(timeout=10_000)
    frame = next(f for f in page.frames if re.search(r"/tickets/new\?ctx=", f.url))
    frame.wait_for_load_state("load")  # its scripts and styles too, before anything closes the popup
    return form, frame


def test_save_in_the_popup_closes_it_and_the_related_list_shows_the_ticket(chromium, world):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = sign_in(context, world["crm_url"], "admin@us.zylker.example", "us-admin-pass")
    install_from_marketplace(page, "admins")
    page.get_by_role("link", name="Later", exact=True).click()
    authorize_both(context, page, world)

    # An Account's page offers its contacts; choosing one fills in the requester.
    page.goto(f"{world['crm_url']}/crm/tab/Accounts")
    page.click("table >> tbody >> tr >> nth=0 >> a")
    form, frame = open_popup(page)
    contact = form.locator("#requester_contact option").nth(1)
    name, email = contact.get_attribute("data-name"), contact.get_attribute("data-email")
    form.locator("#requester_contact").select_option(index=1)
    assert (form.locator("#requester_name").input_value(), form.locator("#requester_email").input_value()) == (
        name, email)
    page.click("#new-ticket-popup-close")
    page.locator("#new-ticket-popup").wait_for(state="hidden")

    # A Contact's page: the form fits the popup (about 900 x 600) without scrolling sideways.
    page.goto(f"{world['crm_url']}/crm/tab/Contacts")
    page.click("table >> tbody >> tr >> nth=0 >> a")
    list_frame = page.frame_locator("#tickets-widget")
    list_frame.locator(".related-list h1").wait_for()
    form, frame = open_popup(page)
    box = page.locator("#new-ticket-widget").bounding_box()
    assert 880 <= box["width"] <= 940 and box["height"] <= 610
    assert frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert form.locator("#requester_email").input_value().endswith(".example.com")
    shoot(page, "new-ticket-popup")

    form.locator("#subject").fill("Printer on fire")
    form.locator("#description").fill("The office printer caught fire this morning.")
    form.locator("#ticket_type").select_option("incident")
    form.locator("#priority").select_option("high")
    form.locator("#tags").fill("printer vip")
    form.locator("#new-ticket-save").click()

    # The extension tells the CRM page; the popup closes and the related list reloads with the ticket.
    page.locator("#new-ticket-popup").wait_for(state="hidden", timeout=15_000)
    row = list_frame.locator("tbody tr", has_text="Printer on fire")
    row.wait_for(timeout=10_000)
    assert "High" in row.inner_text()
    created = [t for t in world["zendesk"].account().tickets.values() if t["subject"] == "Printer on fire"]
    assert len(created) == 1 and created[0]["tags"] == ["printer", "vip"] and created[0]["type"] == "incident"
    assert page.locator("#new-ticket-widget").get_attribute("src") is None  # the popup's page is gone
    context.close()
