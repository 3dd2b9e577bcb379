"""Copying a stopped SQLite installation into an empty PostgreSQL database
(``trackbridge copy-db --to postgresql://...``).

The target gets the same migrations first (so its schema is PostgreSQL's
own), then every table's rows, parents before children (foreign keys hold
all along), in batches. Sealed values are copied as they are: the hosts
that use the target must seal with the key that sealed them (the key file's,
given as ``TRACKBRIDGE_SECRET_KEY``). Identity sequences are set past the
highest id ever handed out (SQLite's ``sqlite_sequence`` included: a
deleted last row's id is never handed out again), and every table's row
count is compared at the end. All in one transaction on the target: a copy
that fails leaves it empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from host.errors import TrackbridgeError
from host.schema import MigrationSet
from host.store import Store
from host.store.migrations import apply_all

BATCH_ROWS = 1000
#: What the copy never carries over: each engine's own bookkeeping.
SKIPPED = {"sqlite_sequence", "_sqlite_migrations", "trackbridge_migrations"}


class CopyError(TrackbridgeError):
    """The copy cannot start or did not arrive whole; nothing was kept."""


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


#: Told before a table is copied (its name and row count), then after each
#: batch (how many rows it carried).
Progress = Callable[[str, int], Callable[[int], None]]


def copy_database(
    source: Store,
    target: Store,
    plugin_sets: Iterable[MigrationSet] = (),
    progress: Progress | None = None,
) -> list[Copied]:
    """Copy every row of ``source`` (SQLite) into ``target`` (empty).

    :raises CopyError: the source has migrations pending, the target holds
        rows already, or a table's count differs after the copy.
    """
    sets = list(plugin_sets)
    if source.db.dialect != "sqlite":
        raise CopyError("copy-db copies from a SQLite database.")
    pending = source.pending(sets)
    if pending:
        raise CopyError(
            f"The SQLite database has {len(pending)} migration(s) pending"
            f" ({pending[0]}, ...): run `trackbridge migrate` on it first."
        )
    tables = _in_dependency_order(source)
    copied = []
    with target.transaction():
        apply_all(target.db, sets)
        target_tables = set(target.db.table_names())
        missing = [table for table in tables if table not in target_tables]
        if missing:
            raise CopyError(f"The target has no table {missing[0]!r} after migrating.")
        for table in tables:
            if target.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                raise CopyError(
                    f"The target database is not empty (table {table} has rows):"
                    " copy-db copies into an empty database."
                )
        with source.db.transaction():  # one snapshot, no writer meanwhile
            for table in tables:
                copied.append(_copy_table(source, target, table, progress))
        for done in copied:
            count = target.db.execute(f"SELECT count(*) FROM {done.table}").fetchone()
            if count[0] != done.rows:
                raise CopyError(
                    f"Table {done.table}: {done.rows} row(s) read, {count[0]} arrived;"
                    " nothing was kept."
                )
    return copied


def _copy_table(source: Store, target: Store, table: str, progress) -> Copied:
    columns = [
        row[1] for row in source.db.execute(f"PRAGMA table_info({table})").fetchall()
    ]
    total = source.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    advance = progress(table, total) if progress else (lambda _: None)
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    order = "id" if "id" in columns else "1"
    cursor = source.db.execute(f"SELECT {names} FROM {table} ORDER BY {order}")
    while batch := cursor.fetchmany(BATCH_ROWS):
        target.db.executemany(insert, [tuple(row) for row in batch])
        advance(len(batch))
    if "id" in columns:
        target.db.ids_start_after(table, _last_id(source, table))
    return Copied(table, total)


def _last_id(source: Store, table: str) -> int:
    """The highest id the table ever handed out (AUTOINCREMENT remembers a
    deleted last row's)."""
    [highest] = source.db.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    remembered = source.db.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = ?", [table]
    ).fetchone()
    return max(highest[0], remembered[0] if remembered else 0)


def _in_dependency_order(source: Store) -> list[str]:
    """The source's tables, each after the tables its foreign keys name."""
    tables = [t for t in source.db.table_names() if t not in SKIPPED]
    parents = {
        table: {
            row[2]
            for row in source.db.execute(f"PRAGMA foreign_key_list({table})")
            if row[2] != table and row[2] in tables
        }
        for table in tables
    }
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise CopyError(f"Foreign keys go round among {sorted(parents)}.")
        ordered.extend(ready)
    return ordered
