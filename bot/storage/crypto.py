"""Encryption at rest and blind indexes for the identifiers that point at people."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)


class KeyError_(ValueError):
    """DATA_KEY is malformed; the message never contains key material."""


class Vault:
    """Encrypts identifiers (phone numbers, chat ids) and derives their keyed blind index.

    Keys are Fernet keys, newest first. Encryption uses the newest; decryption tries all,
    so a key is rotated by prepending a new one. Each key also derives (HKDF) a separate
    HMAC key for the blind index: lookups try every key's index, and a row found under an
    old key is re-indexed by the caller (see `Subscribers.find`).
    """

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyError_("DATA_KEY holds no key")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            raise KeyError_(
                "DATA_KEY: each comma-separated key must be a Fernet key "
                "(32 url-safe base64-encoded bytes; `rrbot keygen` makes one)"
            ) from None
        self._fernet = MultiFernet(fernets)
        self._index_keys = [_derive_index_key(key) for key in keys]

    @classmethod
    def from_setting(cls, value: str) -> Vault:
        return cls([part.strip().encode() for part in value.split(",") if part.strip()])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise KeyError_(
                "a stored identifier was encrypted with a key not in DATA_KEY"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext, encrypted under the newest key."""
        return self._fernet.rotate(token)

    def index(self, plaintext: str) -> str:
        """The blind index under the newest key: equal inputs give equal, unguessable strings."""
        return self.indexes(plaintext)[0]

    def indexes(self, plaintext: str) -> list[str]:
        """The blind index under every key, newest first, for lookups across a rotation."""
        data = plaintext.encode()
        return [hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._index_keys]


def _derive_index_key(fernet_key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"rrbot blind index v1")
    return hkdf.derive(fernet_key)


def generate_key() -> str:
    return Fernet.generate_key().decode()


def dev_key(var_dir: Path) -> str:
    """A key kept in var/ for development and the demo, created on first use."""
    path = var_dir / "data.key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # Created owner-only: this file is as sensitive as the database itself.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "DATA_KEY is not set: generated a development key (data.key in the data directory); "
        "set DATA_KEY in production (rrbot keygen)"
    )
    return key
