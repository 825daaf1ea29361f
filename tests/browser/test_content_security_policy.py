"""Our pages still work in a real browser (Debian's chromium via Playwright) under their strict
Content-Security-Policy (widget/headers.py): no inline script or style, no eval. An admin and a rep use
them as the help page says — the settings panel and both authorizations (the callback pages in their
windows), every wizard step, Sync Now to the end, the dashboard and Edit; a Contact's related list: New
Zendesk Ticket in place and in the CRM's popup, the ticket opened, a reply, back to the list — and not one
policy violation or console error comes from a page of ours, in any frame or window."""
import re

import pytest

from tests.browser.conftest import chromium, install_from_marketplace, sign_in  # noqa: F401  (fixture)
from tests.browser.test_help_page_walkthrough import _world
from tests.browser.test_new_ticket_popup import authorize_both, open_popup
from tests.browser.test_wizard_walkthrough import _organizations

pytestmark = pytest.mark.browser

WAIT = 30_000
SYNC_WAIT = 120_000

# Every frame and window of the context reports its policy violations (the init script runs in each).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => window.reportPolicyViolation({
  page: document.location.href, directive: event.effectiveDirective, blocked: event.blockedURI,
  sample: event.sample, line: event.lineNumber}));
"""


class Watch:
    """Policy violations anywhere, and console errors and uncaught exceptions of our origin's pages."""

    def __init__(self, context, origin):
        self.origin, self.violations, self.errors = origin, [], []
        context.expose_binding("reportPolicyViolation", lambda source, violation: self.violations.append(violation))
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"uncaught: {error.error}"))

    def _console(self, message):
        if message.type == "error" and (message.location.get("url") or "").startswith(self.origin):
            self.errors.append(f"{message.location['url']}: {message.text}")


def shown(frame, selector, timeout=WAIT, **filters):
    """`selector` in `frame` once it shows and htmx has settled there: htmx gives content it swaps in its
    behaviour (hx-get, hx-post, hx-trigger) only as that content settles, so acting on it sooner misses
    them."""
    found = frame.locator(selector, **filters)
    found.wait_for(timeout=timeout)
    frame.locator("body:not(:has(.htmx-added, .htmx-settling, .htmx-swapping))").wait_for(timeout=timeout)
    return found


def _our_frame(page, origin, path):
    return next(f for f in page.frames if f.url.startswith(origin) and re.search(path, f.url))


@pytest.fixture
def world(tmp_path):
    yield from _world(tmp_path, "us")


def test_every_page_of_ours_works_under_the_policy_with_no_violation_and_no_console_error(chromium, world):  # noqa: F811
    origin = world["extension_url"]
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    watch = Watch(context, origin)
    page = sign_in(context, world["crm_url"], "admin@us.zylker.example", "us-admin-pass")
    install_from_marketplace(page, "admins")
    page.get_by_role("link", name="Later", exact=True).click()

    # The settings panel, and both authorizations in windows of their own (the callback pages close them).
    authorize_both(context, page, world)
    settings = page.frame_locator("#settings-widget")
    shown(settings, "#sync-settings")
    shown(settings, "#zendesk-connection:not([aria-busy])")

    # The watch sees a violation in our cross-site iframe: an inline script the page did not have.
    frame = _our_frame(page, origin, r"/settings\?ctx=")
    frame.evaluate("() => { const s = document.createElement('script'); s.textContent = '1'; "
                   "document.body.append(s); s.remove(); }")
    page.wait_for_timeout(200)
    assert [v["directive"] for v in watch.violations] == ["script-src-elem"], watch.violations
    watch.violations.clear()
    watch.errors.clear()  # the console's word about that same script

    # The wizard: Selective Sync and its organizations, then Bulk Sync after all (so that the Contact's
    # tickets below are listed), the field mapping, the summary, Sync Now to the end.
    account = world["zendesk"].account()
    _organizations(account)
    settings.locator("#sync-edit").click()
    shown(settings, "#wizard fieldset#modules")
    settings.locator("input[name=mode][value=selective]").check()
    settings.locator("#wizard-save").click()
    shown(settings, "#wizard-note")
    settings.locator("#organization-search").fill("Hinode")
    settings.locator("#organization-search-button").click()
    shown(settings, "#available-organizations li", has_text="Hinode Mills")
    settings.locator("#available-organizations li", has_text="Hinode Trading").locator("button").click()
    shown(settings, "#chosen-count", has_text="(1)")
    settings.locator("#organizations-save").click()
    shown(settings, "#wizard-saved")
    settings.locator("#wizard-back").click()
    shown(settings, "input[name=mode][value=bulk]").check()
    settings.locator("#wizard-save").click()
    shown(settings, "#wizard-saved")
    settings.locator("#choose-field-mapping").click()
    shown(settings, "#mapping-add")
    settings.locator("#mapping-preview").click()
    shown(settings, "#mapping-preview-result")
    settings.locator("#mapping-save").click()
    shown(settings, "#wizard-saved")
    settings.locator("#wizard-next").click()
    shown(settings, "#summary-sync-now")
    settings.locator("#summary-sync-now").click()
    shown(settings, "#sync-progress .ok", has_text="Sync finished.", timeout=SYNC_WAIT)

    # The dashboard tab, and Edit back into the wizard from it.
    page.click("#extension-tab")
    dashboard = page.frame_locator("#dashboard-widget")
    shown(dashboard, "#dashboard #last-sync-result")
    dashboard.locator("#dashboard-edit").click()
    shown(dashboard, "#wizard fieldset#modules")

    # A Contact's page: New Zendesk Ticket in the CRM's popup (our form as a page of its own), saved; the
    # popup closes and the related list reloads with the ticket.
    page.goto(f"{world['crm_url']}/crm/tab/Contacts")
    page.click("table >> tbody >> tr >> nth=0 >> a")
    tickets = page.frame_locator("#tickets-widget")
    shown(tickets, ".related-list h1")
    form, _frame = open_popup(page)
    form.locator("#subject").fill("Question about an invoice")
    form.locator("#description").fill("Which address was it sent to?")
    form.locator("#new-ticket-save").click()
    page.locator("#new-ticket-popup").wait_for(state="hidden", timeout=WAIT)
    shown(tickets, "table.tickets tbody tr", has_text="Question about an invoice")
    _our_frame(page, origin, r"/record/Contacts/").wait_for_load_state()  # the list's page reloaded whole

    # New Zendesk Ticket in place in the related list, saved; the list reloads with it.
    tickets.locator("#new-ticket").click()
    shown(tickets, "#new-ticket-form")
    tickets.locator("#subject").fill("Invoice is missing")
    tickets.locator("#description").fill("The March invoice never arrived.")
    tickets.locator("#new-ticket-save").click()
    row = shown(tickets, "table.tickets tbody tr", has_text="Invoice is missing")

    # The ticket opened in place, a reply, back to the list; the filter.
    row.locator("td.subject a").click()
    shown(tickets, "#ticket-detail #ticket-thread")
    tickets.locator("#ticket-reply textarea").fill("We are sending it again today.")
    tickets.locator("#reply-send").click()
    shown(tickets, "#reply-notice")
    tickets.locator("#back-to-list").click()
    shown(tickets, "table.tickets")
    tickets.locator("#ticket-filter").select_option("all")
    shown(tickets, "#ticket-list[hx-get*='status=all']")

    # The tab shown again: the list reloads at once (static/js/widget.js, without htmx's eval'd filters).
    list_frame = _our_frame(page, origin, r"/record/Contacts/")
    with page.expect_response(lambda response: "/tickets?status=" in response.url):
        list_frame.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")

    assert watch.violations == []
    assert watch.errors == []
    context.close()
