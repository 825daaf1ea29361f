"""OAuth tokens are encrypted at rest and never appear in plain text in the database."""
import pytest
from cryptography.fernet import Fernet

from tests.helpers import install
from widget.crypto import UnreadableSecret
from widget.extensions import db
from widget.models import Connection, Installation

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
