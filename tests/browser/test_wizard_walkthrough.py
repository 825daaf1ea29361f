"""The admin's whole wizard in a real browser (Debian's chromium via Playwright), in Japanese and in English:
Selective Sync of two organizations (F12), a custom picklist pair with its values (F11), the summary and
Sync Now to the end (F13, F14), the dashboard (F15) and Edit back into the saved wizard, with a screenshot
of each step in docs/screenshots/wizard-<step>-<lang>.png."""
import pytest

from tests.browser.conftest import chromium, install_from_marketplace, shoot, sign_in  # noqa: F401  (fixture)
from tests.browser.test_help_page_walkthrough import _authorize_in_popup, _world

pytestmark = pytest.mark.browser

WAIT = 30_000  # generous: a loaded 2-core CI machine
SYNC_WAIT = 120_000
PLANS = ("Basic", "Business", "Corporate")

# What each run signs in with, and the texts it expects to see (the .po's own translations).
LANGUAGES = {
    "jp": {"email": "admin@jp.zylker.example", "password": "jp-admin-pass", "locale": "ja-JP", "shot": "ja",
           "sync_settings": "同期設定", "organizations": "同期する組織", "contacts": "連絡先",
           "field_mapping": "項目のマッピング：連絡先", "summary": "概要と今すぐ同期",
           "finished": "同期が完了しました。",
           "last_sync": "最後の同期"},
    "us": {"email": "admin@us.zylker.example", "password": "us-admin-pass", "locale": "en-US", "shot": "en",
           "sync_settings": "Sync settings", "organizations": "Organizations to sync", "contacts": "Contacts",
           "field_mapping": "Field mapping: Contacts", "summary": "Summary and Sync Now",
           "finished": "Sync finished.", "last_sync": "Last sync"},
}


@pytest.fixture(params=sorted(LANGUAGES))
def lang_world(request, tmp_path):
    """The walkthrough's world with the CRM org in the run's data centre."""
    for world in _world(tmp_path, request.param):
        yield request.param, world


def _crm_picklist(crm, dc):
    """A Contacts picklist as an admin adds it in the CRM's layout editor (the sandbox's own state)."""
    org = crm.org(dc)
    org.create_field(org.module("Contacts"), {"field_label": "Support Plan", "data_type": "picklist",
                                              "pick_list_values": [{"display_value": v, "actual_value": v}
                                                                   for v in PLANS]})


def _zendesk_dropdown(account):
    """A dropdown user field as an admin adds it in Zendesk's Admin Center (the sandbox's own record shape)."""
    account.user_fields.append({
        "id": account.big_id(), "type": "dropdown", "key": "support_tier", "title": "Support tier",
        "raw_title": "Support tier", "description": "", "position": 10 + len(account.user_fields), "active": True,
        "required": False, "regexp_for_validation": None, "system": False,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "custom_field_options": [{"id": account.big_id(), "name": v, "raw_name": v, "value": v.lower()}
                                 for v in PLANS]})


def _organizations(account):
    """Three organizations whose names start alike, each with end-users and tickets, made an hour ago:
    Zendesk's incremental exports leave out the last minute's changes. Returns {name: tickets}."""
    an_hour_ago, tickets = account.now() - 3600, {}
    for index, (name, count) in enumerate((("Hinode Trading", 2), ("Hinode Foods", 3), ("Hinode Mills", 1))):
        org = account.create_organization({"name": name, "domain_names": [f"hinode{index}.example.com"]},
                                          ts=an_hour_ago, notify=False)
        person = account.create_user({"name": f"Customer {index}", "email": f"customer@hinode{index}.example.com",
                                      "organization_id": org["id"], "verified": True}, ts=an_hour_ago, notify=False)
        for n in range(count):
            account.create_ticket({"subject": f"{name} question {n + 1}", "requester_id": person["id"]},
                                  {"body": "Could you help?", "public": True}, person["id"],
                                  ts=an_hour_ago + n, notify=False)
        tickets[name] = count
    return tickets


def _fits(page, iframe):
    """Every screen fits an iframe about 900 px wide without scrolling sideways."""
    frame = page.locator(iframe).element_handle().content_frame()
    scroll, width = frame.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert 860 <= width <= 920, width  # the iframe is the size in question
    assert scroll <= width, f"{frame.url}: {scroll} px of content in {width} px"


def _authorize_both(context, page, world):
    page.click("#installed-extensions >> text=Settings")
    settings = page.frame_locator("#settings-widget")
    _authorize_in_popup(context, lambda: settings.locator("#connect-crm").click(),
                        lambda popup: popup.click("button:has-text('Accept')"))
    settings.locator("#crm-connection .ok").wait_for(timeout=WAIT)
    settings.locator("#subdomain").fill(world["zendesk_admin"]["subdomain"])

    def sign_in_to_zendesk(popup):
        popup.fill("input[name=email]", world["zendesk_admin"]["admin_email"])
        popup.fill("input[name=password]", world["zendesk_admin"]["admin_password"])
        popup.click("button:has-text('Sign in')")
        popup.click("button:has-text('Allow')")

    _authorize_in_popup(context, lambda: settings.locator("#zendesk-form button[type=submit]").click(),
                        sign_in_to_zendesk)
    settings.locator("#sync-settings").wait_for(timeout=WAIT)
    settings.locator("#zendesk-connection:not([aria-busy])").wait_for(timeout=WAIT)
    return settings


def test_the_admins_whole_wizard_with_a_screenshot_of_each_step(chromium, lang_world):  # noqa: F811
    lang, world = lang_world
    texts, shot = LANGUAGES[lang], LANGUAGES[lang]["shot"]
    # 1120 px leaves the extension's iframe about 900 px wide beside the CRM's navigation.
    context = chromium.new_context(locale=texts["locale"], viewport={"width": 1120, "height": 720})
    page = sign_in(context, world["crm_url"], texts["email"], texts["password"])
    install_from_marketplace(page, "admins")
    page.get_by_role("link", name="Later", exact=True).click()
    settings = _authorize_both(context, page, world)

    # What the wizard reads live: a picklist on each side with the same values, and organizations.
    account = world["zendesk"].account()
    _crm_picklist(world["crm"], lang)
    _zendesk_dropdown(account)
    tickets = _organizations(account)

    # Step 1: Selective Sync; Saving it leads straight on to its organizations.
    settings.locator("#sync-edit").click()
    settings.locator("#wizard fieldset#modules").wait_for(timeout=WAIT)
    assert settings.locator("#wizard h2").inner_text() == texts["sync_settings"]
    settings.locator("input[name=mode][value=selective]").check()
    _fits(page, "#settings-widget")
    shoot(page, f"wizard-1-sync-settings-{shot}")
    settings.locator("#wizard-save").click()

    # Organizations: search by the start of the name, add two, Save.
    settings.locator("#wizard-note").wait_for(timeout=WAIT)
    assert settings.locator("#wizard h2").inner_text() == texts["organizations"]
    settings.locator("#organization-search").fill("Hinode")
    settings.locator("#organization-search-button").click()
    available = settings.locator("#available-organizations li")
    available.filter(has_text="Hinode Mills").wait_for(timeout=WAIT)
    chosen = ("Hinode Trading", "Hinode Foods")
    for count, name in enumerate(chosen, start=1):
        available.filter(has_text=name).locator("button").click()
        settings.locator("#chosen-count", has_text=f"({count})").wait_for(timeout=WAIT)
    settings.locator("#organizations-save").click()
    settings.locator("#wizard-saved").wait_for(timeout=WAIT)
    assert sorted(settings.locator("#chosen-organizations li span").all_inner_texts()) == sorted(chosen)
    _fits(page, "#settings-widget")
    shoot(page, f"wizard-2-organizations-{shot}")

    # Back to step 1, then Field mapping of Contacts: the CRM picklist → the Zendesk dropdown, values mapped.
    settings.locator("#wizard-back").click()
    settings.locator("#choose-field-mapping").click()
    settings.locator("#mapping-add").wait_for(timeout=WAIT)
    if texts["field_mapping"] != settings.locator("#wizard h2").inner_text():
        settings.locator("#mapping-modules button", has_text=texts["contacts"]).click()
        settings.locator("#wizard h2", has_text=texts["field_mapping"]).wait_for(timeout=WAIT)
    pairs = settings.locator("#pairs > li")
    before = pairs.count()
    settings.locator("#mapping-add").click()
    settings.locator(f"#pair-{before}-crm").wait_for(timeout=WAIT)
    settings.locator(f"#pair-{before}-crm").select_option("Support_Plan")
    settings.locator(f"#pair-{before}-zendesk").select_option("user_fields.support_tier")
    settings.locator(f"#pair-{before}-direction").select_option("to_zendesk")
    settings.locator("#mapping-update").click()
    settings.locator(f"#pair-{before}-values").wait_for(timeout=WAIT)
    for index, plan in enumerate(PLANS):
        settings.locator(f"#pair-{before}-to-{index}").select_option(plan.lower())
    settings.locator("#mapping-save").click()
    settings.locator("#wizard-saved").wait_for(timeout=WAIT)
    assert settings.locator(f"#pair-{before}-crm").input_value() == "Support_Plan"
    assert settings.locator(f"#pair-{before}-to-2").input_value() == "corporate"
    _fits(page, "#settings-widget")
    shoot(page, f"wizard-3-field-mapping-{shot}")

    # "Next: summary": the dry run's numbers and Sync Now.
    settings.locator("#wizard-next").click()
    settings.locator("#summary-sync-now").wait_for(timeout=WAIT)
    assert settings.locator("#wizard h2").inner_text() == texts["summary"]
    _fits(page, "#settings-widget")
    shoot(page, f"wizard-4-summary-{shot}")

    settings.locator("#summary-sync-now").click()
    settings.locator("#sync-progress .ok", has_text=texts["finished"]).wait_for(timeout=SYNC_WAIT)
    _fits(page, "#settings-widget")
    shoot(page, f"wizard-5-progress-{shot}")

    # The dashboard counts the tickets of the two chosen organizations, and no others.
    page.click("#extension-tab")
    dashboard = page.frame_locator("#dashboard-widget")
    dashboard.locator("#dashboard #last-sync-result").wait_for(timeout=WAIT)
    assert dashboard.locator("#last-sync h2").inner_text() == texts["last_sync"]
    synced = int(dashboard.locator("#synced tr[data-row=tickets] td").last.inner_text())
    assert synced == sum(tickets[name] for name in chosen) == 5
    _fits(page, "#dashboard-widget")
    page.set_viewport_size({"width": 1120, "height": 1500})  # the whole dashboard in its tab
    shoot(page, f"wizard-6-dashboard-{shot}")
    page.set_viewport_size({"width": 1120, "height": 720})

    # Edit leads back into the wizard with the saved choices.
    dashboard.locator("#dashboard-edit").click()
    dashboard.locator("#wizard fieldset#modules").wait_for(timeout=WAIT)
    assert dashboard.locator("#wizard h2").inner_text() == texts["sync_settings"]
    assert dashboard.locator("input[name=mode][value=selective]").is_checked()
    assert dashboard.locator("#choose-organizations").inner_text().endswith(
        "2 件選択済み" if lang == "jp" else "2 chosen")
    _fits(page, "#dashboard-widget")
    shoot(page, f"wizard-7-edit-{shot}")
    context.close()
