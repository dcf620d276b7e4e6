"""Exactly one active scheduler per database: APScheduler must never share its job store.

PostgreSQL: an advisory lock on a dedicated connection. SQLite: an OS file lock in var/. Both are
released by the operating system or the server when the holder dies, so a standby can take over."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from pipeline.config import Settings
from pipeline.store.scheduler_lock import AdvisoryLock

if TYPE_CHECKING:
    from sqlalchemy import Engine

LOCK_FILE_NAME = "scheduler.lock"


class SchedulerGuard:
    """try_acquire() until it returns True; then still_held() on every tick; release() at exit."""

    def __init__(self, engine: Engine, settings: Settings):
        self.kind = "advisory lock" if engine.dialect.name == "postgresql" else "file lock"
        self._advisory = AdvisoryLock(engine) if engine.dialect.name == "postgresql" else None
        self._file_lock: FileLock | None = None
        if self._advisory is None:
            self.lock_path = lock_file_path(settings)
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            # thread_local=False: the lock belongs to the worker, whichever thread releases it.
            self._file_lock = FileLock(self.lock_path, thread_local=False)
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        if self._advisory is not None:
            self._held = self._advisory.try_acquire()
            return self._held
        assert self._file_lock is not None
        if self._held:
            return True
        try:
            self._file_lock.acquire(timeout=0)
        except Timeout:
            return False
        self._held = True
        return True

    def still_held(self) -> bool:
        if self._advisory is not None:
            self._held = self._advisory.still_held()
        return self._held

    def release(self) -> None:
        if self._advisory is not None:
            self._advisory.release()
        elif self._file_lock is not None and self._held:
            self._file_lock.release()
        self._held = False


def lock_file_path(settings: Settings) -> Path:
    return settings.var_dir / LOCK_FILE_NAME
