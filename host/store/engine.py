"""What the repositories see of a database engine, whichever one runs.

Two engines implement it: SQLite (:mod:`host.store.db`, the embedded
default) and PostgreSQL (:mod:`host.store.postgres`, for several hosts and
workers on one database). The repositories write SQL in the subset both
share, with ``?`` or ``:name`` placeholders, and ask the engine only for
what differs:

- :meth:`Engine.execute` / :meth:`Engine.executemany`, whose rows are read
  by index or by column name;
- :meth:`Engine.transaction`: a write transaction, nested ones savepoints;
- :meth:`Engine.lock`: a section one transaction at a time runs across
  every process (a read-then-write that must not interleave with itself:
  claiming jobs, scheduling reconcile passes, migrating). SQLite's writer
  is exclusive anyway; PostgreSQL takes a transaction advisory lock;
- :attr:`Engine.for_update` / :attr:`Engine.skip_locked`: what a ``SELECT``
  ends with to lock the rows it read (empty on SQLite, whose write
  transactions already exclude each other).

Each thread has its own connection, opened on first use.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]


class IntegrityError(Exception):
    """A write broke a constraint (unique, foreign key, check); the
    statement (or the savepoint around it) did nothing."""


class LeaseLost(Exception):
    """A fenced transaction found its job's lease taken over: rolled back."""


def is_postgresql(location: str | Path) -> bool:
    """Whether a ``[host] database`` value names a PostgreSQL server."""
    return str(location).startswith(("postgresql://", "postgres://"))


def redacted(location: str | Path) -> str:
    """A ``[host] database`` value without its password, for messages."""
    parts = urlsplit(str(location))
    if not is_postgresql(location) or parts.password is None:
        return str(location)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class Engine:
    """One database, as one connection per thread."""

    #: ``"sqlite"`` or ``"postgresql"``: what migration steps may branch on.
    dialect = ""
    #: What a ``SELECT`` ends with to lock the rows it returns until commit.
    for_update = ""
    #: The same, passing over rows another transaction has locked.
    skip_locked = ""
    #: The table that records which migrations ran.
    migrations_table = ""
    #: The writing transaction's place in commit order, as SQL (rows that
    #: must be read in the order they became visible store it).
    transaction_order = "0"
    #: Below this (SQL), every ``transaction_order`` belongs to a finished
    #: transaction: rows under it can no longer be joined by earlier ones.
    finished_before = "9223372036854775807"
    #: What names this database among the processes of one machine (job
    #: workers listen for wake-ups under it, :mod:`host.wakeup`); ``None``:
    #: no other process can share it.
    wake_key: str | None = None

    def __init__(self) -> None:
        self._local = threading.local()

    # -- statements -------------------------------------------------------

    def execute(self, sql: str, params: Params = ()):
        """Run one statement; a cursor with ``fetchone``, ``fetchall``,
        iteration and ``rowcount``."""
        raise NotImplementedError

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        raise NotImplementedError

    def execute_schema(self, sql: str, params: Params = ()):
        """A migration's statement (PostgreSQL: with its column types)."""
        return self.execute(sql, params)

    def table_names(self) -> list[str]:
        raise NotImplementedError

    def ids_start_after(self, table: str, last_id: int) -> None:
        """Rows inserted into ``table`` from now on get ids above
        ``last_id`` (after copying rows in with their ids; SQLite hands out
        max(id)+1 anyway)."""

    # -- transactions -----------------------------------------------------

    def transaction(self, timeout: float | None = None):
        """A write transaction (a context manager); nested calls become
        savepoints of the outer one.

        :param timeout: seconds to wait for locks (default: the engine's
            write timeout; ``0``: only if free now).
        :raises host.errors.Unavailable: not had in time, or the database
            cannot be written.
        """
        raise NotImplementedError

    def lock(self, name: str) -> None:
        """Inside a transaction: wait until no other transaction holds the
        lock ``name``, hold it until this one ends."""

    @contextlib.contextmanager
    def migrating(self) -> Iterator[None]:
        """Around applying migrations (SQLite turns foreign keys off, as its
        own procedure for rebuilding a table asks, and checks them after)."""
        with self.transaction():
            self.lock("migrations")
            yield

    def health(self, timeout: float) -> str | None:
        """What keeps the database from being read or written, if anything."""
        raise NotImplementedError

    def checkpoint(self) -> None:
        """Housekeeping the job worker runs between jobs (SQLite's WAL)."""

    def close(self) -> None:
        raise NotImplementedError

    # -- what both engines do alike ---------------------------------------

    @contextlib.contextmanager
    def fenced(self, still_ours: Callable[[], bool]) -> Iterator[None]:
        """Inside the block, this thread's transactions commit only while
        ``still_ours()`` holds (asked inside the transaction, just before the
        commit, with the job's row locked); else they roll back with
        :class:`LeaseLost`. A job runs its handler so: once another worker
        has taken its lease over, no write of this run lands."""
        self._local.fence = still_ours
        try:
            yield
        finally:
            self._local.fence = None

    def _check_fence(self) -> None:
        fence = getattr(self._local, "fence", None)
        if fence is not None and not fence():
            raise LeaseLost("the job's lease was taken over; nothing was written")

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this thread's transaction has committed
        (not at all if it rolls back); the same callback is called once."""
        pending = self._local.__dict__.setdefault("after_commit", [])
        if callback not in pending:
            pending.append(callback)

    def _run_after_commit(self, committed: bool) -> None:
        pending = self._local.__dict__.pop("after_commit", [])
        for callback in pending if committed else ():
            try:
                callback()
            except Exception:  # the commit stands whatever a callback does
                log.exception("an after-commit callback failed")


def connect(location: str | Path, write_timeout: float) -> Engine:
    """The engine for a ``[host] database`` value: a ``postgresql://`` URL,
    else a SQLite file (created with its folder if needed) or ``:memory:``.

    :raises host.store.db.DatabaseUnavailable: it cannot be opened.
    """
    if is_postgresql(location):
        from host.store import postgres

        return postgres.connect(str(location), write_timeout)
    from host.store import db

    return db.connect(location, write_timeout)
