"""In a real browser (Debian's chromium via Playwright): the admin opens the extension's settings from
the CRM's marketplace (our page in a cross-site iframe), fixes a pasted address, presses "Save and
Authorize", signs in to Zendesk in the window that opens, allows access, the window closes by itself and
the settings iframe updates by itself (postMessage) — no cookie of ours involved."""
import pytest

from tests.browser.conftest import (MARKETPLACE_SECRET, chromium,  # noqa: F401  (the chromium fixture)
                                    install_from_marketplace, sign_in)
from tests.helpers import served
from tests.settings.flows import ZENDESK_PASSWORD
from widget import create_app
from widget.extensions import db
from widget.sandbox.crm import create_sandbox
from widget.sandbox.serving import free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def sites(tmp_path, zendesk_sandbox):
    """(extension URL, CRM web UI URL): our app on 127.0.0.1, the CRM sandbox on localhost (cross-site)."""
    extension_port, crm_port = free_port("127.0.0.1"), free_port("localhost")
    crm_url, extension_url = f"http://localhost:{crm_port}", f"http://127.0.0.1:{extension_port}"
    zendesk = zendesk_sandbox.credentials(zendesk_sandbox.url)
    extension = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ext.db'}",
        "MARKETPLACE_SECRET": MARKETPLACE_SECRET, "SANDBOX_ORIGIN": crm_url,
        "ZENDESK_BASE_URL": zendesk_sandbox.url, "ZENDESK_CLIENT_ID": zendesk["oauth_client_id"],
        "ZENDESK_CLIENT_SECRET": zendesk["oauth_client_secret"]})
    with extension.app_context():
        db.create_all()
    crm = create_sandbox(data_centres=("us",), extension_url=extension_url, marketplace_secret=MARKETPLACE_SECRET)
    with served(extension, port=extension_port), served(crm, host="localhost", port=crm_port):
        yield extension_url, crm_url
    with extension.app_context():
        db.engine.dispose()


def test_authorize_zendesk_from_the_settings_iframe(chromium, sites):  # noqa: F811
    extension_url, crm_url = sites
    context = chromium.new_context()
    page = sign_in(context, crm_url, "admin@us.zylker.example", "us-admin-pass")
    install_from_marketplace(page, "admins")
    page.get_by_role("link", name="Later", exact=True).click()  # F5: authorize later
    page.click("#installed-extensions >> text=Settings")

    settings = page.frame_locator("#settings-widget")
    assert settings.locator("#connect-crm").inner_text() == "Connect Zoho CRM"
    settings.locator("#subdomain").fill("https://acme.zendesk.com")
    settings.locator("button:has-text('Save and Authorize')").click()
    error = settings.locator("#subdomain-error")
    assert error.inner_text() == "Enter only the subdomain, not the whole address: type “acme”."

    settings.locator("#subdomain").fill("acme")
    with context.expect_page() as opened:
        settings.locator("button:has-text('Save and Authorize')").click()
    popup = opened.value
    popup.wait_for_selector("input[name=password]")  # Zendesk's own sign-in page, in a window of its own
    assert "/oauth/authorizations/new?" in popup.url
    popup.fill("input[name=email]", "admin@us.zylker.example")  # the CRM admin, under the same email
    popup.fill("input[name=password]", ZENDESK_PASSWORD)
    popup.click("button:has-text('Sign in')")
    callbacks = []
    popup.on("request", lambda request: callbacks.append(request.url) if "/settings/zendesk/callback" in request.url
             else None)
    with popup.expect_event("close", timeout=15_000):  # the callback page closes its window by itself
        popup.click("button:has-text('Allow')")
    assert popup.is_closed()
    assert [url.startswith(f"{extension_url}/settings/zendesk/callback?") for url in callbacks] == [True]

    # The callback told the iframe, which reloaded its panel by itself.
    status = settings.locator("#zendesk-connection .ok")
    status.wait_for(timeout=10_000)
    assert status.inner_text() == "Authorized as acme (plan Professional)."
    assert context.cookies(extension_url) == []  # nothing of ours rests on a cookie
    context.close()
