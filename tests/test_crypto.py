"""OAuth tokens and context secrets are encrypted at rest and never appear in plain text in the database."""
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import sqlalchemy
from cryptography.fernet import Fernet

from tests.helpers import install
from widget import create_app
from widget.crypto import UnreadableSecret
from widget.extensions import db
from widget.models import Connection, Installation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = {"access_token": "at-very-secret", "refresh_token": "rt-very-secret", "expires_at": 1}


def test_tokens_are_stored_encrypted(app, client):
    install(client)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation))
        connection = Connection(installation=installation, service="zendesk", account="acme")
        connection.token = TOKEN
        db.session.add(connection)
        db.session.commit()
        raw = db.session.execute(db.select(Connection.token_ciphertext)).scalar_one()
        assert "very-secret" not in raw
        assert db.session.get(Connection, connection.id).token == TOKEN
        assert "secret" not in repr(connection)


def test_a_different_key_cannot_read_them(app, client):
    install(client)
    with app.app_context():
        connection = Connection(installation=db.session.scalar(db.select(Installation)), service="crm")
        connection.token = TOKEN
        db.session.add(connection)
        db.session.commit()
        app.config["TOKEN_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        with pytest.raises(UnreadableSecret):
            connection.token


def test_the_context_secret_is_stored_encrypted(app, client):
    secret = install(client)["context_secret"]
    with app.app_context():
        stored = db.session.execute(db.select(db.metadata.tables["installation"])).one()._mapping
        assert all(secret not in str(value) for value in stored.values())
        assert db.session.scalar(db.select(Installation)).context_secret == secret


def _flask(env, *args):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_migration_encrypts_existing_secrets_and_its_downgrade_decrypts_them(tmp_path):
    database = f"sqlite:///{tmp_path / 'migrate.db'}"
    env = dict(os.environ, DATABASE_URL=database)
    _flask(env, "db", "upgrade", "e7c1a9b3d5f2")  # before context secrets were encrypted
    engine = sqlalchemy.create_engine(database)
    table = sqlalchemy.Table("installation", sqlalchemy.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(table.insert().values(
            org_id="org-old", org_name="", data_center="jp", scope_type="admins", scope_profiles=[],
            status="installed", context_secret="plain-old-secret-" + "s" * 20, installation_key="key-old",
            installer_id="", installer_email="", crm_modules={}, cleanup_pending=[],
            created_at=datetime.now(timezone.utc), updated_at=datetime.now(timezone.utc)))
    engine.dispose()

    _flask(env, "db", "upgrade")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        row = db.session.execute(db.select(db.metadata.tables["installation"])).one()._mapping
        assert "context_secret" not in row and "plain-old-secret" not in row["context_secret_ciphertext"]
        assert db.session.scalar(db.select(Installation)).context_secret == "plain-old-secret-" + "s" * 20
        db.engine.dispose()

    _flask(env, "db", "downgrade", "e7c1a9b3d5f2")
    engine = sqlalchemy.create_engine(database)
    with engine.connect() as connection:
        table = sqlalchemy.Table("installation", sqlalchemy.MetaData(), autoload_with=connection)
        assert connection.execute(sqlalchemy.select(table.c.context_secret)).scalar_one() == \
            "plain-old-secret-" + "s" * 20
    engine.dispose()
