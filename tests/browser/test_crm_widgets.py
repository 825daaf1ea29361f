"""In a real browser: an admin installs the extension for chosen profiles from the CRM's marketplace,
and the record page shows our widget iframe exactly to the users inside that scope."""
import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

PASSWORDS = {"admin": "us-admin-pass", "manager": "us-rep-pass", "rep": "us-rep-pass"}


def signed_in_page(chromium, crm_url, who):
    """A fresh browser context (its own cookies) signed in to the CRM UI as a seeded US user."""
    page = chromium.new_context().new_page()
    page.goto(f"{crm_url}/crm/signin")
    page.fill("input[name=email]", f"{who}@us.zylker.example")
    page.fill("input[name=password]", PASSWORDS[who])
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#whoami")
    return page


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

    admin.click("nav.sidenav >> text=Marketplace")
    admin.click("#extension-zendesk >> text=Install")
    admin.check("input[name=agree]")
    admin.click("button:has-text('Continue')")
    admin.check("input[name=scope_type][value=profiles]")
    admin.check("input[name=profiles][value='Sales Rep']")
    admin.click("button:has-text('Confirm')")
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
