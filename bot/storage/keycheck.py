"""The key check: every process proves at start that its DATA_KEY opens this database.

Without it, a web process and a worker started with different keys ran side by side: each
wrote what the other could not read, and the worker's decryptions failed one by one. The
first process to open a database stores a known value encrypted under its newest key; every
later one must decrypt it with one of its keys (so `DATA_KEY=new,old` passes during a
rotation) or refuse to start, naming DATA_KEY.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage.crypto import KeyError_, Vault
from bot.storage.db import Conflict, Database
from bot.storage.migrate import check_current
from bot.storage.models import KeyCheckRow, place
from bot.storage.rotation import load_retired

CHECK = "rrbot key check v1"
WHERE = place(KeyCheckRow.cipher, 1)


class KeyMismatch(RuntimeError):
    """DATA_KEY cannot open this database; the message never holds key material."""


async def check_ready(db: Database, vault: Vault) -> bool:
    """What every process checks at start: the schema is current (else `SchemaOutOfDate`) and
    DATA_KEY opens the database (else `KeyMismatch`). False when the database cannot be
    reached: the process starts anyway, and /healthz answers 503 until it can."""
    if not await check_current(db):
        return False
    await check_key(db, vault)
    # Indexes made under keys a rotation retired are still recognised (bot/storage/rotation.py).
    await load_retired(db, vault)
    return True


async def check_key(db: Database, vault: Vault) -> None:
    """Store the check on first use, else refuse (KeyMismatch) a key that cannot open it."""
    try:
        await _check(db, vault)
    except Conflict:  # another process stored it first: check against theirs
        await _check(db, vault)


async def _check(db: Database, vault: Vault) -> None:
    async with db.transaction() as session:
        row = await session.get(KeyCheckRow, 1)
        if row is None:
            session.add(
                KeyCheckRow(id=1, cipher=vault.seal(CHECK, WHERE), created_at=datetime.now(UTC))
            )
            return
        try:
            opened = vault.open(row.cipher, WHERE) == CHECK
        except KeyError_:
            opened = False
    if not opened:
        raise KeyMismatch(
            "DATA_KEY cannot open this database: it was first opened with another key. Set "
            "DATA_KEY to that key (during a rotation: DATA_KEY=new,old)"
        )
