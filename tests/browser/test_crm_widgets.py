"""In a real browser: an admin installs the extension for chosen profiles from the CRM's marketplace,
and the record page shows our widget iframe exactly to the users inside that scope."""
import re
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import install_from_marketplace, sign_in

pytestmark = pytest.mark.browser

PASSWORDS = {"admin": "us-admin-pass", "manager": "us-rep-pass", "rep": "us-rep-pass"}


def signed_in_page(chromium, crm_url, who):
    """A fresh browser context (its own cookies) signed in to the CRM UI as a seeded US user."""
    return sign_in(chromium.new_context(), crm_url, f"{who}@us.zylker.example", PASSWORDS[who])


def open_first_contact(page):
    page.click("nav.sidenav >> text=Contacts")
    page.click("#records tbody tr:first-child a")
    page.wait_for_selector("#record-title")


def test_install_for_chosen_profiles_and_the_widget_follows_the_scope(chromium, sites):
    extension_url, crm_url, crm = sites
    admin = signed_in_page(chromium, crm_url, "admin")
    header = admin.inner_text("#whoami")
    for expected in ("Zylker Corp", "US", "Patricia Boyle", "Administrator"):
        assert expected in header

    install_from_marketplace(admin, "profiles", ["Sales Rep"])
    assert admin.inner_text("h1") == "Zendesk for Zoho CRM is installed"
    admin.get_by_role("link", name="Later", exact=True).click()
    assert "Profiles: Sales Rep" in admin.inner_text("#installed-extensions")

    open_first_contact(admin)
    heading = admin.frame_locator("#tickets-widget").locator("h1")
    assert heading.inner_text() == "Zendesk Tickets"  # the iframe really loaded, cross-site, from our app
    frame = next(f for f in admin.frames if f.url.startswith(extension_url))
    assert urlsplit(frame.url).hostname != urlsplit(admin.url).hostname
    assert re.search(r"/record/Contacts/\d+/tickets\?ctx=", frame.url)

    manager = signed_in_page(chromium, crm_url, "manager")  # profile "Standard": outside the scope
    assert "Standard" in manager.inner_text("#whoami")
    open_first_contact(manager)
    assert manager.locator("#tickets-widget").count() == 0
    assert manager.locator("#new-zendesk-ticket").count() == 0

    rep = signed_in_page(chromium, crm_url, "rep")  # profile "Sales Rep": inside the scope
    open_first_contact(rep)
    assert rep.frame_locator("#tickets-widget").locator("h1").inner_text() == "Zendesk Tickets"
    assert rep.locator("#new-zendesk-ticket").is_visible()
