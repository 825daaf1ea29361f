"""The wizard's field mapping step (F11) against the served sandboxes: both sides' fields read live (standard
pairs marked, custom fields of each side), each incompatible pair refused next to itself with nothing saved,
a picklist value map saved through the step and then honoured by a sync (CRM → Zendesk only), the preview
of the first CRM record with unsaved pairs, a Zendesk that does not answer, reps refused, Japanese."""
from bs4 import BeautifulSoup
from werkzeug.datastructures import MultiDict

from tests.helpers import ADMIN, REP
from widget.extensions import db
from widget.models import Cursor, FieldMapping, SyncRun, utcnow
from widget.sandbox.crm.signing import mint_context

STEP = "/settings/wizard/mapping"
PLANS = [("Basic", "free"), ("Business", "team"), ("Corporate", "enterprise")]


class Step:
    """An admin using the step through htmx, as the settings iframe does."""

    def __init__(self, s, user=ADMIN, module="Contacts"):
        installation = s.installation()
        self.client, self.url = s.app.test_client(), f"{STEP}?module={module}"
        self.headers = {"X-Widget-Context": mint_context(installation.context_secret, installation.org_id, user),
                        "HX-Request": "true"}
        self.page = None

    def open(self):
        self.page = self._soup(self.client.get(self.url, headers=self.headers))
        return self.page

    def press(self, action, **chosen):
        """Press `action` with the form as the page has it, `chosen` ({name: value}) changed first."""
        form = self.page.select_one("#wizard form")
        data = [(f["name"], f.get("value", "")) for f in form.select("input[name]")]
        for select in form.select("select[name]"):
            picked = select.select_one("option[selected]") or select.select_one("option")
            data.append((select["name"], picked.get("value", "") if picked else ""))
        data = [(name, chosen.pop(name, value)) for name, value in data] + list(chosen.items())
        self.page = self._soup(self.client.post(self.url, data=MultiDict(data + [("action", action)]),
                                                headers=self.headers))
        return self.page

    def add(self, crm, zendesk, direction="to_zendesk"):
        """Add a pair and choose its fields (then Update shows its values, as the admin would)."""
        self.press("add")
        index = len(self.page.select("#pairs > li")) - 1
        self.press("update", **{f"rows-{index}-crm": crm, f"rows-{index}-zendesk": zendesk,
                                f"rows-{index}-direction": direction})
        return index

    def errors(self, index):
        pair = self.page.select_one(f"#pair-{index}")
        assert pair["aria-invalid"] == "true" and pair["aria-describedby"] == f"pair-{index}-error"
        return [li.get_text() for li in self.page.select(f"#pair-{index}-error li")]

    @staticmethod
    def _soup(response):
        assert response.status_code == 200, response.status_code
        return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _crm_picklist(s, module="Contacts", label="Support Plan", values=tuple(name for name, _ in PLANS)):
    answer = s.crm_api.post(f"{s.crm_api.base}/settings/fields", params={"module": module}, timeout=30,
                            json={"fields": [{"field_label": label, "data_type": "picklist",
                                              "pick_list_values": [{"display_value": v, "actual_value": v}
                                                                   for v in values]}]})
    assert answer.status_code in (200, 201), answer.text
    return label.replace(" ", "_")


def _zendesk_user_field(s, kind, title, key):
    """A custom user field as an admin adds it in Zendesk's Admin Center (the sandbox's own record shape)."""
    account = s.account()
    account.user_fields.append({"id": account.big_id(), "type": kind, "key": key, "title": title, "raw_title": title,
                                "description": "", "position": 10 + len(account.user_fields), "active": True,
                                "required": False, "regexp_for_validation": None, "system": False,
                                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})


def _own_pairs(s, module="Contacts"):
    db.session.expire_all()
    return [(r.crm_field, r.zendesk_field, r.direction, r.value_map) for r in db.session.scalars(
        db.select(FieldMapping).filter_by(installation_id=s.installation_id, module=module, standard=False))]


def test_the_step_lists_standard_pairs_and_both_sides_custom_fields_read_live(synced_installation):
    s = synced_installation
    _crm_picklist(s)
    _zendesk_user_field(s, "integer", "Seats", "seats")
    settings = s.settings()
    settings.modules = ["Contacts", "Accounts"]
    db.session.commit()
    first = Step(s)
    first.url = "/settings/wizard/sync"
    button = first.open().select_one("#choose-field-mapping")  # step 1 leads here (keeping what was entered)
    assert (button["name"], button["value"]) == ("action", "mapping")
    page = Step(s).open()
    assert [b["value"] for b in page.select("#mapping-modules button")] == ["module:Accounts"]  # the other one
    standard = [(li["data-crm"], li["data-zendesk"], li.select_one(".standard").get_text())
                for li in page.select("#pairs > li") if li.select_one(".standard")]
    assert standard == [("Email", "email", "Standard"), ("Full_Name", "name", "Standard"),
                        ("Phone", "phone", "Standard"), ("Account_Name", "organization_id", "Standard")]
    assert page.select_one("#pair-1 .field").get_text() == "Contact Name"  # the CRM's own label, read live

    step = Step(s)
    step.open()
    step.press("add")
    crm = {o["value"]: o.get_text() for o in step.page.select("#pair-4-crm option")}
    zendesk = {o["value"]: o.get_text() for o in step.page.select("#pair-4-zendesk option")}
    assert crm["Support_Plan"] == "Support Plan (custom)" and crm["Title"] == "Title"
    assert "Account_Name" not in crm  # a lookup: only the standard pair holds it
    assert zendesk["user_fields.plan"] == "Plan (custom)" and zendesk["user_fields.seats"] == "Seats (custom)"
    assert zendesk["details"] == "Details"
    assert s.crm_calls.count("GET", "/settings/fields") >= 1 and s.zendesk_calls.count("GET", "/user_fields") >= 1

    accounts = Step(s, module="Accounts").open()  # Accounts pair with Zendesk organizations
    accounts_step = Step(s, module="Accounts")
    accounts_step.page = accounts
    accounts_step.press("add")
    options = [o["value"] for o in accounts_step.page.select("select[name$='-zendesk'] option")]
    assert "organization_fields.tier" in options and "user_fields.plan" not in options


def test_each_incompatible_pair_is_refused_next_to_itself_and_nothing_is_saved(synced_installation):
    s = synced_installation
    _crm_picklist(s, values=["Free", "Team", "Corporate"])
    _crm_picklist(s, label="Edition", values=["Enterprise", "Free"])
    _zendesk_user_field(s, "integer", "Seats", "seats")
    _zendesk_user_field(s, "date", "Renewal date", "renewal")
    step = Step(s)
    step.open()
    number = step.add("Title", "user_fields.seats")
    date = step.add("Department", "user_fields.renewal")
    values = step.add("Support_Plan", "user_fields.plan")
    read_only = step.add("Modified_Time", "user_fields.renewal", "to_crm")
    taken = step.add("Mobile", "phone")
    twice = step.add("Mailing_City", "details")
    again = step.add("Mailing_Country", "details")
    # The values of the same name are matched; "Corporate" has none in Zendesk's Plan.
    assert [o["value"] for o in step.page.select(f"#pair-{values}-values option[selected]")] == ["free", "team"]
    page = step.press("save")

    assert page.select_one("#mapping-error").get_text() == "Nothing was saved: correct the pairs marked below."
    assert step.errors(number) == ["A text field (Title) can't be written into a number field (Seats)."]
    assert step.errors(date) == ["A text field (Department) can't be written into a date field (Renewal date)."]
    assert step.errors(values) == ["The CRM value “Corporate” has no counterpart in Zendesk's Plan."]
    assert step.errors(read_only) == ["The CRM's Modified Time is read-only: it can't be written from Zendesk."]
    assert step.errors(taken) == ["Zendesk's Phone is already the target of another pair."]
    assert step.errors(again) == ["Zendesk's Details is already the target of another pair."]
    assert page.select_one(f"#pair-{twice}").get("aria-invalid") is None
    assert _own_pairs(s) == []
    step.press("update", **{f"rows-{values}-crm": "Edition"})  # another picklist: its own values matched afresh
    assert [o.get_text() for o in step.page.select(f"#pair-{values}-values label")] == ["Enterprise", "Free"]
    assert [o["value"] for o in step.page.select(f"#pair-{values}-values option[selected]")] == ["enterprise", "free"]

    # The direction matters: read-only in the CRM is fine as a source.
    step.press("remove:" + str(again))
    step.press("remove:" + str(taken))
    step.press("update", **{f"rows-{read_only}-direction": "to_zendesk"})
    step.press("remove:" + str(values))
    step.press("remove:" + str(date))
    step.press("remove:" + str(number))
    page = step.press("save")
    assert page.select_one("#wizard-saved") is not None, page.select_one("#wizard").get_text()
    assert sorted(_own_pairs(s)) == [("Mailing_City", "details", "to_zendesk", {}),
                                     ("Modified_Time", "user_fields.renewal", "to_zendesk", {})]


def test_both_ways_needs_every_zendesk_value_to_have_a_crm_counterpart(synced_installation):
    s = synced_installation
    _crm_picklist(s, values=["Free", "Team"])
    step = Step(s)
    step.open()
    index = step.add("Support_Plan", "user_fields.plan", "both")
    step.press("save")
    assert step.errors(index) == ["Zendesk's value “Enterprise” has no counterpart in the CRM's Support Plan."]
    assert _own_pairs(s) == []


def _map_plans(step):
    index = step.add("Support_Plan", "user_fields.plan")
    return index, {f"rows-{index}-to-{n}": value for n, (_, value) in enumerate(PLANS)}


def test_a_saved_picklist_mapping_is_written_to_zendesk_by_the_sync_and_nothing_comes_back(synced_installation):
    s = synced_installation
    field = _crm_picklist(s)
    step = Step(s)
    step.open()
    _, values = _map_plans(step)
    page = step.press("save", **values)
    assert page.select_one("#wizard-saved").get_text() == \
        "The field mapping is saved. Records written from now on follow it."
    assert page.select_one("#wizard-next")["hx-get"] == "/settings/wizard/summary"  # the wizard goes on from here
    assert _own_pairs(s) == [(field, "user_fields.plan", "to_zendesk", dict((n, v) for n, v in PLANS))]

    [crm_id] = s.crm_insert("Contacts", [{"Last_Name": "Tanaka", "First_Name": "Yui", "Email": "yui@example.jp",
                                          field: "Corporate"}])
    s.run("crm_contacts")
    user = s.account().find_user(email="yui@example.jp")
    assert user["user_fields"]["plan"] == "enterprise"

    s.account().update_user(user, {"user_fields": {"plan": "free"}, "phone": "+81 3 1234 5678"})
    s.zendesk.state.clock.advance(61)  # Zendesk's exports leave out the last minute's changes
    s.run("zendesk_users")
    record = s.crm_get("Contacts", crm_id)
    assert record[field] == "Corporate"  # CRM → Zendesk only: Zendesk's change stays there
    assert record["Phone"] == "+81 3 1234 5678"  # while a two-way standard pair did come back


def test_the_preview_shows_the_first_record_with_the_unsaved_pairs(synced_installation):
    s = synced_installation
    field = _crm_picklist(s)
    s.crm_insert("Contacts", [{"Last_Name": "Sato", "First_Name": "Ken", "Email": "ken@example.jp",
                               field: "Business", "Title": "CTO"}])
    step = Step(s)
    step.open()
    _, values = _map_plans(step)
    index = step.add("Title", "details")
    page = step.press("preview", **values)
    preview = page.select_one("#mapping-preview-result")
    assert "Ken Sato" in preview.select_one("h3").get_text()
    assert preview.select_one("dd[data-field='user_fields.plan']").get_text() == "Team"
    assert preview.select_one("dd[data-field='details']").get_text() == "CTO"
    assert preview.select_one("dd[data-field='email']").get_text() == "ken@example.jp"
    assert page.select_one(f"#pair-{index}-crm option[selected]")["value"] == "Title"  # the edits stay on the page
    assert _own_pairs(s) == []


def test_back_and_the_module_tabs_keep_the_unsaved_pairs_until_saved_or_discarded(synced_installation):
    s = synced_installation
    _crm_picklist(s)
    settings = s.settings()
    settings.modules = ["Contacts", "Accounts"]
    db.session.commit()
    step = Step(s)
    step.open()
    index, values = _map_plans(step)
    title = step.add("Title", "details")
    left = step.press("back", **values)  # to step 1
    assert left.select_one("#wizard-steps").get_text() == "Step 1: Sync settings"
    assert _own_pairs(s) == []  # nothing saved

    back = Step(s).open()  # the admin returns: the pairs as they left them, marked unsaved
    assert back.select_one("#wizard-unsaved") is not None
    assert back.select_one(f"#pair-{index}-crm option[selected]")["value"] == "Support_Plan"
    assert back.select_one(f"#pair-{title}-zendesk option[selected]")["value"] == "details"
    assert back.select_one(f"#pair-{index}-to-2 option[selected]")["value"] == PLANS[2][1]  # the values too

    step = Step(s)
    step.open()
    accounts = step.press("module:Accounts")  # another module's tab keeps these too
    assert accounts.select_one("#mapping-modules strong").get_text() == "Accounts"
    step.url = accounts.select_one("#mapping-form")["hx-post"]  # the page now posts as Accounts
    contacts = step.press("module:Contacts")
    step.url = contacts.select_one("#mapping-form")["hx-post"]
    assert contacts.select_one(f"#pair-{index}-crm option[selected]")["value"] == "Support_Plan"
    discarded = step.press("discard")
    assert discarded.select_one("#wizard-unsaved") is None
    assert discarded.select_one(f"#pair-{index}") is None  # only the standard pairs are left
    assert Step(s).open().select_one("#wizard-unsaved") is None

    step = Step(s)
    step.open()
    _, values = _map_plans(step)
    step.press("back", **values)
    step = Step(s)
    step.open()
    saved = step.press("save", **values)  # saving the draft forgets it
    assert saved.select_one("#wizard-saved") is not None and len(_own_pairs(s)) == 1
    assert Step(s).open().select_one("#wizard-unsaved") is None


def test_a_zendesk_that_does_not_answer_gives_a_plain_line_and_saves_nothing(synced_installation):
    s = synced_installation
    step = Step(s)
    step.open()
    step.press("add")
    for _ in range(2):  # both tries of the short policy
        s.zendesk_calls.lose_answer("GET", "/user_fields")
    page = step.press("save", **{"rows-4-crm": "Title", "rows-4-zendesk": "details"})
    assert page.select_one("#mapping-problem").get_text().startswith("Zendesk did not answer (")
    assert page.select_one("#wizard-saved") is None
    assert _own_pairs(s) == []


def test_reps_are_refused(synced_installation):
    s = synced_installation
    s.installation().scope_type = "all"  # reps may use the extension, not change its settings
    db.session.commit()
    rep = Step(s, user=REP)
    refused = "Only a CRM administrator can change these settings."
    answer = rep.client.get(rep.url, headers=rep.headers)
    assert answer.status_code == 403 and refused in answer.get_data(as_text=True)
    answer = rep.client.post(rep.url, headers=rep.headers,
                             data={"count": "5", "rows-4-crm": "Title", "rows-4-zendesk": "details", "action": "save"})
    assert answer.status_code == 403 and refused in answer.get_data(as_text=True)
    assert _own_pairs(s) == []


def test_the_step_speaks_japanese(synced_installation):
    s = synced_installation
    _zendesk_user_field(s, "integer", "Seats", "seats")
    step = Step(s, user=dict(ADMIN, locale="ja_JP"))
    page = step.open()
    assert page.select_one("h2").get_text() == "項目のマッピング：連絡先"
    assert page.select_one("#pair-0 .standard").get_text() == "標準"
    assert page.select_one("#pair-0 .direction").get_text() == "CRM → Zendesk"
    assert page.select_one("#pair-2 .direction").get_text() == "双方向"
    index = step.add("Title", "user_fields.seats")
    step.press("save")
    assert step.errors(index) == ["テキスト項目（Title）の値は数値項目（Seats）に書き込めません。"]
    assert step.page.select_one("#mapping-error").get_text() == "保存していません。印の付いた組み合わせを直してください。"


def test_a_new_mapping_re_applied_rewrites_the_records_synced_before_and_only_those_that_change(synced_installation):
    """F17: after the first sync, Save with "also rewrite the records synced before": the contacts already
    in Zendesk get the newly mapped value, in batches, without moving the installation's own cursors."""
    s = synced_installation
    field = _crm_picklist(s)
    s.crm_insert("Contacts", [{"Last_Name": f"Sato {n}", "Email": f"sato{n}@example.jp", field: "Business"}
                              for n in range(3)])
    s.run("crm_contacts")  # synced before the mapping existed: no plan in Zendesk yet
    assert all(not (s.account().find_user(email=f"sato{n}@example.jp").get("user_fields") or {}).get("plan")
               for n in range(3))
    settings = s.settings()
    settings.first_sync_done_at = utcnow()
    db.session.commit()
    cursors = {c.stream: c.value for c in db.session.scalars(db.select(Cursor))}

    step = Step(s)
    step.open()
    assert step.page.select_one("#mapping-reapply") is not None  # offered once there is something to rewrite
    _, values = _map_plans(step)
    page = step.press("save", reapply="yes", **values)
    assert page.select_one("#wizard-reapplied") is not None
    s.app.extensions["sync_pool"].shutdown(wait=True)

    run = db.session.scalar(db.select(SyncRun).filter_by(kind="reapply"))
    assert run.status == "done", run.message
    assert all(s.account().find_user(email=f"sato{n}@example.jp")["user_fields"]["plan"] == "team" for n in range(3))
    assert run.counts["crm_contacts"]["written"] == 3  # the contacts whose mapped fields changed
    db.session.expire_all()
    assert {c.stream: c.value for c in db.session.scalars(db.select(Cursor))} == cursors
