"""The sync wizard's first step (F8–F10): a fragment for htmx and a whole page otherwise, the saved choices
shown again, each invalid answer refused next to its field with nothing saved, admins of this org only,
in the admin's language."""
import pytest

from tests.helpers import ADMIN, REP, install
from tests.settings.flows import Admin, soup
from widget.extensions import db
from widget.models import Installation
from widget.sync.engine import sync_settings

STEP = "/settings/wizard/sync"


@pytest.fixture
def admin(client):
    return Admin(client, install(client, scope={"type": "all"}))


def _step(admin, htmx=True):
    headers = {"X-Widget-Context": admin.ctx}
    if htmx:
        headers["HX-Request"] = "true"
    return admin.client.get(STEP, headers=headers)


def _send(admin, fields, token=None, htmx=True):
    token = soup(_step(admin)).select_one("#wizard input[name=csrf_token]")["value"] if token is None else token
    data = {"csrf_token": token, **fields}
    if not htmx:  # a browser without JavaScript: a plain form post, the context in the URL the form names
        return admin.client.post(f"{STEP}?ctx={admin.ctx}", data=data)
    return admin.client.post(STEP, data=data, headers={"X-Widget-Context": admin.ctx, "HX-Request": "true"})


def _saved(admin):
    with admin.client.application.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(org_id=admin.org_id))
        settings = sync_settings(installation)
        return {"mode": settings.mode, "auto_sync": settings.auto_sync, "modules": settings.modules}


DEFAULTS = {"mode": "bulk", "auto_sync": True, "modules": ["Accounts", "Contacts", "Leads"]}


def test_the_step_is_a_fragment_for_htmx_and_a_page_otherwise_with_the_saved_choices(admin):
    fragment, page = _step(admin), _step(admin, htmx=False)
    assert b"<html" not in fragment.data and b"<html" in page.data
    assert "HX-Request" in fragment.headers["Vary"]
    step = soup(page).select_one("#wizard")
    assert step.select_one("input[name=mode][value=bulk]").has_attr("checked")
    assert step.select_one("input[name=auto_sync][value=yes]").has_attr("checked")
    assert [box["value"] for box in step.select("input[name=modules][checked]")] == ["Accounts", "Contacts", "Leads"]
    assert "every 5 minutes" in step.get_text()  # AUTO_SYNC_INTERVAL in words
    assert "matched by email address" in step.select_one("#match-rule").get_text()
    form = step.select_one("form")
    assert form["action"].startswith(f"{STEP}?ctx=")  # reachable and sendable without JavaScript
    for field in ("mode", "auto_sync", "modules"):  # every control has a label
        assert step.select_one(f"fieldset#{field} legend").get_text(strip=True)


@pytest.mark.parametrize("htmx", [True, False])
def test_valid_choices_are_saved_and_shown_again(admin, htmx):
    answer = _send(admin, {"mode": "bulk", "auto_sync": "no", "modules": ["Leads", "Contacts"]}, htmx=htmx)
    assert answer.status_code == 200
    assert soup(answer).select_one("#wizard-saved").get_text() == "Your sync settings are saved."
    assert _saved(admin) == {"mode": "bulk", "auto_sync": False, "modules": ["Contacts", "Leads"]}
    answer = _send(admin, {"mode": "selective", "auto_sync": "no", "modules": ["Leads", "Contacts"]}, htmx=htmx)
    # Selective Sync goes on to the organizations (read from Zendesk, which this installation has not authorized).
    step = soup(answer).select_one("#wizard")
    assert step.select_one("#wizard-note").get_text() == \
        "Your sync settings are saved. Now choose the organizations to sync."
    assert step.select_one("#available-problem").get_text() == \
        "Authorize Zendesk first: the organizations are read from it."
    assert _saved(admin) == {"mode": "selective", "auto_sync": False, "modules": ["Contacts", "Leads"]}
    again = soup(_step(admin)).select_one("#wizard")
    assert again.select_one("input[name=mode][value=selective]").has_attr("checked")
    assert again.select_one("input[name=auto_sync][value=no]").has_attr("checked")
    assert [box["value"] for box in again.select("input[name=modules][checked]")] == ["Contacts", "Leads"]
    assert again.select_one("#choose-organizations").get_text(strip=True) == "Organizations to sync: 0 chosen"


@pytest.mark.parametrize("fields, field, message", [
    ({"mode": "bulk", "auto_sync": "yes"}, "modules",
     "Choose at least one CRM module to sync: Accounts, Contacts or Leads."),
    ({"mode": "bulk", "auto_sync": "yes", "modules": ["Deals"]}, "modules",
     "Choose at least one CRM module to sync: Accounts, Contacts or Leads."),
    ({"auto_sync": "yes", "modules": ["Accounts"]}, "mode", "Choose Bulk Sync or Selective Sync."),
    ({"mode": "everything", "auto_sync": "yes", "modules": ["Accounts"]}, "mode",
     "Choose Bulk Sync or Selective Sync."),
    ({"mode": "bulk", "auto_sync": "maybe", "modules": ["Accounts"]}, "auto_sync",
     "Choose whether to sync automatically."),
])
def test_each_invalid_answer_is_refused_next_to_its_field_and_nothing_is_saved(admin, fields, field, message):
    answer = _send(admin, fields)
    assert answer.status_code == 200  # htmx swaps only 2xx
    step = soup(answer)
    error = step.select_one(f"#{field}-error")
    assert error is not None and error.get_text() == message
    fieldset = step.select_one(f"fieldset#{field}")
    assert fieldset["aria-invalid"] == "true" and fieldset["aria-describedby"] == f"{field}-error"
    assert error.find_parent("fieldset") is fieldset
    assert len(step.select(".error")) == 1  # the other fields are fine
    assert step.select_one("#wizard-saved") is None
    assert _saved(admin) == DEFAULTS


@pytest.mark.parametrize("token", ["", "forged.token.value"])
def test_a_missing_or_forged_form_token_saves_nothing(admin, token):
    answer = _send(admin, {"mode": "selective", "auto_sync": "no", "modules": ["Leads"]}, token=token)
    assert b"This form has expired" in answer.data
    assert _saved(admin) == DEFAULTS


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_this_orgs_admins_may_use_the_wizard(client, method):
    installed = install(client, scope={"type": "all"})
    rep = Admin(client, installed, user=REP)  # in the install scope, not an admin
    answer = client.open(STEP, method=method, headers={"X-Widget-Context": rep.ctx},
                         data={"mode": "selective", "auto_sync": "no", "modules": ["Leads"]})
    assert answer.status_code == 403
    assert client.open(STEP, method=method).status_code == 401  # no context at all
    assert _saved(Admin(client, installed)) == DEFAULTS


def test_leaving_the_step_keeps_what_was_entered_unsaved_until_saved_or_discarded(admin):
    token = soup(_step(admin)).select_one("#wizard input[name=csrf_token]")["value"]
    left = _send(admin, {"mode": "selective", "auto_sync": "no", "modules": ["Leads"], "action": "back"}, token)
    assert soup(left).select_one("#wizard") is None  # back on the settings panel
    assert _saved(admin) == DEFAULTS
    step = soup(_step(admin)).select_one("#wizard")
    assert step.select_one("#wizard-unsaved") is not None
    assert step.select_one("input[name=mode][value=selective]").has_attr("checked")
    assert step.select_one("input[name=auto_sync][value=no]").has_attr("checked")
    assert [box["value"] for box in step.select("input[name=modules][checked]")] == ["Leads"]
    assert soup(_step(admin, htmx=False)).select_one("#wizard-unsaved") is not None  # the plain page too

    other = Admin(admin.client, admin.installed, user=dict(ADMIN, id="admin-2"))  # another admin's own page
    assert soup(_step(other)).select_one("#wizard input[name=mode][value=bulk]").has_attr("checked")

    discarded = soup(_send(admin, {"action": "discard"})).select_one("#wizard")
    assert discarded.select_one("#wizard-unsaved") is None
    assert discarded.select_one("input[name=mode][value=bulk]").has_attr("checked")

    _send(admin, {"mode": "bulk", "auto_sync": "no", "modules": ["Contacts"], "action": "back"})
    saved = soup(_send(admin, {"mode": "bulk", "auto_sync": "no", "modules": ["Contacts"], "action": "save"}))
    assert saved.select_one("#wizard-saved") is not None
    assert soup(_step(admin)).select_one("#wizard-unsaved") is None
    assert _send(admin, {"mode": "selective", "action": "back"}, token="forged").status_code == 200
    assert soup(_step(admin)).select_one("#wizard-unsaved") is None  # a forged token keeps nothing


def test_the_step_speaks_japanese_values_included(client):
    japanese = Admin(client, install(client), user=dict(ADMIN, locale="ja_JP"))
    step = soup(_step(japanese)).select_one("#wizard")
    labels = [label.get_text(strip=True) for label in step.select("fieldset#modules label")]
    assert labels == ["取引先", "連絡先", "見込み客"]
    assert step.select_one("label[for=mode-0]").get_text(strip=True) == "一括同期"
    assert "5 分ごと" in step.get_text()
    refused = soup(_send(japanese, {"mode": "bulk", "auto_sync": "yes"}))
    assert refused.select_one("#modules-error").get_text() == \
        "同期する CRM のタブを 1 つ以上選んでください（取引先、連絡先、見込み客）。"
