"""Set-based statements for hot paths (webhook ingestion): one multi-row statement per batch,
values bound once through each column's type and handed to the driver as they are."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, Table, any_, bindparam

# SQLAlchemy's executemany builds and processes parameters row by row, which costs more than
# the database work for a 1,000-event batch; these functions build one statement instead (a
# VALUES list on SQLite, arrays through unnest / ANY on PostgreSQL).
# SQLite's default limit on bound variables per statement is 32,766; stay below it.
_SQLITE_MAX_VARIABLES = 30_000


def _processors(conn: Connection, table: Table, names: Sequence[str]) -> list[Callable | None]:
    """Each column's bind processor for this dialect (as SQLAlchemy itself would apply it)."""
    dialect = conn.dialect
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def _bound_rows(
    conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[list[Any]]:
    """The rows' values column by column, each bound through its column's processor. A batch
    repeats timestamps and flags many times over, so each distinct value is bound once (the
    values must be hashable: ids, text, flags, datetimes)."""
    columns = []
    for name, processor in zip(names, _processors(conn, table, names), strict=True):
        values = list(map(itemgetter(name), rows))
        if processor is not None:
            bound = {value: None if value is None else processor(value) for value in set(values)}
            values = list(map(bound.__getitem__, values))
        columns.append(values)
    return columns


def _quoted(conn: Connection, names: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(name) for name in names)


def insert_new_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    returning: Sequence[str],
) -> list[tuple]:
    """INSERT `rows`, skipping any whose `key` exists already (ON CONFLICT DO NOTHING, also for
    repeats within `rows`); returns the `returning` columns of the rows actually inserted, as
    the driver gives them (no result types applied)."""
    if not rows:
        return []
    names = list(rows[0])
    columns = _bound_rows(conn, table, names, rows)
    quote = conn.dialect.identifier_preparer.quote
    target = f"INSERT INTO {quote(table.name)} ({_quoted(conn, names)})"
    tail = f"ON CONFLICT ({_quoted(conn, key)}) DO NOTHING RETURNING {_quoted(conn, returning)}"
    if conn.dialect.name == "postgresql":
        casts = ", ".join(
            f"%s::{table.c[name].type.compile(dialect=conn.dialect)}[]" for name in names
        )
        sql = f"{target} SELECT * FROM unnest({casts}) {tail}"
        return list(conn.exec_driver_sql(sql, tuple(columns)).all())
    width = len(names)
    row_marks = "(" + ", ".join("?" * width) + ")"
    per_statement = max(1, _SQLITE_MAX_VARIABLES // width)
    inserted: list[tuple] = []
    for start in range(0, len(rows), per_statement):
        chunk = [column[start : start + per_statement] for column in columns]
        values = tuple(chain.from_iterable(zip(*chunk, strict=True)))
        marks = ", ".join([row_marks] * len(chunk[0]))
        inserted.extend(conn.exec_driver_sql(f"{target} VALUES {marks} {tail}", values).all())
    return inserted


def _in_clause(conn: Connection, column: str, count: int) -> str:
    quoted = conn.dialect.identifier_preparer.quote(column)
    if conn.dialect.name == "postgresql":
        return f"{quoted} = ANY(%s)"
    return f"{quoted} IN ({', '.join('?' * count)})"


def _in_values(conn: Connection, values: Sequence[Any]) -> tuple:
    return (list(values),) if conn.dialect.name == "postgresql" else tuple(values)


def _chunks(conn: Connection, values: Sequence[Any]) -> list[Sequence[Any]]:
    if conn.dialect.name == "postgresql":
        return [values]
    return [
        values[i : i + _SQLITE_MAX_VARIABLES] for i in range(0, len(values), _SQLITE_MAX_VARIABLES)
    ]


def select_where_in(
    conn: Connection, table: Table, columns: Sequence[str], key: str, values: Sequence[Any]
) -> list[tuple]:
    """`columns` of the rows whose `key` is one of `values` (raw driver values)."""
    rows: list[tuple] = []
    for chunk in _chunks(conn, values):
        source = conn.dialect.identifier_preparer.quote(table.name)
        sql = (
            f"SELECT {_quoted(conn, columns)} FROM {source} "
            f"WHERE {_in_clause(conn, key, len(chunk))}"
        )
        rows.extend(conn.exec_driver_sql(sql, _in_values(conn, chunk)).all())
    return rows


def update_where_in(
    conn: Connection,
    table: Table,
    changes: Mapping[str, Any],
    key: str,
    values: Sequence[Any],
    only_if: tuple[str, Sequence[Any]],
) -> int:
    """Set `changes` on the rows whose `key` is one of `values` and whose `only_if` column holds
    one of the given values; returns how many rows changed."""
    names = list(changes)
    bound = [column[0] for column in _bound_rows(conn, table, names, [changes])]
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    quote = conn.dialect.identifier_preparer.quote
    assignments = ", ".join(f"{quote(name)} = {mark}" for name in names)
    guard_column, guard_values = only_if
    changed = 0
    for chunk in _chunks(conn, values):
        sql = (
            f"UPDATE {quote(table.name)} SET {assignments} "
            f"WHERE {_in_clause(conn, key, len(chunk))} "
            f"AND {_in_clause(conn, guard_column, len(guard_values))}"
        )
        params = (*bound, *_in_values(conn, chunk), *_in_values(conn, guard_values))
        changed += conn.exec_driver_sql(sql, params).rowcount
    return changed


def column_in(conn: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values` as each database takes a long list best, keeping SQLAlchemy's
    result types: one array parameter on PostgreSQL (`= ANY`), where a list of 2,000 bound
    parameters cost more than the lookup itself; a list of parameters on SQLite."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def driver_time(conn: Connection, value: datetime | None) -> datetime | str | None:
    """A UTC time as the column type would store it, for copy_rows: SQLite keeps naive UTC text
    in SQLAlchemy's DATETIME format; PostgreSQL takes the datetime itself."""
    if value is None or conn.dialect.name == "postgresql":
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def copy_rows(
    conn: Connection, table: str, names: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of plain values (already as the column types store them: see driver_time)
    at the driver level: COPY on PostgreSQL, one executemany on SQLite.

    Why not `conn.execute(insert(table), rows)`: SQLAlchemy's per-row bind processing was three
    quarters of a large import's CPU time. COPY streams the rows in one statement, where
    PostgreSQL would otherwise parse and plan an INSERT per row; it runs on the connection's
    driver (psycopg) inside the same transaction as everything else the import writes."""
    columns = ", ".join(names)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None, "a connection in use always holds its driver's connection"
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row(value)
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    markers = ", ".join([marker] * len(names))
    conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({markers})", values)
