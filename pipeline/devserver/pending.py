"""What the local SendGrid-compatible server has promised but not yet done, kept in SQLite
(var/local-sendgrid/pending.db) so that a killed server does it after its restart: the events
of accepted requests not yet posted, and accepted requests not yet filed in the mail folder.

A request is accepted in one transaction with its events, before the 202 goes out: either the
sender may learn it was accepted and its events will follow, or it was never accepted."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

PENDING_FILE = "pending.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS requests ("
    " request_id TEXT PRIMARY KEY, received_at REAL NOT NULL, body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY, due REAL NOT NULL, event TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_due ON events (due, id)",
)


class PendingWork:
    """One SQLite database (a file, or memory for a server that keeps nothing), shared by the
    server's request threads and its webhook poster under one lock."""

    def __init__(self, path: Path | None) -> None:
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        # WAL with synchronous=NORMAL survives the process being killed (not a power cut),
        # and commits without an fsync each.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._lock = threading.Lock()

    def accept(
        self,
        request_id: str,
        received_at: float,
        body: bytes | None,
        events: list[dict[str, Any]],
        due: float,
    ) -> None:
        """Record an accepted request (its body, to be filed; None: nothing to file) and its
        events, due at `due` (Unix time), in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if body is not None:
                    self._db.execute(
                        "INSERT INTO requests VALUES (?, ?, ?)", (request_id, received_at, body)
                    )
                self._db.executemany(
                    "INSERT INTO events (due, event) VALUES (?, ?)",
                    [(due, json.dumps(event, separators=(",", ":"))) for event in events],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def unfiled_requests(self) -> list[tuple[str, float, bytes]]:
        with self._lock:
            return self._db.execute("SELECT * FROM requests ORDER BY received_at").fetchall()

    def filed(self, request_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM requests WHERE request_id = ?", (request_id,))

    def due_events(self, now: float, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `limit` events due by `now`, oldest first, with their row ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event FROM events WHERE due <= ? ORDER BY due, id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [(row_id, json.loads(event)) for row_id, event in rows]

    def next_due(self) -> float | None:
        with self._lock:
            return self._db.execute("SELECT min(due) FROM events").fetchone()[0]

    def forget(self, ids: list[int]) -> None:
        """The events are posted (or refused for good): they are done with."""
        with self._lock:
            self._db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])

    def postpone(self, ids: list[int], due: float) -> None:
        with self._lock:
            self._db.executemany("UPDATE events SET due = ? WHERE id = ?", [(due, i) for i in ids])

    def event_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
