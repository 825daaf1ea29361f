"""The app factory, configuration and migrations."""
import subprocess
import sys

import pytest

from widget import config


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_production_refuses_development_defaults():
    with pytest.raises(config.ConfigError) as refused:
        config.from_environment("/tmp", {"WIDGET_ENV": "production", "SECRET_KEY": "s"})
    assert "MARKETPLACE_SECRET" in str(refused.value) and "TOKEN_ENCRYPTION_KEY" in str(refused.value)


def test_production_takes_secrets_from_environment():
    env = {"WIDGET_ENV": "production", "SECRET_KEY": "a", "MARKETPLACE_SECRET": "b",
           "TOKEN_ENCRYPTION_KEY": "c", "DATABASE_URL": "postgresql://db/x"}
    settings = config.from_environment("/tmp", env)
    assert (settings["SECRET_KEY"], settings["MARKETPLACE_SECRET"]) == ("a", "b")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql://db/x"
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_development_defaults_work_without_environment():
    settings = config.from_environment("/tmp/inst", {})
    assert settings["SECRET_KEY"] == config.DEV_SECRET_KEY
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/inst/widget.db"


def _flask(env, *args):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_db_upgrade_on_empty_sqlite(tmp_path):
    import os

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    result = _flask(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty.db").exists()


def test_db_upgrade_on_empty_postgresql():
    import os

    import sqlalchemy

    admin = sqlalchemy.create_engine("postgresql://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    name = f"migrate_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        env = dict(os.environ, DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}")
        result = _flask(env, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        engine = sqlalchemy.create_engine(env["DATABASE_URL"])
        with engine.connect() as conn:
            assert sqlalchemy.inspect(conn).has_table("alembic_version")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
