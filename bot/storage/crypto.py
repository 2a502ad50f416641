"""Encryption at rest and blind indexes for the identifiers that point at people.

Two promises, beyond "unreadable without DATA_KEY":

- **A value opens only where it was sealed.** `seal(value, place)` is AES-256-GCM with the
  place (table, column and row: `place(SubscriberRow.address_cipher, 12)`) as associated data,
  so a cipher copied into another row or column does not open. Values written before this
  (Fernet, without a place) still open, until `rrbot keys rotate` seals them anew.
- **Indexes that do not link.** Each blind index is an HMAC keyed for its purpose (a
  subscriber's address, a coordinator, a reporter, an invite), so the same chat id gives
  unrelated indexes in two tables.

Keys are Fernet keys (DATA_KEY, newest first); each derives (HKDF) its sealing key and an
index root, from which the purposes' index keys are derived. Sealing uses the newest key and
names it in the token, so opening needs no trial. Lookups try the index under every key (and
the older, purpose-less index of values not yet rotated), and under the index roots of keys
already retired by a rotation (kept in the database, sealed under the current key), so a
blocked sender or an opted-out number whose plaintext is no longer kept is still recognised
after the old key is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

SEALED = 0x02  # the first byte of a sealed value (a Fernet token starts with 0x80)
KEY_ID = 8  # bytes naming the key in a sealed value
NONCE = 12


class KeyError_(ValueError):
    """DATA_KEY is malformed, or a value does not open; the message never holds key material."""


class Purpose(StrEnum):
    """What a blind index is for: each has its own key."""

    SUBSCRIBER = "subscriber"
    COORDINATOR = "coordinator"
    REPORTER = "reporter"
    INVITE = "invite"
    ASKER = "asker"  # who asked VERIFY, for its per-sender limit only


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class _Key:
    """One DATA_KEY key and what it derives."""

    def __init__(self, fernet_key: bytes) -> None:
        self.fernet = Fernet(fernet_key)
        self.aead = AESGCM(_derive(fernet_key, b"rrbot seal v2"))
        self.id = hmac.new(_derive(fernet_key, b"rrbot seal v2 id"), b"id", "sha256").digest()[
            :KEY_ID
        ]
        # The root of this key's indexes (also the key of the purpose-less first version).
        self.index_root = _derive(fernet_key, b"rrbot blind index v1")


def _index_key(root: bytes, purpose: Purpose) -> bytes:
    return _derive(root, b"rrbot blind index v2 " + purpose.value.encode())


class Vault:
    """Seals identifiers (phone numbers, chat ids, report text) and derives their blind indexes."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyError_("DATA_KEY holds no key")
        try:
            self._keys = [_Key(key) for key in keys]
        except (ValueError, TypeError):
            raise KeyError_(
                "DATA_KEY: each comma-separated key must be a Fernet key "
                "(32 url-safe base64-encoded bytes; `rrbot keygen` makes one)"
            ) from None
        self._by_id = {k.id: k for k in self._keys}
        self._legacy = MultiFernet([k.fernet for k in self._keys])
        self._retired: list[bytes] = []  # index roots of keys a rotation retired

    @classmethod
    def from_setting(cls, value: str) -> Vault:
        return cls([part.strip().encode() for part in value.split(",") if part.strip()])

    # --- sealing -------------------------------------------------------------------------

    def seal(self, plaintext: str, where: str) -> bytes:
        """`plaintext` under the newest key, opening only at `where` (see `place`)."""
        key = self._keys[0]
        nonce = os.urandom(NONCE)
        body = key.aead.encrypt(nonce, plaintext.encode(), where.encode())
        return bytes([SEALED]) + key.id + nonce + body

    def open(self, token: bytes, where: str) -> str:
        """What `seal` sealed at `where`; a value from elsewhere, or under a key DATA_KEY no
        longer holds, raises KeyError_ (naming neither)."""
        if token[:1] == bytes([SEALED]):
            key = self._by_id.get(token[1 : 1 + KEY_ID])
            if key is None:
                raise KeyError_("a stored value was sealed with a key not in DATA_KEY")
            start = 1 + KEY_ID
            try:
                return key.aead.decrypt(
                    token[start : start + NONCE], token[start + NONCE :], where.encode()
                ).decode()
            except InvalidTag:
                raise KeyError_("a stored value does not open here (moved, or altered)") from None
        try:  # written before values were sealed to their place
            return self._legacy.decrypt(token).decode()
        except InvalidToken:
            raise KeyError_("a stored value was encrypted with a key not in DATA_KEY") from None

    def current(self, token: bytes) -> bool:
        """Whether `token` is sealed (to a place) under the newest key: nothing to rotate."""
        return token[:1] == bytes([SEALED]) and token[1 : 1 + KEY_ID] == self._keys[0].id

    def reseal(self, token: bytes, where: str) -> bytes:
        """The same value sealed under the newest key at `where` (a rotation)."""
        return self.seal(self.open(token, where), where)

    # --- blind indexes -------------------------------------------------------------------

    def index(self, plaintext: str, purpose: Purpose) -> str:
        """The blind index under the newest key: equal inputs give equal, unguessable strings."""
        return self._hmac(_index_key(self._keys[0].index_root, purpose), plaintext)

    def indexes(self, plaintext: str, purpose: Purpose) -> list[str]:
        """Every index a stored row of this value may carry, the newest first: under each key
        and retired key, for the purpose and in the purpose-less first version."""
        roots = [k.index_root for k in self._keys] + self._retired
        found = [self._hmac(_index_key(root, purpose), plaintext) for root in roots]
        found += [self._hmac(root, _legacy_plaintext(plaintext, purpose)) for root in roots]
        return list(dict.fromkeys(found))

    def retire(self, roots: list[bytes]) -> None:
        """Index roots of keys a rotation retired (read from the database at start-up)."""
        known = {k.index_root for k in self._keys}
        self._retired = [r for r in dict.fromkeys(roots) if r not in known]

    def roots_to_retire(self) -> list[bytes]:
        """The index roots of every key but the newest: stored by a rotation, so indexes made
        under them are still recognised once those keys leave DATA_KEY."""
        return [k.index_root for k in self._keys[1:]]

    @staticmethod
    def _hmac(key: bytes, plaintext: str) -> str:
        return hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()


def _legacy_plaintext(plaintext: str, purpose: Purpose) -> str:
    """What the first version indexed: the value itself, an invite's code with a prefix."""
    return f"invite:{plaintext}" if purpose is Purpose.INVITE else plaintext


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
