"""Zendesk for Zoho CRM: the extension backend (Flask app factory)."""
import os

from flask import Flask, request

from . import config as config_module
from .extensions import babel, csrf, db, htmx, migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def select_locale():
    """The widget context's locale when a view set one, else the browser's preference."""
    from flask import g

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
    app.config.from_mapping(overrides or {})
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    from . import models  # noqa: F401  (tables must be known to Alembic)
    from .cli import register_cli
    from .ops import bp as ops_bp

    app.register_blueprint(ops_bp)
    register_cli(app)
    return app
