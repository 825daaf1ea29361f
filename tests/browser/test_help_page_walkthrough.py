"""The help page's steps, end to end in a real browser (Debian's chromium via Playwright): install from the
CRM's marketplace (F1, F4), authorize later from the settings iframe (F5): connect Zoho CRM and authorize
Zendesk (F6), see the custom modules (F7) and the record widget (our pages on another site than the
CRM), then uninstall with the confirm dialog (F23) and find everything gone (F24)."""
import pytest

from tests.browser.conftest import (MARKETPLACE_SECRET, chromium,  # noqa: F401  (the chromium fixture)
                                    install_from_marketplace, shoot, sign_in)
from tests.helpers import served
from widget import create_app
from widget.extensions import db
from widget.models import Installation
from widget.sandbox.crm import create_sandbox as create_crm_sandbox
from widget.sandbox.serving import free_port
from widget.sandbox.zendesk import create_sandbox as create_zendesk_sandbox

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path):
    """Our extension on 127.0.0.1, the CRM sandbox on localhost (another site), and a Zendesk sandbox."""
    yield from _world(tmp_path, "us")


def _world(tmp_path, dc, dataset="standard", seed_tickets=5):
    """Our extension on 127.0.0.1, the CRM sandbox (one org in data centre `dc`) on localhost, another
    site, and a Zendesk sandbox; both sandboxes seeded with `dataset` (the demo's company: "company")."""
    extension_port, crm_port = free_port("127.0.0.1"), free_port("localhost")
    crm_url, extension_url = f"http://localhost:{crm_port}", f"http://127.0.0.1:{extension_port}"
    zendesk = create_zendesk_sandbox(seed_tickets=seed_tickets, dataset=dataset)
    crm = create_crm_sandbox(data_centres=(dc,), seed_records=20, extension_url=extension_url,
                             marketplace_secret=MARKETPLACE_SECRET, dataset=dataset)
    # The CRM admin authorizes Zendesk as themselves: a Zendesk administrator under the same email (the
    # extension takes a Zendesk authorization only from the admin who started it).
    crm_admin = crm.credentials(crm_url)["data_centres"][dc]["users"][0]
    zendesk.add_admin(crm_admin["name"], crm_admin["email"], crm_admin["password"])
    with served(zendesk) as zendesk_server:
        zendesk_credentials = zendesk.credentials(zendesk_server.url)
        crm_credentials = crm.credentials(crm_url)
        zendesk_admin = {"subdomain": zendesk_credentials["accounts"][0]["subdomain"],
                         "admin_email": crm_admin["email"], "admin_password": crm_admin["password"]}
        extension = create_app({
            "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ext.db'}",
            "MARKETPLACE_SECRET": MARKETPLACE_SECRET, "SANDBOX_ORIGIN": crm_url,
            "ZENDESK_BASE_URL": zendesk_server.url, "ZENDESK_CLIENT_ID": zendesk_credentials["oauth_client_id"],
            "ZENDESK_CLIENT_SECRET": zendesk_credentials["oauth_client_secret"],
            "CRM_SANDBOX_URL": crm_url, "CRM_CLIENT_ID": crm_credentials["client_id"],
            "CRM_CLIENT_SECRET": crm_credentials["client_secret"]})
        with extension.app_context():
            db.create_all()
        with served(extension, port=extension_port), \
                served(crm, host="localhost", port=crm_port):
            yield {"extension": extension, "extension_url": extension_url, "crm_url": crm_url, "crm": crm,
                   "zendesk": zendesk, "zendesk_admin": zendesk_admin}
        with extension.app_context():
            db.engine.dispose()


def _authorize_in_popup(context, click, fill_and_submit):
    """Authorize in the window the click opens; after a success it tells the settings iframe and closes."""
    with context.expect_page() as opened:
        click()
    popup = opened.value
    with popup.expect_event("close", timeout=15_000):
        fill_and_submit(popup)
    assert popup.is_closed()


def test_install_authorize_and_uninstall_as_the_help_page_describes(chromium, world):  # noqa: F811
    crm_url, extension_url = world["crm_url"], world["extension_url"]
    context = chromium.new_context()
    page = sign_in(context, crm_url, "admin@us.zylker.example", "us-admin-pass")

    # Install: terms → scope (chosen profiles) → Confirm; authorize later (F5).
    install_from_marketplace(page, "profiles", ["Sales Rep"],
                             before_confirm=lambda scope: shoot(scope, "install-scope"))
    page.get_by_role("link", name="Later", exact=True).click()

    # Authorize from the settings iframe: first the CRM, then Zendesk, each in a window of its own.
    page.click("#installed-extensions >> text=Settings")
    settings = page.frame_locator("#settings-widget")
    _authorize_in_popup(context, lambda: settings.locator("#connect-crm").click(),
                        lambda popup: popup.click("button:has-text('Accept')"))
    settings.locator("#crm-connection .ok").wait_for(timeout=10_000)
    settings.locator("#subdomain").fill(world["zendesk_admin"]["subdomain"])

    def sign_in_to_zendesk(popup):
        popup.fill("input[name=email]", world["zendesk_admin"]["admin_email"])
        popup.fill("input[name=password]", world["zendesk_admin"]["admin_password"])
        popup.click("button:has-text('Sign in')")
        popup.locator("button:has-text('Allow')").wait_for()
        shoot(popup, "authorize-zendesk-allow")
        popup.click("button:has-text('Allow')")

    _authorize_in_popup(context, lambda: settings.locator("button:has-text('Save and Authorize')").click(),
                        sign_in_to_zendesk)
    settings.locator("#zendesk-connection .ok").wait_for(timeout=10_000)
    assert settings.locator("#zendesk-connection .ok").inner_text().startswith("Authorized as acme")
    # Each service's live status loads by itself in the iframe, once both are authorized.
    settings.locator("#sync-settings").wait_for(timeout=10_000)
    settings.locator("#zendesk-connection:not([aria-busy])").wait_for(timeout=10_000)
    settings.locator("#crm-connection:not([aria-busy])").wait_for(timeout=10_000)
    assert settings.locator("#zendesk-connection .ok").inner_text() == "Authorized as acme (plan Professional)."
    assert settings.locator("#zendesk-checking").count() == 0 and settings.locator(".error").count() == 0
    shoot(page, "settings-authorized")

    # The wizard's first step (F8–F10), then Sync Now (F13) until it finishes.
    settings.locator("#sync-edit").click()
    settings.locator("#wizard fieldset#modules").wait_for(timeout=10_000)
    shoot(page, "wizard-sync-settings")
    settings.locator("#wizard-back").click()
    settings.locator("#sync-now").click()
    settings.locator("#sync-progress", has_text="Sync finished").wait_for(timeout=60_000)
    shoot(page, "settings-sync-finished")

    # F15: the extension's web tab is the dashboard.
    page.click("#extension-tab")
    dashboard = page.frame_locator("#dashboard-widget")
    dashboard.locator("#dashboard #last-sync-result").wait_for(timeout=10_000)
    assert int(dashboard.locator("#synced tr[data-row=tickets] td").last.inner_text()) == 5
    page.set_viewport_size({"width": 1280, "height": 1500})  # the whole dashboard in its tab
    shoot(page, "dashboard")
    page.set_viewport_size({"width": 1280, "height": 720})

    # F7: the custom modules are tabs now; F22: a Contact page hosts our widget, served from another site.
    page.goto(f"{crm_url}/crm/tab/Contacts")
    nav = page.inner_text("nav.sidenav")
    assert "Zendesk Tickets" in nav and "Zendesk Ticket Comments" in nav
    page.click("table >> tbody >> tr >> nth=0 >> a")
    widget = page.frame_locator("#tickets-widget")
    assert widget.locator(".related-list h1").inner_text() == "Zendesk Tickets"
    assert page.locator("#tickets-widget").get_attribute("src").startswith(extension_url)
    assert len(world["zendesk"].account().webhooks) == 1

    # Uninstall: the confirm dialog says what goes and what stays; OK removes it all (F23, F24).
    page.click("nav.sidenav >> text=Marketplace")
    page.click("text=Installed")
    page.click("#installed-extensions >> text=Uninstall")
    dialog = page.inner_text("main")
    assert '"Zendesk Tickets" and "Zendesk Ticket Comments"' in dialog
    assert "Zendesk webhook" in dialog and "both authorizations" in dialog
    assert "Tickets in Zendesk stay as they are." in dialog
    shoot(page, "uninstall-confirm")
    page.click("button:has-text('OK')")
    page.wait_for_load_state()
    page.goto(f"{crm_url}/crm/tab/Contacts")
    assert "Zendesk Tickets" not in page.inner_text("nav.sidenav")
    page.click("table >> tbody >> tr >> nth=0 >> a")
    assert page.locator("#tickets-widget").count() == 0
    assert world["zendesk"].account().webhooks == {}
    assert len(world["zendesk"].account().tickets) == 5  # tickets in Zendesk are never touched
    with world["extension"].app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Installation)) == 0
    context.close()

