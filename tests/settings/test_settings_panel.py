"""The settings panel itself: who may open it (admins of this org only), the Zendesk subdomain form
(F6) and its form token, fragments for htmx, and the admin's language. No cookie anywhere."""
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from tests.helpers import ADMIN, REP, install
from tests.settings.flows import Admin, soup
from widget.sandbox.crm.signing import mint_context

# Every settings route a widget context opens: (method, path).
CONTEXT_ROUTES = [("GET", "/settings"), ("POST", "/settings/zendesk"), ("GET", "/settings/zendesk/authorize"),
                  ("GET", "/settings/crm/connect")]


@pytest.fixture(scope="module")
def zendesk_sandbox(zendesk_served):
    """These tests only build sign-in URLs, never change a sandbox: one pair serves the whole module."""
    return zendesk_served


@pytest.fixture(scope="module")
def crm_sandbox(crm_served):
    return crm_served


@pytest.fixture
def admin(client):
    return Admin(client, install(client, scope={"type": "all"}))


def test_a_fresh_installation_shows_connect_crm_and_the_subdomain_form_without_cookies(admin):
    """F5: an installation that skipped authorization lands here with both authorizations to do."""
    response = admin.page()
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    page = soup(response)
    assert page.select_one("#connect-crm").get_text(strip=True) == "Connect Zoho CRM"
    assert page.select_one("#connect-crm")["target"] == "authorization"  # its own window: sign-in pages refuse frames
    form = page.select_one("#zendesk-form")
    assert form.select_one("input[name=subdomain]")["value"] == ""
    assert form.select_one("button[type=submit]").get_text(strip=True) == "Save and Authorize"
    assert "X-Widget-Context" in page.body["hx-headers"]
    assert page.select_one("#sync-settings") is None  # the wizard's place appears only once both are authorized


def test_htmx_requests_get_the_panel_alone(admin):
    full, fragment = admin.page(), admin.page(htmx=True)
    assert b"<html" in full.data and b"<html" not in fragment.data
    assert soup(fragment).select_one("#settings-panel") is not None
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in full.headers["Vary"]


@pytest.mark.parametrize("method, path", CONTEXT_ROUTES)
def test_non_admins_are_refused_on_every_settings_route(client, method, path):
    installed = install(client, scope={"type": "all"})  # the rep may use the widgets, not the settings
    rep = Admin(client, installed, user=REP)
    response = client.open(path, method=method, headers={"X-Widget-Context": rep.ctx}, data={"subdomain": "acme"})
    assert response.status_code == 403
    assert b"Only a CRM administrator" in response.data
    assert Admin(client, installed).installation()["zendesk_subdomain"] is None


@pytest.mark.parametrize("method, path", CONTEXT_ROUTES)
def test_every_settings_route_needs_a_context(client, method, path):
    install(client)
    assert client.open(path, method=method, data={"subdomain": "acme"}).status_code == 401


@pytest.mark.parametrize("method, path", CONTEXT_ROUTES)
def test_a_context_claiming_another_org_is_refused_on_every_settings_route(client, method, path):
    first = install(client, org_id="org-1")
    install(client, org_id="org-2")
    forged = mint_context(first["context_secret"], "org-2", ADMIN)  # org-1's secret, org-2's name
    response = client.open(path, method=method, headers={"X-Widget-Context": forged}, data={"subdomain": "acme"})
    assert response.status_code == 401
    assert Admin(client, first, org_id="org-2").installation()["zendesk_subdomain"] is None


def test_each_org_reads_and_changes_only_its_own_settings(client):
    org_a = Admin(client, install(client, org_id="org-a"), org_id="org-a")
    org_b = Admin(client, install(client, org_id="org-b"), org_id="org-b")
    assert org_a.save_subdomain("alpha").status_code == 200
    assert org_a.installation()["zendesk_subdomain"] == "alpha"
    assert org_b.installation()["zendesk_subdomain"] is None
    assert soup(org_b.page()).select_one("input[name=subdomain]")["value"] == ""
    assert soup(org_a.page()).select_one("input[name=subdomain]")["value"] == "alpha"
    # A form token taken from org A's page does not work with org B's context.
    refused = org_b.save_subdomain("beta", token=org_a.form_token())
    assert b"This form belongs to another page" in refused.data
    assert org_b.installation()["zendesk_subdomain"] is None


@pytest.mark.parametrize("token", ["", "forged.token.value"])
def test_posting_without_a_valid_form_token_changes_nothing(admin, token):
    response = admin.save_subdomain("acme", token=token)
    assert response.status_code == 200  # the panel again, with the message (htmx swaps only 2xx)
    assert b"This form has expired" in response.data
    assert soup(response).select_one("[data-authorization-url]") is None
    assert admin.installation()["zendesk_subdomain"] is None


@pytest.mark.parametrize("typed, message", [
    ("acme.zendesk.com", "Enter only the subdomain, not the whole address: type “acme”."),
    ("https://acme.zendesk.com", "Enter only the subdomain, not the whole address: type “acme”."),
    ("https://Acme.zendesk.com/agent/tickets/1", "Enter only the subdomain, not the whole address: type “acme”."),
    ("", "Enter your Zendesk subdomain, for example “acme” for acme.zendesk.com."),
    ("-acme", "A subdomain has 1 to 63 letters"),
    ("acme-", "A subdomain has 1 to 63 letters"),
    ("ac me", "A subdomain has 1 to 63 letters"),
    ("acme.example.com", "A subdomain has 1 to 63 letters"),
    ("a" * 64, "A subdomain has 1 to 63 letters"),
])
def test_a_bad_subdomain_gets_a_clear_message_next_to_the_field_and_nothing_is_saved(admin, typed, message):
    response = admin.save_subdomain(typed)
    assert response.status_code == 200
    page = soup(response)
    error = page.select_one("#zendesk-form #subdomain-error")
    assert error is not None and error.get_text().startswith(message)
    assert page.select_one("input[name=subdomain]")["aria-describedby"] == "subdomain-error"
    assert page.select_one("[data-authorization-url]") is None  # nobody is sent to Zendesk
    assert admin.installation()["zendesk_subdomain"] is None


@pytest.mark.parametrize("typed, saved", [("acme", "acme"), ("  Acme-Support ", "acme-support"), ("a", "a"),
                                          ("z" * 63, "z" * 63), ("1st-line", "1st-line")])
def test_a_good_subdomain_is_saved_and_the_zendesk_sign_in_follows(admin, zendesk_sandbox, typed, saved):
    response = admin.save_subdomain(typed)
    link = soup(response).select_one("[data-authorization-url]")
    assert link["href"].startswith(f"{zendesk_sandbox.url}/oauth/authorizations/new?")
    assert link["target"] == "authorization"
    assert admin.installation()["zendesk_subdomain"] == saved


def test_without_javascript_the_form_post_redirects_its_window_to_zendesk(admin, zendesk_sandbox):
    response = admin.save_subdomain("acme", htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{zendesk_sandbox.url}/oauth/authorizations/new?")


def test_the_panel_speaks_the_admins_language(client):
    installed = install(client)
    japanese = Admin(client, installed, user=dict(ADMIN, locale="ja_JP"))
    page = soup(japanese.page())
    assert page.html["lang"] == "ja"
    assert page.select_one("#connect-crm").get_text(strip=True) == "Zoho CRM を接続"
    response = japanese.save_subdomain("acme.zendesk.com")
    assert "サブドメインだけを入力してください" in soup(response).select_one("#subdomain-error").get_text()


def test_every_settings_string_has_a_japanese_translation():
    root = Path(__file__).resolve().parents[2]
    with (root / "widget/translations/ja/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    sources = [("widget/settings", [("**.py", "python")]), ("templates/settings", [("**.html", "jinja2")]),
               ("widget/dashboard", [("**.py", "python")]), ("templates/dashboard", [("**.html", "jinja2")]),
               ("widget/sync", [("**.py", "python")]), ("widget", [("connections.py", "python")]),
               ("widget/agent", [("**.py", "python")]), ("templates/agent", [("**.html", "jinja2")])]
    # lazy_gettext as the settings modules import it; `notice`, what the sync stores for them (notices.py)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "notice": None}
    strings = {message[2] for folder, method_map in sources
               for message in extract_from_dir(str(root / folder), method_map, keywords=keywords)}
    assert len(strings) > 40
    untranslated = [s for s in strings if not (catalog.get(s) and catalog.get(s).string)]
    assert untranslated == []
