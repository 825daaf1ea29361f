"""The sync wizard (F8–F12, F17), step by step, in the settings iframe.

Each step is a server-rendered form: a fragment for htmx requests, a whole page otherwise (so a step
can be reached and sent without JavaScript). A step saves nothing until it validates; an invalid one
comes back with each message next to its field. Step 1, "Sync settings", chooses the mode (Bulk or
Selective), auto sync and the CRM modules; it reopens with the saved choices, and "Edit" (once the
first sync has completed) brings the admin back to it.
"""
from flask import current_app, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import RadioField, SelectMultipleField, ValidationError, widgets
from wtforms.fields.choices import SelectChoice

from ..context import widget_view
from ..extensions import db
from ..sync.engine import sync_settings
from .forms import WidgetForm
from .views import bp

MODULES = ("Accounts", "Contacts", "Leads")
# Zoho CRM's own names for its modules in each language (the CRM's Japanese UI says 取引先, 連絡先, 見込み客).
MODULE_LABELS = {"Accounts": _l("Accounts"), "Contacts": _l("Contacts"), "Leads": _l("Leads")}
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


def modules_in_words(modules):
    return ", ".join(str(MODULE_LABELS.get(name, name)) for name in modules)


def _step(form, saved=False):
    settings = sync_settings(g.installation)
    template = "settings/wizard/_sync_settings.html" if request.htmx else "settings/wizard/sync_settings.html"
    response = make_response(render_template(
        template, form=form, settings=settings, saved=saved, context_token=g.context_token,
        interval=interval_in_words(current_app.config["AUTO_SYNC_INTERVAL"])))
    response.vary.add("HX-Request")
    return response


@bp.get("/wizard/sync")
@widget_view(admin=True)
def wizard_sync_settings():
    """Step 1, with the saved choices."""
    settings = sync_settings(g.installation)
    form = SyncSettingsForm(formdata=None, mode=settings.mode, auto_sync="yes" if settings.auto_sync else "no",
                            modules=list(settings.modules or []))
    return _step(form)


@bp.post("/wizard/sync")
@widget_view(admin=True)
def save_wizard_sync_settings():
    """Save step 1 when it validates; otherwise show each message next to its field and change nothing."""
    form = SyncSettingsForm()
    if not form.validate_on_submit():
        return _step(form)
    settings = sync_settings(g.installation)
    settings.mode, settings.auto_sync = form.mode.data, form.auto_sync.data == "yes"
    settings.modules = [name for name in MODULES if name in form.modules.data]
    db.session.commit()
    return _step(form, saved=True)
