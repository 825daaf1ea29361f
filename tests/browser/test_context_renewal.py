"""In a real browser: a record page's widget keeps working past its context's age, because the page
swaps in the context the server signs again (static/js/widget.js, widget/context.py)."""
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from tests.browser.conftest import install_from_marketplace, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def extension_config():
    return {"CONTEXT_RENEW_AFTER": 1}  # a second instead of five minutes


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_an_open_record_page_renews_its_context_and_sends_the_renewed_one(chromium, sites):
    extension_url, crm_url, _crm = sites
    admin = sign_in(chromium.new_context(), crm_url, "admin@us.zylker.example", "us-admin-pass")
    install_from_marketplace(admin, "all")
    admin.get_by_role("link", name="Later", exact=True).click()
    rep = sign_in(chromium.new_context(), crm_url, "rep@us.zylker.example", "us-rep-pass")
    rep.click("nav.sidenav >> text=Contacts")
    rep.click("#records tbody tr:first-child a")
    rep.frame_locator("#tickets-widget").locator("h1").wait_for()
    widget = next(f for f in rep.frames if f.url.startswith(extension_url))
    signed_by_crm = parse_qs(urlsplit(widget.url).query)["ctx"][0]
    widget.wait_for_function("() => window.widgetContext !== undefined")  # widget.js may run after the h1 shows
    on_the_page = widget.evaluate("widgetContext.token()")  # (already renewed if the page took a second)

    time.sleep(1.2)
    with rep.expect_request(lambda r: "/context/renew" in r.url) as ping:
        widget.evaluate("widgetContext.renew()")  # what the page's timer does while it sits idle
    assert ping.value.headers["x-widget-background"] == "1"  # not the user's activity
    renewed = widget.evaluate("widgetContext.token()")
    assert renewed != on_the_page
    assert claims(renewed)["auth_time"] == claims(signed_by_crm)["iat"]  # the CRM's signing time, carried
    assert claims(renewed)["user"] == claims(signed_by_crm)["user"]

    # The next HTMX request (the status filter) carries the renewed context and is served.
    with rep.expect_response(lambda r: "/tickets?status=open" in r.url) as answer:
        widget.select_option("select[name=status]", "open")
    assert answer.value.request.headers["x-widget-context"] == renewed
    assert answer.value.status == 200
