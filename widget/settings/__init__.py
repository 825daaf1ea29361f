"""The admin settings panel (F5, F6) and the sync wizard: one blueprint, whose routes its modules add."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("settings", __name__, url_prefix="/settings")
# Flask-WTF's session-based check needs a cookie, which a cross-site iframe may not get
# (docs/architecture.md#widget-context): every settings form carries a token bound to the widget context instead
# (forms.py).
csrf.exempt(bp)

from . import field_mapping, summary, sync_views, views, wizard  # noqa: E402, F401  (their routes join bp)
