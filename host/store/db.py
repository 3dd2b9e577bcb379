"""Opening the SQLite database the way every process must.

Each process (gunicorn worker, job worker, CLI) opens its own connection:
WAL so readers never block the writer, foreign keys on, and a busy timeout
so concurrent writers wait for each other instead of failing with
"database is locked". Write transactions start with ``BEGIN IMMEDIATE`` so
a writer takes the lock up front rather than failing to upgrade later.

Two things keep writes short under concurrent webhooks (see BENCHMARKS.md):

- Writers queue on an ``flock`` of ``<database>.lock`` before ``BEGIN
  IMMEDIATE``. SQLite's own busy handler polls with sleeps of 1 ms and more,
  so two processes colliding waited far longer than the write itself; a
  blocked ``flock`` wakes as soon as the holder lets go.
- Checkpoints (copying the WAL back into the database, with an fsync) are
  not run inside a webhook's commit. The job worker runs them
  (:meth:`Database.checkpoint`); a connection still checkpoints on its own
  once the WAL passes ``WAL_LIMIT_BYTES``, so it never grows unbounded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from host.times import utcnow  # noqa: F401 (the repositories' import)

BUSY_TIMEOUT_MS = 30_000
#: The WAL size at which any connection checkpoints after its commit.
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: Commits between two looks at the WAL's size (an ``os.stat``).
WAL_CHECK_EVERY = 200


class Database(sqlite_utils.Database):
    """A connection with its cross-process writer lock."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        super().__init__(conn, execute_plugins=False)
        self.wal_path = f"{path}-wal" if path else None
        self.writer_lock = open(f"{path}.lock", "ab") if path else None  # noqa: SIM115
        self.commits = 0

    def checkpoint(self) -> None:
        """Copy the WAL back into the database without waiting on anyone."""
        if self.wal_path:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def committed(self) -> None:
        """After a commit: checkpoint here only if the WAL grew too large."""
        self.commits += 1
        if self.wal_path and self.commits % WAL_CHECK_EVERY == 0:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.wal_path).st_size > WAL_LIMIT_BYTES:
                    self.checkpoint()

    def close(self) -> None:
        self.conn.close()
        if self.writer_lock:
            self.writer_lock.close()


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
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
    return Database(conn, None if memory else Path(path))


@contextlib.contextmanager
def write(db: Database) -> Iterator[Database]:
    """A write transaction; nested calls become savepoints of the outer one."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    with _writer_lock(db):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")
    db.committed()


@contextlib.contextmanager
def _writer_lock(db: Database) -> Iterator[None]:
    if db.writer_lock is None:
        yield
        return
    fcntl.flock(db.writer_lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(db.writer_lock, fcntl.LOCK_UN)
