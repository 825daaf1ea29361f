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


def test_the_migration_reads_the_ticket_a_waiting_comment_waits_for_from_its_message(tmp_path):
    import os
    from datetime import datetime, timezone

    import sqlalchemy

    database = f"sqlite:///{tmp_path / 'waiting.db'}"
    env = dict(os.environ, DATABASE_URL=database)
    assert _flask(env, "db", "upgrade", "a7d3c9e1f5b2").returncode == 0  # when the message alone said it
    engine = sqlalchemy.create_engine(database)
    table = sqlalchemy.Table("sync_error", sqlalchemy.MetaData(), autoload_with=engine)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        for stream, object_id, message in (
                ("zendesk_comments", "11", "Waiting for ticket 77, which is not in the CRM yet (see its own error)."),
                ("zendesk_comments", "12", "INVALID_DATA: invalid data (Body)"),
                ("zendesk_tickets", "78", "Waiting for ticket 78, which is not a comment's")):
            connection.execute(table.insert().values(installation_id=1, stream=stream, object_id=object_id,
                                                     message=message, attempts=1, retryable=True, first_at=now,
                                                     last_at=now))
    engine.dispose()

    assert _flask(env, "db", "upgrade").returncode == 0
    engine = sqlalchemy.create_engine(database)
    with engine.connect() as connection:
        table = sqlalchemy.Table("sync_error", sqlalchemy.MetaData(), autoload_with=connection)
        waiting = dict(connection.execute(sqlalchemy.select(table.c.object_id, table.c.waiting_for_ticket)).all())
    engine.dispose()
    assert waiting == {"11": 77, "12": None, "78": None}
