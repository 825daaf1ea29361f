"""Zendesk for Zoho CRM: the extension backend (Flask app factory)."""
import os

from flask import Flask, request
from flask_babel import get_locale

from . import body_limits, headers, numbers
from . import config as config_module
from .connections import allow_http_to_loopback_sandboxes
from .extensions import babel, csrf, db, htmx, migrate
from .no_sessions import NoSessions
from .ops import logs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def select_locale():
    """The widget context's locale when a view set one, else the browser's preference."""
    from flask import g, has_request_context

    if not has_request_context():  # CLI commands (e.g. `flask support retry-uninstalls`)
        return "en"
    return getattr(g, "locale", None) or request.accept_languages.best_match(["en", "ja"]) or "en"


def create_app(overrides=None):
    """Create the extension app. `overrides` (a mapping) wins over the environment, for tests."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("WIDGET_INSTANCE_PATH", os.path.join(ROOT, "instance")),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    body_limits.init_app(app)
    app.config.from_mapping(overrides or {})
    logs.init_app(app)
    os.makedirs(app.instance_path, exist_ok=True)
    allow_http_to_loopback_sandboxes(app.config)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    numbers.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    from .labels import TICKET_PRIORITY_LABELS, TICKET_STATUS_LABELS, TICKET_TYPE_LABELS
    from .notices import shown

    app.jinja_env.globals.update(ticket_status_labels=TICKET_STATUS_LABELS,
                                 ticket_priority_labels=TICKET_PRIORITY_LABELS, shown=shown)
    app.jinja_env.globals["ticket_type_labels"] = TICKET_TYPE_LABELS

    from . import local_copy, models  # noqa: F401  (tables known to Alembic; the local copy's versions kept)
    from .agent.views import bp as agent_bp
    from .cli import register_cli
    from .context import WidgetGlobals, bp as context_bp
    from .dashboard import bp as dashboard_bp
    from .lifecycle import bp as lifecycle_bp
    from .ops.views import bp as ops_bp
    from .record import bp as record_bp
    from .record.kept_answers import KeptListAnswers
    from .settings import bp as settings_bp
    from .webhooks import bp as webhooks_bp

    for blueprint in (ops_bp, lifecycle_bp, context_bp, record_bp, settings_bp, dashboard_bp, webhooks_bp,
                      agent_bp):
        app.register_blueprint(blueprint)
    headers.init_app(app)
    app.app_ctx_globals_class = WidgetGlobals  # g.installation loaded when a view first uses it
    app.session_interface = NoSessions()
    app.wsgi_app = KeptListAnswers(app)  # a list's polls answered from kept renderings before Flask
    register_cli(app)
    return app

