"""Settings forms, with a form token that needs no cookie.

Flask-WTF's own CSRF token lives in the Flask session, i.e. a cookie, and our pages run in a
cross-site iframe where third-party cookies may be blocked (docs/architecture.md#widget-context). So these forms carry a
token signed with SECRET_KEY and bound to the verified widget context (installation and CRM user) instead:
a page of another org or another user can't produce it, and it expires. Together with the
`X-Widget-Context` header htmx sends, state-changing requests are CSRF-safe without any cookie.
"""
import re

from flask import current_app, g, request
from flask_babel import lazy_gettext as _  # lazy: labels and messages are built at import time
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS, _Auto
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from wtforms import StringField, ValidationError
from wtforms.csrf.core import CSRF

# seconds; the page itself lives at most 15 minutes per context (docs/architecture.md#widget-context)
FORM_TOKEN_MAX_AGE = 3600


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="settings-form-token")


def _binding():
    return {"installation": g.installation.id, "user": str(g.user["id"])}


class ContextCSRF(CSRF):
    """A WTForms CSRF implementation whose token is bound to the widget context, not to a session."""

    def generate_csrf_token(self, csrf_token_field):
        return _serializer().dumps(_binding())

    def validate_csrf_token(self, form, field):
        try:
            bound = _serializer().loads(field.data or "", max_age=FORM_TOKEN_MAX_AGE)
        except BadSignature:  # forged, missing or expired (SignatureExpired is a BadSignature)
            raise ValidationError(_("This form has expired. Reload the page and try again.")) from None
        if bound != _binding():
            raise ValidationError(_("This form belongs to another page. Reload the page and try again."))


class WidgetForm(FlaskForm):
    """A FlaskForm protected by the context-bound token above."""

    class Meta(FlaskForm.Meta):
        csrf_class = ContextCSRF

        def wrap_formdata(self, form, formdata):
            # Our forms are HTML forms. Flask-WTF would also read a JSON body, and answer a bare 400 page
            # when the body is not JSON; such a post is refused like any other, with the form's message.
            if formdata is _Auto and request.is_json and not (request.form or request.files):
                return MultiDict() if request.method in SUBMIT_METHODS else None
            return super().wrap_formdata(form, formdata)


# F6: what Zendesk allows as a subdomain (a DNS label): letters, digits and hyphens, 1–63 characters,
# not starting or ending with a hyphen.
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ZENDESK_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?([a-z0-9-]+)\.zendesk\.com(?:[/:?#].*)?$", re.IGNORECASE)


def suggested_subdomain(text):
    """The subdomain inside a pasted Zendesk address ("https://acme.zendesk.com/agent" → "acme"), or None."""
    match = ZENDESK_HOST.match(text.strip())
    return match.group(1).lower() if match else None


def check_subdomain(form, field):
    value = (field.data or "").strip()
    if not value:
        raise ValidationError(_("Enter your Zendesk subdomain, for example “acme” for acme.zendesk.com."))
    suggestion = suggested_subdomain(value)
    if suggestion and SUBDOMAIN.match(suggestion):
        raise ValidationError(_("Enter only the subdomain, not the whole address: type “%(subdomain)s”.",
                                 subdomain=suggestion))
    if not SUBDOMAIN.match(value.lower()):
        raise ValidationError(_("A subdomain has 1 to 63 letters, digits or hyphens and does not start or end "
                                 "with a hyphen, for example “acme” for acme.zendesk.com."))


class ZendeskSubdomainForm(WidgetForm):
    """F6: the Zendesk subdomain, saved before the admin is sent to Zendesk's sign-in page."""

    subdomain = StringField(_("Zendesk subdomain"), validators=[check_subdomain],
                            filters=[lambda value: value.strip().lower() if isinstance(value, str) else value])


class SyncNowForm(WidgetForm):
    """F13 "Sync Now": no fields, only the context-bound token."""
