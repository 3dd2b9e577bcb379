"""Opening the SQLite database the way every process must.

Each process (gunicorn worker, job worker, CLI) opens its own connection:
WAL so readers never block the writer, foreign keys on, and a busy timeout
so concurrent writers wait for each other instead of failing with
"database is locked". Write transactions start with ``BEGIN IMMEDIATE`` so
a writer takes the lock up front rather than failing to upgrade later.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 30_000


def connect(path: str | Path) -> Database:
    """Open (creating it and its folder if needed) the database at ``path``."""
    memory = str(path) == ":memory:"
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # explicit transactions only, see write()
        check_same_thread=False,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not memory:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return Database(conn, execute_plugins=False)


@contextlib.contextmanager
def write(db: Database) -> Iterator[Database]:
    """A write transaction; nested calls become savepoints of the outer one."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def utcnow() -> str:
    """The current time as ISO 8601 UTC with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
