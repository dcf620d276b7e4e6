"""The single-active-scheduler guard, on SQLite (file lock) and PostgreSQL (advisory lock)."""

from sqlalchemy import text

from pipeline.config import load_settings
from pipeline.store import open_engine
from pipeline.worker.guard import SchedulerGuard


def test_only_one_guard_holds_the_lock_until_it_is_released(workspace_db):
    settings = load_settings(workspace_db)
    first_engine = open_engine(settings.database_url)
    second_engine = open_engine(settings.database_url)
    first = SchedulerGuard(first_engine, settings)
    second = SchedulerGuard(second_engine, settings)
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # holding it already is success, not a second lock
        assert not second.try_acquire()
        assert first.still_held()
        first.release()
        assert not first.still_held()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
        first_engine.dispose()
        second_engine.dispose()


def test_a_lost_postgres_session_loses_the_lock(workspace_db):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        return
    guard = SchedulerGuard(engine, settings)
    other_engine = open_engine(settings.database_url)
    other = SchedulerGuard(other_engine, settings)
    try:
        assert guard.try_acquire()
        # The server drops a vanished holder's session, and so its lock, within half a minute.
        lock_session = guard._advisory._connection
        assert lock_session.execute(text("SHOW tcp_keepalives_idle")).scalar() == "10"
        with engine.connect() as admin:  # the server ends the holder's session
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                )
            )
        assert not guard.still_held()
        assert other.try_acquire()
    finally:
        guard.release()
        other.release()
        engine.dispose()
        other_engine.dispose()
