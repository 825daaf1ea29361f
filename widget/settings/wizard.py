"""The sync wizard (F8–F12, F17), step by step, in the settings iframe.

Each step is a server-rendered form: a fragment for htmx requests, a whole page otherwise (so a step
can be reached and sent without JavaScript). A step saves nothing until it validates; an invalid one
comes back with each message next to its field. Step 1, "Sync settings", chooses the mode (Bulk or
Selective), auto sync and the CRM modules; it reopens with the saved choices, and "Edit" (once the
first sync has completed) brings the admin back to it. "Organizations" (Selective only) picks the
Zendesk organizations to sync from two lists; the choice travels in the form until it is saved.
"""
from flask import current_app, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import RadioField, SelectMultipleField, ValidationError, widgets
from wtforms.fields.choices import SelectChoice

from ..clients.http import RetryPolicy, ServiceError
from ..connections import connection, zendesk_client
from ..context import widget_view
from ..extensions import db
from ..numbers import whole_number
from ..sync import queue, runs
from ..sync.engine import sync_settings
from . import drafts
from . import bp
from .forms import WidgetForm
from .sync_views import MODULE_LABELS
from .views import settings_panel

ORGANIZATIONS_SHOWN = 25
# The picker answers an admin who waits: a short try, then a plain message (the sync's own policy is patient).
PICKER_POLICY = RetryPolicy(attempts=2, base_delay=0.2, timeout=5.0)

MODULES = ("Accounts", "Contacts", "Leads")
# Zoho CRM's own names for its modules in each language (the CRM's Japanese UI says 取引先, 連絡先, 見込み客).
MODE_LABELS = {"bulk": _l("Bulk Sync"), "selective": _l("Selective Sync")}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def at_least_one(form, field):
    if not field.data or any(name not in MODULES for name in field.data):
        raise ValidationError(_l("Choose at least one CRM module to sync: Accounts, Contacts or Leads."))


class SyncSettingsForm(WidgetForm):
    """Step 1: the mode (F8), auto sync (F9) and the CRM modules auto sync covers (F10)."""

    # The choices are checked below, in our own words (WTForms' "Not a valid choice" is not ours to translate).
    mode = RadioField(_l("How to sync"), choices=[SelectChoice(value, label) for value, label in MODE_LABELS.items()],
                      validate_choice=False)
    auto_sync = RadioField(_l("Auto Sync"), choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
                           validate_choice=False)
    modules = MultiCheckboxField(_l("CRM modules for auto sync"),
                                 choices=[SelectChoice(name, MODULE_LABELS[name]) for name in MODULES],
                                 validators=[at_least_one], validate_choice=False)

    def validate_mode(self, field):
        if field.data not in MODE_LABELS:
            raise ValidationError(_l("Choose Bulk Sync or Selective Sync."))

    def validate_auto_sync(self, field):
        if field.data not in ("yes", "no"):
            raise ValidationError(_l("Choose whether to sync automatically."))


def interval_in_words(seconds):
    """AUTO_SYNC_INTERVAL as a person says it: "every 5 minutes", "every hour"."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("every hour", "every %(num)d hours", hours)
    minutes = max(1, round(seconds / 60))
    return ngettext("every minute", "every %(num)d minutes", minutes)


def _step(form, saved=False, unsaved=False):
    settings = sync_settings(g.installation)
    if saved and form.mode.data == "selective":
        return _organizations_step(OrganizationsForm(formdata=None), settings.selected_organizations,
                                   note=_l("Your sync settings are saved. Now choose the organizations to sync."))
    template = "settings/wizard/_sync_settings.html" if request.htmx else "settings/wizard/sync_settings.html"
    response = make_response(render_template(
        template, form=form, settings=settings, saved=saved, unsaved=unsaved, context_token=g.context_token,
        interval=interval_in_words(current_app.config["AUTO_SYNC_INTERVAL"])))
    response.vary.add("HX-Request")
    return response


@bp.get("/wizard/sync")
@widget_view(admin=True)
def wizard_sync_settings():
    """Step 1, with what the admin entered and left unsaved, else the saved choices."""
    return sync_settings_step()


def sync_settings_step():
    draft = drafts.restored("sync")
    if draft is not None:
        return _step(SyncSettingsForm(formdata=draft), unsaved=True)
    settings = sync_settings(g.installation)
    form = SyncSettingsForm(formdata=None, mode=settings.mode, auto_sync="yes" if settings.auto_sync else "no",
                            modules=list(settings.modules or []))
    return _step(form)


@bp.post("/wizard/sync")
@widget_view(admin=True)
def save_wizard_sync_settings():
    """Save step 1 when it validates; otherwise show each message next to its field and change nothing.
    Leaving the step (Back to settings, or on to organizations or field mapping) keeps what was entered,
    unsaved, for when the admin returns; Discard forgets it."""
    action = request.form.get("action", "save")
    if action != "save":
        if not WidgetForm().validate_on_submit():  # the form token only: nothing entered is checked yet
            return _step(SyncSettingsForm())
        if action == "discard":
            drafts.forget("sync")
            return sync_settings_step()
        drafts.keep("sync")
        if action == "organizations":
            return organizations_step()
        if action == "mapping":
            from .field_mapping import field_mapping_step  # it imports this module's names

            return field_mapping_step()
        return settings_panel()
    form = SyncSettingsForm()
    if not form.validate_on_submit():
        return _step(form)
    settings = sync_settings(g.installation)
    settings.mode, settings.auto_sync = form.mode.data, form.auto_sync.data == "yes"
    settings.modules = [name for name in MODULES if name in form.modules.data]
    db.session.commit()
    drafts.forget("sync")
    return _step(form, saved=True)


class OrganizationsForm(WidgetForm):
    """Step "Organizations" (F12): no fields of its own beyond the token; the lists travel as plain inputs."""


class OrganizationsPicker:
    """What the organizations step shows: a page of Zendesk's organizations (all, or those whose name
    starts with what the admin typed) and the chosen ones, read live with a short timeout."""

    def __init__(self, selected, query="", after="", history=()):
        self.selected, self.query, self.after, self.history = selected, query.strip(), after, list(history)
        self.shown, self.chosen, self.next_cursor, self.problem = [], [], None, None

    def load(self, installation):
        grant = connection(installation, "zendesk")
        if grant is None or grant.status != "active":
            self.problem = _l("Authorize Zendesk first: the organizations are read from it.")
            self.chosen = [{"id": i, "name": _l("Organization %(id)s", id=i)} for i in self.selected]
            return self
        client = zendesk_client(installation, grant, policy=PICKER_POLICY)
        try:
            if self.query and len(self.query) < 2:
                self.problem = _l("Type at least 2 letters of the name to search.")
            else:
                self.shown, self.next_cursor = client.organizations_page(ORGANIZATIONS_SHOWN, self.after or None,
                                                                         self.query or None)
            by_id = {o["id"]: o for o in client.show_organizations(self.selected)} if self.selected else {}
        except ServiceError as error:
            self.problem = _l("Zendesk did not answer (%(reason)s). Try again in a moment.", reason=error.message)
            by_id = {}
        # Chosen organizations Zendesk no longer has (deleted meanwhile) still show, by id, to be removed.
        self.chosen = [by_id.get(i) or {"id": i, "name": _l("Organization %(id)s (not found in Zendesk)", id=i)}
                       for i in self.selected]
        return self


def _organizations_step(form, selected, query="", after="", history=(), saved=False, note=None, error=None,
                        unsaved=False):
    picker = OrganizationsPicker(selected, query, after, history).load(g.installation)
    template = "settings/wizard/_organizations.html" if request.htmx else "settings/wizard/organizations.html"
    response = make_response(render_template(template, form=form, picker=picker, saved=saved, note=note,
                                             error=error, unsaved=unsaved, context_token=g.context_token))
    response.vary.add("HX-Request")
    return response


def _picker_state(data):
    """(chosen ids, search, page cursor, cursors of the pages before) as the form or a draft has them."""
    selected = list(dict.fromkeys(_ids(data.getlist("selected"))))
    history = [cursor for cursor in data.get("history", "").split(",") if cursor]
    return selected, data.get("q", ""), data.get("after", ""), history


@bp.get("/wizard/organizations")
@widget_view(admin=True)
def wizard_organizations():
    """The organizations step, with the choice the admin left unsaved, else the saved one."""
    return organizations_step()


def organizations_step():
    draft = drafts.restored("organizations")
    if draft is not None:
        return _organizations_step(OrganizationsForm(formdata=None), *_picker_state(draft), unsaved=True)
    return _organizations_step(OrganizationsForm(formdata=None), sync_settings(g.installation).selected_organizations)


@bp.post("/wizard/organizations")
@widget_view(admin=True)
def change_wizard_organizations():
    """One move of the picker (search, page, add, add all shown, remove, remove all) or Save. Only Save
    writes, and only with at least one organization chosen. Back keeps the choice, unsaved, for later."""
    form = OrganizationsForm()
    selected, query, after, history = _picker_state(request.form)
    action, _, value = request.form.get("action", "").partition(":")
    if not form.validate_on_submit():
        return _organizations_step(form, selected, query, after, history)
    if action == "back":
        drafts.keep("organizations")
        return sync_settings_step()
    if action == "discard":
        drafts.forget("organizations")
        return organizations_step()
    if action == "search":
        after, history = "", []
    elif action == "next" and value:
        history, after = history + [after or "-"], value
    elif action == "previous" and history:
        after = history.pop()
        after = "" if after == "-" else after
    elif action == "add":
        selected = _added(selected, _ids([value]))
    elif action == "add_shown":
        selected = _added(selected, _ids(request.form.getlist("shown")))
    elif action == "remove":
        selected = [i for i in selected if i not in _ids([value])]
    elif action == "remove_all":
        selected = []
    elif action == "save":
        if not selected:
            return _organizations_step(form, selected, query, after, history,
                                       error=_l("Choose at least one organization to sync."))
        settings = sync_settings(g.installation)
        added = [i for i in selected if i not in (settings.selected_organizations or [])]
        settings.selected_organizations = selected  # a removed organization stops syncing; nothing is deleted
        db.session.commit()
        drafts.forget("organizations")
        backfill = settings.mode == "selective" and settings.first_sync_done_at is not None and added
        if backfill:  # the first sync is behind them: theirs is caught up now, not at the next change
            run = runs.start_backfill(g.installation, added)
            queue.enqueue(runs.JOBS["backfill"], g.installation.id, run.id)
        return _organizations_step(form, selected, query, after, history, saved=True,
                                   note=_l("The organizations you added are being synced now.") if backfill else None)
    return _organizations_step(form, selected, query, after, history)


def _ids(values):
    """Organization ids from form values; anything else is dropped (the form is the admin's to send)."""
    return [number for number in map(whole_number, values) if number]


def _added(selected, ids):
    return selected + [i for i in dict.fromkeys(ids) if i not in selected]
