"""The SQLite engine: opening the database the way every process and thread must.

Each thread (of a gunicorn worker, the job worker, a CLI command) gets its
own connection on first use: WAL so readers never block the writer, foreign
keys on, explicit transactions only. Write transactions start with ``BEGIN
IMMEDIATE`` so a writer takes the lock up front rather than failing to
upgrade later.

Two things keep writes short under concurrent webhooks (see BENCHMARKS.md):

- Writers queue on an ``flock`` of ``<database>.lock`` before ``BEGIN
  IMMEDIATE`` (threads of one process first on a ``threading.Lock``). A
  blocked ``flock`` wakes as soon as the holder lets go; SQLite's own busy
  handler sleeps 1 ms and more per poll, so two processes colliding waited
  far longer than the write itself (and so did polling ``flock``, and
  waiting for it in a helper thread: ``bench/ingest.py``).
- Checkpoints (copying the WAL back into the database, with an fsync) are
  not run inside a webhook's commit. The job worker runs them
  (:meth:`Database.checkpoint`); a connection still checkpoints on its own
  once the WAL passes ``WAL_LIMIT_BYTES``, so it never grows unbounded.

A write waits at most ``[host] write_timeout_seconds`` for the lock (held by
another writer, a backup, a ``sqlite3`` shell), then raises
:class:`host.errors.Unavailable`: a request answers 503 with ``Retry-After``
instead of hanging, and the job worker tries again later.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import sqlite_utils

from host.errors import Unavailable
from host.store.engine import Engine, IntegrityError, Params

log = logging.getLogger(__name__)

DEFAULT_WRITE_TIMEOUT_SECONDS = 5.0
#: The WAL size at which any connection checkpoints after its commit.
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: Commits between two looks at the WAL's size (an ``os.stat``).
WAL_CHECK_EVERY = 200
#: How often a caller in a hurry looks whether the writer lock is free.
POLL_SECONDS = 0.002
#: Seconds a client is told to wait when the database is locked.
RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(Unavailable):
    """The database (or its folder, or its lock file) cannot be opened; the
    message names the path and the permission needed. (A request that meets
    it answers 503; a command stops with exit status 2.)"""


class Database(Engine, sqlite_utils.Database):
    """The SQLite engine: one connection per thread (and one writer lock
    file per connection, so threads exclude each other as processes do)."""

    dialect = "sqlite"
    migrations_table = "_sqlite_migrations"  # sqlite-utils' own, kept

    def __init__(self, path: Path | None, write_timeout: float) -> None:
        Engine.__init__(self)
        self.path = path
        self.write_timeout = write_timeout
        self.wal_path = f"{path}-wal" if path else None
        self.wake_key = str(path.resolve()) if path else None
        self.commits = 0
        self._thread_writer = threading.Lock()
        self._opened: list[tuple[sqlite3.Connection, object]] = []
        self._opened_lock = threading.Lock()
        self._closed = False
        # ":memory:" is one database per connection: share the one.
        self._shared = None if path else _open_connection(":memory:", write_timeout)
        sqlite_utils.Database.__init__(self, self.conn, execute_plugins=False)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_for_thread()
        return conn

    @conn.setter
    def conn(self, value: sqlite3.Connection) -> None:
        pass  # sqlite_utils sets it; ours is chosen per thread

    @property
    def writer_lock(self):
        self.conn  # noqa: B018 (opens this thread's connection and lock file)
        return getattr(self._local, "lock_file", None)

    def _open_for_thread(self) -> sqlite3.Connection:
        conn = _open_connection(self.path, self.write_timeout)
        try:
            lock_file = open(f"{self.path}.lock", "ab")  # noqa: SIM115
        except OSError as ex:
            conn.close()
            raise DatabaseUnavailable(
                _permission_message(f"{self.path}.lock", ex, "read and write")
            ) from None
        self._local.conn, self._local.lock_file = conn, lock_file
        with self._opened_lock:
            self._opened.append((conn, lock_file))
        return conn

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as ex:
            raise IntegrityError(str(ex)) from None

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        try:
            self.conn.executemany(sql, params)
        except sqlite3.IntegrityError as ex:
            raise IntegrityError(str(ex)) from None

    def table_names(self) -> list[str]:
        return sqlite_utils.Database.table_names(self)

    def transaction(self, timeout: float | None = None):
        return write(self, timeout)

    @contextlib.contextmanager
    def migrating(self) -> Iterator[None]:
        """Foreign keys are off while migrations run, as SQLite's own
        procedure for rebuilding a table asks (dropping the old copy would
        otherwise cascade to every row that refers to it), and checked
        before the commit."""
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with write(self):
                yield
                broken = self.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migrations left rows without their parent: {broken[:5]}"
                    )
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

    def health(self, timeout: float) -> str | None:
        """Reads a table and takes the write lock (then lets go, writing
        nothing), each waiting at most ``timeout`` seconds."""
        try:
            self.execute("SELECT count(*) FROM sqlite_master").fetchone()
            with write(self, timeout):
                pass
        except Unavailable as ex:  # locked, or cannot be opened
            return ex.detail
        except sqlite3.Error as ex:
            return f"The database cannot be read: {ex}"
        return None

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
        self._closed = True
        if self._shared is not None:
            self._shared.close()
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn, lock_file in opened:
            conn.close()
            lock_file.close()


def connect(
    path: str | Path, write_timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS
) -> Database:
    """Open (creating it and its folder if needed) the database at ``path``.

    :raises DatabaseUnavailable: the folder, the file or its lock file cannot
        be created or opened.
    """
    if str(path) == ":memory:":
        return Database(None, write_timeout)
    path = Path(path)
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise DatabaseUnavailable(
            f"Cannot open the database at {path}: {folder} is not a folder"
            " ([host] database, TRACKBRIDGE_DATABASE)."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise DatabaseUnavailable(
            _permission_message(path, ex, "create the folder of")
        ) from None
    return Database(path, write_timeout)


def _open_connection(path, write_timeout: float) -> sqlite3.Connection:
    memory = str(path) == ":memory:"
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=write_timeout,
            isolation_level=None,  # explicit transactions only, see write()
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(write_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
    except sqlite3.OperationalError as ex:
        if _is_locked(ex):
            raise _locked() from None
        raise DatabaseUnavailable(
            _permission_message(path, ex, "read and write (the file and its folder)")
        ) from None
    return conn


@contextlib.contextmanager
def write(db: Database, timeout: float | None = None) -> Iterator[Database]:
    """A write transaction; nested calls become savepoints of the outer one.

    :param timeout: seconds to wait for the lock (default: the database's
        ``write_timeout``; ``0``: do not wait).
    :raises Unavailable: the lock was not had in time, or the database
        cannot be written.
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    patient = timeout is None or timeout >= db.write_timeout
    deadline = time.monotonic() + (db.write_timeout if timeout is None else timeout)
    with _writer_lock(db, deadline, patient):
        _begin(db, conn, deadline)
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            db._run_after_commit(committed=False)
            raise
        else:
            try:
                db._check_fence()
                conn.execute("COMMIT")
            except BaseException as ex:  # the lease was lost, or COMMIT failed
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                db._run_after_commit(committed=False)
                if isinstance(ex, sqlite3.OperationalError):
                    raise _translated(ex) from None
                raise
    db.committed()
    db._run_after_commit(committed=True)


def _begin(db: Database, conn: sqlite3.Connection, deadline: float) -> None:
    """``BEGIN IMMEDIATE``, waiting for SQLite's own lock (held by a process
    outside the writer lock) no longer than ``deadline``.

    The connection's busy timeout is the full write timeout; it is shortened
    for this statement only when part of the wait is spent already.
    """
    left = deadline - time.monotonic()
    shortened = left < db.write_timeout - 0.05
    if shortened:
        conn.execute(f"PRAGMA busy_timeout = {max(0, int(left * 1000))}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as ex:
        raise _translated(ex) from None
    finally:
        if shortened:
            conn.execute(f"PRAGMA busy_timeout = {int(db.write_timeout * 1000)}")


@contextlib.contextmanager
def _writer_lock(db: Database, deadline: float, patient: bool) -> Iterator[None]:
    """The writer lock: this process's threads queue on a ``threading.Lock``
    (with the deadline), then the processes on a blocking ``flock``.

    ``flock`` cannot time out, but it need not: its holder is always one of
    our writers, and every writer lets go by its own deadline (the wait in
    ``BEGIN IMMEDIATE`` is cut there, see :func:`_begin`), which comes
    before ours, as it started first with the same timeout. A caller with a
    shorter one (``/healthz``, a metrics flush: not ``patient``) polls
    instead, as its deadline may come first. A lock had after the deadline
    is let go at once.
    """
    lock_file = db.writer_lock
    if lock_file is None:
        yield
        return
    if not db._thread_writer.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise _locked()
    try:
        if patient:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        else:
            _poll_flock(lock_file, deadline)
        try:
            if time.monotonic() > deadline:
                raise _locked()
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    finally:
        db._thread_writer.release()


def _poll_flock(lock_file, deadline: float) -> None:
    while True:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() + POLL_SECONDS > deadline:
                raise _locked() from None
        time.sleep(POLL_SECONDS)


def _is_locked(ex: sqlite3.OperationalError) -> bool:
    text = str(ex).lower()
    return "locked" in text or "busy" in text


def _translated(ex: sqlite3.OperationalError) -> Exception:
    if _is_locked(ex):
        return _locked()
    if "readonly" in str(ex).lower() or "disk" in str(ex).lower():
        return Unavailable(f"The database cannot be written: {ex}.")
    return ex


def _locked() -> Unavailable:
    return Unavailable(
        "The database is locked by another writer; try again shortly.",
        retry_after=RETRY_AFTER_SECONDS,
    )


def _permission_message(path, ex: Exception, needed: str) -> str:
    reason = getattr(ex, "strerror", None) or str(ex)
    if isinstance(ex, OSError) and ex.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied"
    return (
        f"Cannot open the database at {path}: {reason}; the user running"
        f" trackbridge needs permission to {needed} it"
        " ([host] database, TRACKBRIDGE_DATABASE)."
    )
