"""The PostgreSQL engine (>= 15, through psycopg 3): several hosts and job
workers on one database.

The repositories' SQL is the subset SQLite and PostgreSQL share; what this
module changes on the way is only mechanical: ``?`` and ``:name``
placeholders become psycopg's (``%s``, ``%(name)s``), booleans become the
integers SQLite stores, and migration DDL gets PostgreSQL's types
(:func:`schema_sql`). Each thread has its own connection in autocommit mode,
so a statement outside :meth:`Postgres.transaction` commits alone, as on
SQLite.

Waiting: a transaction waits for a lock (a row, an advisory lock) at most
the write timeout (``lock_timeout``), then :class:`host.errors.Unavailable`
(a 503 with ``Retry-After`` for a request; the job worker tries again), as
does a deadlock PostgreSQL broke or a connection that was lost (the next
statement opens a new one).

Behind PgBouncer in transaction mode, set ``prepare_threshold`` off
(``?prepare_threshold=`` is not a libpq parameter: use session mode, or
connect directly): psycopg prepares statements it sees often.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import threading
from collections.abc import Iterable, Iterator, Mapping

from host.errors import Unavailable
from host.store.db import RETRY_AFTER_SECONDS, DatabaseUnavailable
from host.store.engine import Engine, IntegrityError, Params, redacted

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
except ImportError:  # the optional extra is not installed
    psycopg = None

CONNECT_TIMEOUT_SECONDS = 10
#: The longest any statement may run (migrations: no limit).
STATEMENT_TIMEOUT_SECONDS = 60


def connect(url: str, write_timeout: float) -> Postgres:
    """The engine for ``url``; its first connection is opened now, so a
    wrong address or password is said at start, not at the first request.

    :raises DatabaseUnavailable: psycopg is missing, or the server cannot
        be reached or refuses us (the message never shows the password).
    """
    if psycopg is None:
        raise DatabaseUnavailable(
            f"{redacted(url)} is a PostgreSQL database, but PostgreSQL support"
            ' is not installed: pip install "trackbridge[postgresql]".'
        )
    engine = Postgres(url, write_timeout)
    engine.conn  # noqa: B018 (opens this thread's connection)
    return engine


class Row(tuple):
    """A row read by index (``row[0]``, unpacking) or by column name
    (``row["id"]``, ``dict(row)``), as ``sqlite3.Row`` is."""

    __slots__ = ()
    _index: Mapping[str, int] = {}
    _names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type(
        "Row", (Row,), {"__slots__": (), "_names": names,
                        "_index": {name: i for i, name in enumerate(names)}},
    )  # fmt: skip


def _rows(cursor):
    names = tuple(column.name for column in cursor.description or ())
    return _row_class(names)


class Postgres(Engine):
    dialect = "postgresql"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    migrations_table = "trackbridge_migrations"
    # Transaction ids: a transaction still running has one at or above the
    # oldest running one (the snapshot's xmin), so rows below xmin are final.
    transaction_order = "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"
    finished_before = (
        "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)"
    )

    def __init__(self, url: str, write_timeout: float) -> None:
        super().__init__()
        self.url = url
        self.wake_key = redacted(url)
        self.write_timeout = write_timeout
        self._opened: list = []
        self._opened_lock = threading.Lock()
        self._closed = False

    @property
    def conn(self):
        if self._closed:
            raise Unavailable("The database cannot be read: it was closed.")
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._open()
        return conn

    def _open(self):
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                row_factory=_rows,
                # Every lock wait (rows, advisory locks) ends in time, and so
                # does a statement on a server in trouble (ours take
                # milliseconds); a server gone silent is noticed by TCP.
                options=f"-c lock_timeout={_milliseconds(self.write_timeout)}"
                f" -c statement_timeout={STATEMENT_TIMEOUT_SECONDS * 1000}",
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
        except psycopg.Error as ex:
            raise DatabaseUnavailable(
                f"Cannot open the database at {redacted(self.url)}:"
                f" {_first_line(ex)} ([host] database, TRACKBRIDGE_DATABASE_URL)."
            ) from None
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    # -- statements -------------------------------------------------------

    def execute(self, sql: str, params: Params = ()):
        with self._translated():
            return self.conn.execute(placeholders(sql), _adapted(params))

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        with self._translated(), self.conn.cursor() as cursor:
            cursor.executemany(placeholders(sql), [_adapted(p) for p in params])

    def execute_schema(self, sql: str, params: Params = ()):
        """A migration's statement, with PostgreSQL's column types."""
        return self.execute(schema_sql(sql), params)

    def table_names(self) -> list[str]:
        return [
            row[0]
            for row in self.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = current_schema() ORDER BY tablename"
            )
        ]

    def ids_start_after(self, table: str, last_id: int) -> None:
        self.execute(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'),"
            " GREATEST(CAST(:last AS BIGINT), 1), CAST(:last AS BIGINT) > 0)",
            {"table": table, "last": last_id},
        ).fetchall()

    # -- transactions -----------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[Postgres]:
        conn = self.conn
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with self._translated(), conn.transaction():  # a savepoint
                yield self
            return
        try:
            with self._translated(), conn.transaction():
                if timeout is not None and timeout != self.write_timeout:
                    conn.execute(f"SET LOCAL lock_timeout = {_milliseconds(timeout)}")
                yield self
                self._check_fence()
        except BaseException:
            self._run_after_commit(committed=False)
            raise
        self._run_after_commit(committed=True)

    @contextlib.contextmanager
    def migrating(self) -> Iterator[None]:
        with self.transaction():
            # Rewriting a big table may take a while; waiting for another
            # host's migrations too.
            self.execute("SET LOCAL statement_timeout = 0")
            self.execute("SET LOCAL lock_timeout = 0")
            self.lock("migrations")
            yield

    def lock(self, name: str) -> None:
        key = int.from_bytes(
            hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
        )
        self.execute("SELECT pg_advisory_xact_lock(?)", [key]).fetchall()

    def health(self, timeout: float) -> str | None:
        """Reads a table within ``timeout`` seconds."""
        try:
            with self.transaction():
                self.execute(f"SET LOCAL statement_timeout = {_milliseconds(timeout)}")
                self.execute("SELECT count(*) FROM pg_class").fetchone()
        except Unavailable as ex:
            return ex.detail
        return None

    def close(self) -> None:
        self._closed = True
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """psycopg's errors as the store's: constraints, waits, lost links."""
        try:
            yield
        except pg_errors.IntegrityError as ex:
            raise IntegrityError(_first_line(ex)) from None
        except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled):
            raise Unavailable(
                "The database is locked by another writer; try again shortly.",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
            raise Unavailable(
                "The database broke off a write that collided with another; try again.",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None
        except psycopg.OperationalError as ex:
            conn = getattr(self._local, "conn", None)
            if conn is not None and conn.broken:
                conn.close()
            raise Unavailable(
                f"The database cannot be reached: {_first_line(ex)}",
                retry_after=RETRY_AFTER_SECONDS,
            ) from None


@functools.lru_cache(maxsize=4096)
def placeholders(sql: str) -> str:
    """``sql`` with ``?`` and ``:name`` as psycopg's ``%s`` and
    ``%(name)s`` (and a literal ``%`` doubled); quoted text and ``::``
    casts are left alone."""
    out, i, n = [], 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n and sql[end] != char:
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif char == "?":
            out.append("%s")
            i += 1
        elif char == "%":
            out.append("%%")
            i += 1
        elif char == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and (name := _NAME.match(sql, i + 1)):
            out.append(f"%({name.group()})s")
            i = name.end()
        else:
            out.append(char)
            i += 1
    return "".join(out)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SCHEMA_TYPES = (
    # A rowid alias on SQLite: an identity column here (never reused).
    (re.compile(r"\bid INTEGER PRIMARY KEY(?: AUTOINCREMENT)?"),
     "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # SQLite's integers are 64-bit
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
)  # fmt: skip


def schema_sql(sql: str) -> str:
    """A migration statement written for SQLite, with PostgreSQL's types."""
    for pattern, replacement in _SCHEMA_TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


def _adapted(params: Params):
    """SQLite stores booleans as 0 and 1; so do the tables here."""
    if isinstance(params, Mapping):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return [int(v) if isinstance(v, bool) else v for v in params]


def _milliseconds(seconds: float) -> int:
    return max(1, int(seconds * 1000))  # 0 would mean "wait forever"


def _first_line(ex: Exception) -> str:
    return str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
