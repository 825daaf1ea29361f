"""Tokens at rest: Fernet encryption with TOKEN_ENCRYPTION_KEY (docs/architecture.md#data-model). Plain text never
reaches the DB."""
import functools
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


def decrypt_json_kept(ciphertext):
    """`decrypt_json`, remembered per process for a few values read on every request (an installation's
    context secret: README "Benchmarks"). The stored ciphertext is the key, so a new value is read anew."""
    return _kept(current_app.config["TOKEN_ENCRYPTION_KEY"], ciphertext)


@functools.lru_cache(maxsize=256)
def _kept(key, ciphertext):
    return decrypt_json(ciphertext)
