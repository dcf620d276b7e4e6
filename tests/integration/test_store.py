from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from pipeline.store import current_revision, open_engine, utcnow
from pipeline.store.engine import WAL_CHECKPOINT_PAGES
from pipeline.store.migrate import MIGRATIONS
from pipeline.store.tables import articles, metadata


def test_migrations_build_exactly_the_tables_the_code_uses(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_the_newest_revision(engine):
    newest = sorted(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    assert current_revision(engine) == newest


def test_datetimes_come_back_aware_and_in_utc(engine):
    paris = timezone(timedelta(hours=1))
    written = datetime(2026, 3, 29, 1, 30, tzinfo=paris)
    with engine.begin() as connection:
        connection.execute(
            insert(articles).values(
                slug="a", title="A", summary="", tags=[], source_kind="markdown",
                content_hash="0" * 64, document={}, word_count=0, warning_count=0,
                created_at=written, updated_at=utcnow(),
            )
        )  # fmt: skip
        read = connection.execute(select(articles.c.created_at)).scalar_one()
    assert read == written
    assert read.tzinfo is not None and read.utcoffset() == timedelta(0)
    assert read.astimezone(UTC).hour == 0


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as connection:
        connection.execute(
            insert(articles).values(
                slug="b", title="B", summary="", tags=[], source_kind="markdown",
                content_hash="0" * 64, document={}, word_count=0, warning_count=0,
                created_at=datetime(2026, 1, 1), updated_at=utcnow(),
            )
        )  # fmt: skip


def test_sqlite_runs_in_wal_mode_with_a_larger_checkpoint_interval(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'tuned.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            checkpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            assert checkpoint == WAL_CHECKPOINT_PAGES > 1000
    finally:
        engine.dispose()
