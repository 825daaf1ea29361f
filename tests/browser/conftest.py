"""Real-browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser), and our
extension plus the CRM sandbox served on two different sites (127.0.0.1 vs localhost), so the widget
iframes are cross-site as in production and third-party-cookie rules apply to them."""
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import served
from widget import create_app
from widget.extensions import db
from widget.sandbox.crm import create_sandbox
from widget.sandbox.serving import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MARKETPLACE_SECRET = "browser-test-marketplace-secret"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"  # the README shows them


def shoot(page, name):
    """Save what the page shows now as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# Chromium as it will ship by default: third-party cookies blocked (the CRM and Zendesk frame our pages
# from other sites, so nothing of ours may lean on a cookie).
NO_THIRD_PARTY_COOKIES = "--test-third-party-cookie-phaseout"


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def strict_chromium():
    """Chromium with third-party cookies blocked."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS + [NO_THIRD_PARTY_COOKIES])
        yield browser
        browser.close()


@pytest.fixture
def extension_config():
    """Extra configuration of the extension under test (a test module may override this fixture)."""
    return {}


@pytest.fixture
def sites(tmp_path, extension_config):
    """(extension URL, CRM web UI URL): our app on 127.0.0.1, the CRM sandbox on localhost."""
    extension_port, crm_port = free_port("127.0.0.1"), free_port("localhost")
    crm_url, extension_url = f"http://localhost:{crm_port}", f"http://127.0.0.1:{extension_port}"
    extension = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ext.db'}",
                            "MARKETPLACE_SECRET": MARKETPLACE_SECRET, "SANDBOX_ORIGIN": crm_url,
                            **extension_config})
    with extension.app_context():
        db.create_all()
    crm = create_sandbox(data_centres=("us",), seed_records=30, extension_url=extension_url,
                         marketplace_secret=MARKETPLACE_SECRET)
    with served(extension, port=extension_port), served(crm, host="localhost", port=crm_port):
        yield extension_url, crm_url, crm
    with extension.app_context():
        db.engine.dispose()


def sign_in(context, crm_url, email, password):
    """A page of `context` signed in to the CRM web UI."""
    page = context.new_page()
    page.goto(f"{crm_url}/crm/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#whoami")
    return page


def install_from_marketplace(page, scope_type="admins", profiles=(), before_confirm=None):
    """Settings → Marketplace → Install → terms → scope → Confirm, as the help page describes (F1, F4);
    `before_confirm(page)` runs with the scope chosen (a screenshot)."""
    page.click("nav.sidenav >> text=Marketplace")
    page.click("#extension-zendesk >> text=Install")
    page.check("input[name=agree]")
    page.click("button:has-text('Continue')")
    page.check(f"input[name=scope_type][value={scope_type}]")
    for profile in profiles:
        page.check(f"input[name=profiles][value='{profile}']")
    if before_confirm is not None:
        before_confirm(page)
    page.click("button:has-text('Confirm')")
