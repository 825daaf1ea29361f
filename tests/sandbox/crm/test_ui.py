"""The CRM sandbox's web UI, driven with the Flask test client; the marketplace calls go over real HTTP
to our extension, served on a free loopback port."""
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.helpers import served
from widget import create_app
from widget.extensions import db
from widget.models import Installation
from widget.sandbox.crm import create_sandbox

SECRET = "ui-test-marketplace-secret"
ADMIN, MANAGER, REP, VIEWER = (f"{who}@us.zylker.example" for who in ("admin", "manager", "rep", "viewer"))
PASSWORDS = {ADMIN: "us-admin-pass", MANAGER: "us-rep-pass", REP: "us-rep-pass", VIEWER: "us-viewer-pass",
             "admin@eu.zylker.example": "eu-admin-pass"}


@pytest.fixture
def extension(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ext.db'}",
                      "MARKETPLACE_SECRET": SECRET})
    with app.app_context():
        db.create_all()
    with served(app):
        yield app
    with app.app_context():
        db.engine.dispose()


def crm_sandbox(extension_url, secret=SECRET):
    return create_sandbox(data_centres=("us", "eu"), seed_records=40, extension_url=extension_url,
                          marketplace_secret=secret)


@pytest.fixture
def crm(extension):
    return crm_sandbox(extension.url)


@pytest.fixture
def browser(crm):
    """A test client standing for one person's browser (its own session cookie)."""
    return crm.app.test_client()


def csrf_from(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, email):
    token = csrf_from(client.get("/crm/signin"))
    response = client.post("/crm/signin", data={"email": email, "password": PASSWORDS[email], "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client, path, data, page=None):
    """Submit a form the way a browser does: with the CSRF token of the page showing it."""
    token = csrf_from(client.get(page or path))
    return client.post(path, data=dict(data, csrf_token=token))


def install(client, scope_type="profiles", profiles=("Sales Rep",)):
    steps = "/crm/settings/marketplace/zendesk/install"
    assert post(client, steps, {"step": "terms", "agree": "yes"}).status_code == 200
    return post(client, steps, {"step": "confirm", "scope_type": scope_type, "profiles": list(profiles)})


def installation(extension, org_id=None):
    """The installations' columns as stored, and their context secrets (decrypted in the app's context)."""
    with extension.app_context():
        query = db.select(Installation)
        rows = db.session.scalars(query.filter_by(org_id=org_id) if org_id else query).all()
        return [SimpleNamespace(**{column.key: getattr(row, column.key) for column in Installation.__table__.columns},
                                context_secret=row.context_secret) for row in rows]


def first_contact(crm):
    org = crm.state.data_centres["us"].org()
    return org, next(iter(org.module("Contacts").records.values()))


def text(response):
    return response.get_data(as_text=True)


def iframe_srcs(response):
    return re.findall(r'<iframe[^>]*src="([^"]+)"', text(response).replace("&amp;", "&"))


# ---- sign-in and session ------------------------------------------------------------------------
def test_sign_in_shows_user_profile_org_and_data_centre(browser):
    assert browser.get("/crm/tab/Contacts").status_code == 302  # not signed in → sign-in page
    sign_in(browser, REP)
    header = re.search(r'<div class="whoami".*?</div>', text(browser.get("/crm/tab/Contacts")), re.S).group(0)
    for expected in ("Sara Lee", "Sales Rep", "Zylker Corp", "US"):
        assert expected in header


def test_wrong_password_is_refused(browser):
    token = csrf_from(browser.get("/crm/signin"))
    response = browser.post("/crm/signin", data={"email": ADMIN, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong email or password." in text(response)
    assert browser.get("/crm/tab/Contacts").status_code == 302


def test_forms_need_the_csrf_token(browser, crm):
    sign_in(browser, ADMIN)
    org, contact = first_contact(crm)
    response = browser.post(f"/crm/tab/Contacts/{contact['id']}/edit", data={"Last_Name": "Forged"})
    assert response.status_code == 400
    assert contact["Last_Name"] != "Forged"


# ---- records --------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["Leads", "Contacts", "Accounts", "Deals"])
def test_record_list_and_detail(browser, crm, module):
    sign_in(browser, ADMIN)
    org = crm.state.data_centres["us"].org()
    records = list(org.module(module).records.values())
    listing = browser.get(f"/crm/tab/{module}")
    assert listing.status_code == 200
    newest = records[-1]
    title = newest[org.module(module).meta["display_field"]["api_name"]]
    assert f'/crm/tab/{module}/{newest["id"]}' in text(listing) and title in text(listing)
    detail = browser.get(f"/crm/tab/{module}/{newest['id']}")
    assert detail.status_code == 200 and title in text(detail)
    assert not iframe_srcs(detail)  # not installed yet: no widgets
    assert browser.get(f"/crm/tab/{module}/404404").status_code == 404


def test_edit_goes_through_the_state_and_fires_notifications(browser, crm):
    sign_in(browser, ADMIN)
    org, contact = first_contact(crm)
    events = []
    crm.state.listeners.append(lambda changed_org, event: events.append(event))
    path = f"/crm/tab/Contacts/{contact['id']}/edit"

    response = post(browser, path, {"First_Name": "Hana", "Last_Name": "", "Email": "hana@example.jp"})
    assert response.status_code == 422 and "Last Name is required." in text(response)
    assert events == [] and contact["Email"] != "hana@example.jp"

    response = post(browser, path, {"First_Name": "Hana", "Last_Name": "Kimura", "Email": "hana@example.jp"})
    assert response.status_code == 302
    assert contact["Full_Name"] == "Hana Kimura" and contact["Email"] == "hana@example.jp"
    assert events == [{"type": "records", "module": "Contacts", "operation": "edit", "ids": [contact["id"]],
                       "fields": {contact["id"]: ["First_Name", "Last_Name", "Email"]}}]
    assert "Hana Kimura" in text(browser.get(response.location))


def test_create_and_delete_a_lead(browser, crm):
    sign_in(browser, ADMIN)
    leads = crm.state.data_centres["us"].org().module("Leads")
    events = []
    crm.state.listeners.append(lambda changed_org, event: events.append(event))
    response = post(browser, "/crm/tab/Leads/create", {"Last_Name": "Okada", "Company": "Okada Shoten",
                                                        "Email": "okada@shoten.example"})
    assert response.status_code == 302
    new_id = response.location.rsplit("/", 1)[-1]
    assert leads.records[new_id]["Company"] == "Okada Shoten"
    response = post(browser, f"/crm/tab/Leads/{new_id}/delete", {}, page=f"/crm/tab/Leads/{new_id}")
    assert response.status_code == 302 and new_id not in leads.records
    assert [(e["operation"], e["ids"]) for e in events] == [("create", [new_id]), ("delete", [new_id])]


def test_read_only_profile_cannot_write(browser, crm):
    sign_in(browser, VIEWER)
    org, contact = first_contact(crm)
    assert "/edit" not in text(browser.get(f"/crm/tab/Contacts/{contact['id']}"))
    response = post(browser, f"/crm/tab/Contacts/{contact['id']}/edit", {"Last_Name": "Nope"},
                    page=f"/crm/tab/Contacts/{contact['id']}")
    assert response.status_code == 403 and contact["Last_Name"] != "Nope"


def test_custom_module_tabs_appear_once_created(browser, crm):
    sign_in(browser, ADMIN)
    org, contact = first_contact(crm)
    assert "Zendesk Tickets" not in text(browser.get("/crm/tab/Contacts"))
    module = org.create_custom_module(
        "Zendesk Ticket", "Zendesk Tickets", api_name="Zendesk_Tickets",
        fields=[{"field_label": "Contact", "api_name": "Contact", "data_type": "lookup",
                 "lookup": {"module": {"api_name": "Contacts"}}}])
    [ticket] = org.insert_records(module, [{"Name": "#101 Printer on fire", "Contact": contact["id"]}],
                                  org.admin())
    assert 'href="/crm/tab/Zendesk_Tickets"' in text(browser.get("/crm/tab/Contacts"))
    assert "#101 Printer on fire" in text(browser.get("/crm/tab/Zendesk_Tickets"))
    assert "#101 Printer on fire" in text(browser.get(f"/crm/tab/Zendesk_Tickets/{ticket['id']}"))
    # The CRM's own related list on the Contact, from the lookup.
    assert f'/crm/tab/Zendesk_Tickets/{ticket["id"]}' in text(browser.get(f"/crm/tab/Contacts/{contact['id']}"))


# ---- marketplace ------------------------------------------------------------------------------------
def test_install_for_chosen_profiles_then_widgets_follow_the_scope(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    marketplace = text(admin.get("/crm/settings/marketplace"))
    assert "Zendesk for Zoho CRM" in marketplace and "/crm/settings/marketplace/zendesk/install" in marketplace
    scope_page = post(admin, "/crm/settings/marketplace/zendesk/install", {"step": "terms", "agree": "yes"})
    for profile in ("Standard", "Sales Rep", "Read Only"):
        assert f'value="{profile}"' in text(scope_page)

    response = install(admin, "profiles", ["Sales Rep"])
    assert response.status_code == 302
    org, contact = first_contact(crm)
    [row] = installation(extension, org.id)
    assert (row.scope_type, row.scope_profiles, row.data_center) == ("profiles", ["Sales Rep"], "us")
    assert "Authorize now" in text(admin.get(response.location))

    def widget_urls(email):
        client = sign_in(crm.app.test_client(), email)
        return iframe_srcs(client.get(f"/crm/tab/Contacts/{contact['id']}"))

    [tickets] = widget_urls(REP)
    assert tickets.startswith(f"{extension.url}/record/Contacts/{contact['id']}/tickets?ctx=")
    claims = jwt.decode(parse_qs(urlsplit(tickets).query)["ctx"][0], row.context_secret, algorithms=["HS256"],
                        issuer=org.id)
    assert claims["user"]["profile"] == "Sales Rep" and claims["entity_id"] == contact["id"]
    assert claims["user"]["time_zone"] == "America/Los_Angeles"  # the CRM user's own zone: our pages show times in it
    page = requests.get(tickets, timeout=10)
    assert page.status_code == 200 and "Zendesk Tickets" in page.text

    rep = sign_in(crm.app.test_client(), REP)
    new_ticket = rep.get(f"/crm/tab/Contacts/{contact['id']}?action=new_ticket")
    assert f"{extension.url}/record/Contacts/{contact['id']}/tickets/new?ctx=" in "".join(iframe_srcs(new_ticket))
    assert widget_urls(MANAGER) == []  # Standard profile: outside the scope
    assert "New Zendesk Ticket" not in text(sign_in(crm.app.test_client(), MANAGER).get(
        f"/crm/tab/Contacts/{contact['id']}"))
    assert len(widget_urls(ADMIN)) == 1  # administrators always


def test_the_new_ticket_popup_gets_fresh_widget_urls_and_listens_only_to_the_extension(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    install(admin, "profiles", ["Sales Rep"])
    org, contact = first_contact(crm)
    [row] = installation(extension, org.id)
    rep = sign_in(crm.app.test_client(), REP)
    page = text(rep.get(f"/crm/tab/Contacts/{contact['id']}"))
    # The popup: a modal dialog holding the form's iframe, filled in when the button opens it (static/record.js).
    assert re.search(r'<dialog class="popup" id="new-ticket-popup"[^>]*aria-labelledby="new-ticket-popup-title"', page)
    assert f'data-extension-origin="{extension.url}"' in page and "/crm/ui-static/record.js" in page
    assert 'id="new-zendesk-ticket" aria-haspopup="dialog"' in page
    assert re.search(r'<dialog[^>]*id="new-ticket-popup"[^>]*\bopen\b', page) is None
    widgets = rep.get(f"/crm/tab/Contacts/{contact['id']}/widgets")
    assert widgets.status_code == 200 and widgets.headers["Cache-Control"] == "no-store"
    urls = widgets.get_json()
    assert urls["new_ticket"].startswith(f"{extension.url}/record/Contacts/{contact['id']}/tickets/new?ctx=")
    claims = jwt.decode(parse_qs(urlsplit(urls["new_ticket"]).query)["ctx"][0], row.context_secret,
                        algorithms=["HS256"], issuer=org.id)
    assert (claims["entity"], claims["entity_id"], claims["user"]["profile"]) == (
        "Contacts", contact["id"], "Sales Rep")
    assert urls["tickets"].startswith(f"{extension.url}/record/Contacts/{contact['id']}/tickets?ctx=")
    with rep.get("/crm/ui-static/record.js") as script:
        assert "ZOHO.CRM.UI.Popup.closeReload" in text(script)
    # Outside the install scope there is no widget, and no widget URL either.
    manager = sign_in(crm.app.test_client(), MANAGER)
    assert manager.get(f"/crm/tab/Contacts/{contact['id']}/widgets").status_code == 404


def test_authorize_opens_the_extension_settings_iframe(browser, crm, extension):
    sign_in(browser, ADMIN)
    install(browser, "admins", [])
    [src] = iframe_srcs(browser.get("/crm/settings/marketplace/zendesk/settings"))
    assert src.startswith(f"{extension.url}/settings?ctx=")
    org = crm.state.data_centres["us"].org()
    [row] = installation(extension, org.id)
    claims = jwt.decode(src.split("ctx=")[1], row.context_secret, algorithms=["HS256"], issuer=org.id)
    assert claims["entity"] is None and claims["user"]["is_admin"] is True


def test_install_in_an_unsupported_data_centre_shows_the_message(browser, crm, extension):
    sign_in(browser, "admin@eu.zylker.example")
    response = install(browser, "all")
    assert response.status_code == 422
    error = re.search(r'id="install-error">([^<]*)<', text(response)).group(1)
    assert "available only for Zoho CRM accounts in the JP, US, IN, AU, CA and SA data centres" in error
    assert "this account is in EU" in error
    assert installation(extension) == [] and crm.app.extensions["crm_ui"].installs == {}


def test_a_rep_sees_no_install_button_and_the_backend_refusal_if_posting(browser, extension):
    sign_in(browser, REP)
    page = text(browser.get("/crm/settings/marketplace"))
    assert "/crm/settings/marketplace/zendesk/install" not in page
    assert "Only administrators can install extensions." in page
    response = install(browser, "all")
    assert response.status_code == 422
    assert "Only a Zoho CRM administrator can install Zendesk for Zoho CRM." in text(response)
    assert installation(extension) == []


def test_a_wrong_marketplace_secret_is_shown_not_swallowed(extension):
    crm = crm_sandbox(extension.url, secret="not-the-secret")
    response = install(sign_in(crm.app.test_client(), ADMIN), "all")
    assert response.status_code == 422
    assert "not signed by the marketplace" in text(response)
    assert installation(extension) == []


def test_change_permissions(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    install(admin, "profiles", ["Sales Rep"])
    org, contact = first_contact(crm)
    manager = sign_in(crm.app.test_client(), MANAGER)
    assert not iframe_srcs(manager.get(f"/crm/tab/Contacts/{contact['id']}"))

    path = "/crm/settings/marketplace/zendesk/permissions"
    assert 'value="Sales Rep" checked' in text(admin.get(path))
    response = post(admin, path, {"scope_type": "profiles", "profiles": []})
    assert response.status_code == 422 and "Choose at least one profile" in text(response)
    response = post(admin, path, {"scope_type": "profiles", "profiles": ["Sales Rep", "Standard"]})
    assert response.status_code == 302
    [row] = installation(extension, org.id)
    assert row.scope_profiles == ["Sales Rep", "Standard"]
    assert "Profiles: Sales Rep, Standard" in text(admin.get("/crm/settings/marketplace/installed"))
    assert len(iframe_srcs(manager.get(f"/crm/tab/Contacts/{contact['id']}"))) == 1

    response = post(manager, path, {"scope_type": "all"})  # a non-admin reaching the form anyway
    assert response.status_code == 422
    assert "Only a Zoho CRM administrator can change the permissions of" in text(response)


def test_uninstall_confirm_says_what_goes_then_ok_uninstalls(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    install(admin, "all")
    installed = text(admin.get("/crm/settings/marketplace/installed"))
    assert "/crm/settings/marketplace/zendesk/uninstall" in installed
    dialog = re.sub(r"\s+", " ", text(admin.get("/crm/settings/marketplace/zendesk/uninstall")))
    for words in ('"Zendesk Tickets"', '"Zendesk Ticket Comments"', "ticket and comment data synced",
                  "Zendesk webhook", "both authorizations", "Tickets in Zendesk stay as they are"):
        assert words in dialog
    assert installation(extension)  # nothing happens before OK

    response = post(admin, "/crm/settings/marketplace/zendesk/uninstall", {})
    assert response.status_code == 302
    assert installation(extension) == []
    org, contact = first_contact(crm)
    assert not iframe_srcs(admin.get(f"/crm/tab/Contacts/{contact['id']}"))
    assert "/crm/settings/marketplace/zendesk/install" in text(admin.get("/crm/settings/marketplace"))


def test_the_extensions_web_tab_embeds_its_dashboard_for_the_install_scope(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    assert "extension-tab" not in text(admin.get("/crm/tab/Contacts"))  # not installed yet
    install(admin, "profiles", ["Sales Rep"])
    org = crm.state.data_centres["us"].org()
    [row] = installation(extension, org.id)
    assert 'id="extension-tab"' in text(admin.get("/crm/tab/Contacts"))
    [src] = iframe_srcs(admin.get("/crm/extension/zendesk"))
    assert src.startswith(f"{extension.url}/dashboard?ctx=")
    claims = jwt.decode(parse_qs(urlsplit(src).query)["ctx"][0], row.context_secret, algorithms=["HS256"],
                        issuer=org.id)
    assert claims["entity"] is None
    page = requests.get(src, timeout=10)
    assert page.status_code == 200 and 'id="dashboard"' in page.text

    rep = sign_in(crm.app.test_client(), REP)  # in the scope
    assert len(iframe_srcs(rep.get("/crm/extension/zendesk"))) == 1
    manager = sign_in(crm.app.test_client(), MANAGER)  # outside it: no tab
    assert "extension-tab" not in text(manager.get("/crm/tab/Contacts"))
    assert manager.get("/crm/extension/zendesk").status_code == 302


def test_installing_again_after_the_marketplace_lost_its_copy_gets_a_new_working_secret(crm, extension):
    admin = sign_in(crm.app.test_client(), ADMIN)
    install(admin, "all")
    [old_src] = iframe_srcs(admin.get("/crm/settings/marketplace/zendesk/settings"))
    assert requests.get(old_src, timeout=10).status_code == 200

    restarted = crm_sandbox(extension.url)  # the same orgs, but no memory of the installation
    assert restarted.state.data_centres["us"].org().id == crm.state.data_centres["us"].org().id
    admin = sign_in(restarted.app.test_client(), ADMIN)
    assert install(admin, "all").status_code == 302  # the extension answers the same installation, new secret
    [src] = iframe_srcs(admin.get("/crm/settings/marketplace/zendesk/settings"))
    assert requests.get(src, timeout=10).status_code == 200
    assert requests.get(old_src, timeout=10).status_code == 401  # the old secret signs nothing any more
    assert len(installation(extension)) == 1
