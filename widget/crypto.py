"""Tokens at rest: Fernet encryption with TOKEN_ENCRYPTION_KEY (DESIGN §5). Plain text never reaches the DB."""
import json

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class UnreadableSecret(Exception):
    """Stored ciphertext can't be decrypted with the configured key (key rotated or data corrupt)."""


def _fernet():
    return Fernet(current_app.config["TOKEN_ENCRYPTION_KEY"].encode())


def encrypt_json(value):
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_json(ciphertext):
    try:
        return json.loads(_fernet().decrypt(ciphertext.encode()))
    except InvalidToken as exc:
        raise UnreadableSecret("stored credentials can't be decrypted with TOKEN_ENCRYPTION_KEY") from exc
