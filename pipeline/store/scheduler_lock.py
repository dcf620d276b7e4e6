"""The PostgreSQL side of "exactly one active scheduler": a session advisory lock held on a
dedicated connection, released by the server the moment that connection or its process dies."""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

# A fixed 64-bit key derived from a name, so no other application's advisory locks collide with
# ours by accident. Advisory locks are per database, so each clinic database has its own.
SCHEDULER_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"clinicmail active scheduler").digest()[:8], "big", signed=True
)


KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3


class AdvisoryLock:
    """A session-level pg_try_advisory_lock on its own AUTOCOMMIT connection (never pooled work,
    never inside a transaction), so it lasts exactly as long as this process holds it."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY):
        # Its own unpooled engine with TCP keepalives both ways: if the machine holding the lock
        # vanishes, the server drops the session (and the lock) within about half a minute,
        # and a holder cut off from the server notices as soon.
        self._engine = create_engine(
            engine.url,
            poolclass=NullPool,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
                "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
                "keepalives_count": KEEPALIVE_COUNT,
                "connect_timeout": 10,
            },
        )
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for setting, value in (
            ("tcp_keepalives_idle", KEEPALIVE_IDLE_SECONDS),
            ("tcp_keepalives_interval", KEEPALIVE_INTERVAL_SECONDS),
            ("tcp_keepalives_count", KEEPALIVE_COUNT),
        ):
            connection.execute(text(f"SET {setting} = {int(value)}"))
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
