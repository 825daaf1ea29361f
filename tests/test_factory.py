"""The app factory and migrations (the configuration: tests/test_config.py)."""
import subprocess
import sys

import pytest


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def _flask(env, *args):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_db_upgrade_on_empty_sqlite(tmp_path):
    import os

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    result = _flask(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty.db").exists()


def test_the_migrations_build_the_models_tables_and_indexes(tmp_path):
    import os

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'migrated.db'}")
    assert _flask(env, "db", "upgrade").returncode == 0
    checked = _flask(env, "db", "check")  # Alembic compares the migrated database with the models
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.postgres
def test_db_upgrade_on_empty_postgresql(postgres_url):
    import os

    import sqlalchemy

    result = _flask(dict(os.environ, DATABASE_URL=postgres_url), "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as conn:
        assert sqlalchemy.inspect(conn).has_table("alembic_version")
    engine.dispose()
