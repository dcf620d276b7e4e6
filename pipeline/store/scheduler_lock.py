"""The PostgreSQL side of "exactly one active scheduler": a session advisory lock held on a
dedicated connection, released by the server the moment that connection or its process dies."""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

# A fixed 64-bit key derived from a name, so no other application's advisory locks collide with
# ours by accident. Advisory locks are per database, so each clinic database has its own.
SCHEDULER_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"clinicmail active scheduler").digest()[:8], "big", signed=True
)


class AdvisoryLock:
    """A session-level pg_try_advisory_lock on its own AUTOCOMMIT connection (never pooled work,
    never inside a transaction), so it lasts exactly as long as this process holds it."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY):
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
        ).scalar()
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        """Whether the lock's session is alive and still holds it (a lost connection loses it)."""
        if self._connection is None:
            return False
        # A session-level advisory lock is only ever released by unlock or by the session
        # ending, so a live session means the lock is still ours.
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            self._discard()
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(SQLAlchemyError):
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._discard()

    def _discard(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None
