"""Production is the mode unless development is said: every secret from the environment, none of them a
public development default or too short, and the public URL configured (widget/config.py)."""
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.helpers import ADMIN, install
from tests.settings.flows import Admin, query
from widget import config, create_app
from widget.extensions import db
from widget.settings.authorize import zendesk_webhook_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "k" * 40
MARKETPLACE_SECRET = "m" * 40
TOKEN_ENCRYPTION_KEY = Fernet.generate_key().decode()
METRICS_TOKEN = "t" * 40


def production(**changes):
    env = {"WIDGET_ENV": "production", "SECRET_KEY": SECRET_KEY, "MARKETPLACE_SECRET": MARKETPLACE_SECRET,
           "TOKEN_ENCRYPTION_KEY": TOKEN_ENCRYPTION_KEY, "EXTENSION_URL": "https://zendesk-crm.example.com",
           "METRICS_TOKEN": METRICS_TOKEN}
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


def refusal(env):
    with pytest.raises(config.ConfigError) as refused:
        config.from_environment("/tmp", env)
    return str(refused.value)


def test_a_complete_production_environment_starts():
    settings = config.from_environment("/tmp", production(DATABASE_URL="postgresql://db/x"))
    assert settings["WIDGET_ENV"] == "production"
    assert (settings["SECRET_KEY"], settings["MARKETPLACE_SECRET"]) == (SECRET_KEY, MARKETPLACE_SECRET)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql://db/x"
    assert settings["EXTENSION_URL"] == "https://zendesk-crm.example.com"
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_without_widget_env_it_is_production_and_refuses_the_development_defaults():
    message = refusal({})
    for name in ("SECRET_KEY", "MARKETPLACE_SECRET", "TOKEN_ENCRYPTION_KEY", "EXTENSION_URL", "METRICS_TOKEN"):
        assert name in message
    assert "WIDGET_ENV=development" in message  # how to run with the defaults on purpose


@pytest.mark.parametrize("mode", ["Production", "prod", "PRODUCTION", "dev", "staging", ""])
def test_an_unknown_mode_refuses_to_start(mode):
    message = refusal(production(WIDGET_ENV=mode))
    assert "WIDGET_ENV" in message and "production" in message and "development" in message


def test_development_must_be_said_for_the_defaults():
    settings = config.from_environment("/tmp/inst", {"WIDGET_ENV": "development"})
    assert settings["WIDGET_ENV"] == "development"
    assert settings["SECRET_KEY"] == config.DEV_SECRET_KEY
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/inst/widget.db"


@pytest.mark.parametrize("name,default", [("SECRET_KEY", config.DEV_SECRET_KEY),
                                          ("MARKETPLACE_SECRET", config.DEV_MARKETPLACE_SECRET),
                                          ("TOKEN_ENCRYPTION_KEY", config.DEV_TOKEN_ENCRYPTION_KEY),
                                          ("METRICS_TOKEN", config.DEV_SECRET_KEY)])
def test_a_development_default_is_refused_by_name_never_shown(name, default):
    message = refusal(production(**{name: default}))
    assert name in message and "development default" in message
    assert default not in message


@pytest.mark.parametrize("name", ["SECRET_KEY", "MARKETPLACE_SECRET", "METRICS_TOKEN"])
def test_a_short_secret_is_refused_by_name_never_shown(name):
    message = refusal(production(**{name: "short-secret-1234"}))
    assert name in message and "at least 32 characters" in message
    assert "short-secret-1234" not in message


def test_an_encryption_key_that_is_not_a_fernet_key_is_refused():
    message = refusal(production(TOKEN_ENCRYPTION_KEY="x" * 44))
    assert "TOKEN_ENCRYPTION_KEY" in message and "Fernet" in message and "x" * 44 not in message


@pytest.mark.parametrize("url", [None, "", "http://zendesk-crm.example.com", "zendesk-crm.example.com", "https://"])
def test_production_needs_the_public_https_url(url):
    message = refusal(production(EXTENSION_URL=url))
    assert "EXTENSION_URL" in message


def test_the_app_refuses_to_start_from_the_command_line_and_says_why():
    env = {name: value for name, value in os.environ.items() if name not in ("WIDGET_ENV", "SECRET_KEY")}
    env.update(MARKETPLACE_SECRET=config.DEV_MARKETPLACE_SECRET)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "current"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr and "MARKETPLACE_SECRET" in done.stderr
    assert config.DEV_MARKETPLACE_SECRET not in done.stderr + done.stdout


@pytest.fixture
def production_app(tmp_path, monkeypatch):
    for name, value in production().items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
                      "CRM_CLIENT_ID": "client"})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_production_builds_callback_and_webhook_urls_from_extension_url_never_the_host(production_app):
    client = production_app.test_client()
    admin = Admin(client, install(client), user=ADMIN)
    consent = client.get("/settings/crm/connect", query_string={"ctx": admin.ctx},
                         headers={"Host": "attacker.example"})
    assert consent.status_code == 303
    assert query(consent.headers["Location"])["redirect_uri"] == \
        "https://zendesk-crm.example.com/settings/crm/callback"
    with production_app.test_request_context("/", headers={"Host": "attacker.example"}):
        from widget.models import Installation

        installation = db.session.scalar(db.select(Installation))
        assert zendesk_webhook_url(installation).startswith("https://zendesk-crm.example.com/webhooks/zendesk/")


def test_production_never_falls_back_to_the_host_even_when_the_url_is_blanked(production_app):
    production_app.config["EXTENSION_URL"] = ""
    from widget.urls import external_root

    with production_app.test_request_context("/", headers={"Host": "attacker.example"}):
        with pytest.raises(RuntimeError):
            external_root()


def test_development_takes_the_request_root_when_no_url_is_configured(app):
    from widget.urls import external_root

    with app.test_request_context("/", base_url="http://127.0.0.1:5000"):
        assert external_root() == "http://127.0.0.1:5000"


def test_metrics_are_never_open_in_production(production_app):
    client = production_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    production_app.config["METRICS_TOKEN"] = ""  # however it got blanked: not open
    assert client.get("/metrics").status_code == 404
