"""The narrow storage interface domain services use.

Services never build SQL: they call these repositories, so a PostgreSQL
backend can later implement the same methods. SQLite through sqlite-utils
is the embedded, zero-setup default.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database, Migrations

from host import sealing
from host.errors import Unavailable
from host.sealing import SecretBox
from host.store.db import (
    DEFAULT_WRITE_TIMEOUT_SECONDS,
    connect,
    write,
)
from host.store.deliveries import DeliveryStore
from host.store.groups import GroupStore
from host.store.idempotency import IdempotencyStore
from host.store.integrations import IntegrationStore
from host.store.jobs import JobStore
from host.store.metrics import MetricStore
from host.store.migrations import apply_all, pending_names
from host.store.organizations import OrganizationStore
from host.store.passes import PassStore
from host.store.pipelines import PipelineStore
from host.store.retention import RetentionStore
from host.store.tracker_health import TrackerHealthStore

if TYPE_CHECKING:
    from host.config import Config

#: (table, key column, sealed column): every secret the database holds.
SEALED_COLUMNS = (
    ("credentials", "integration_id", "data"),
    ("installation_credentials", "organization_integration_id", "data"),
    ("setup_pipelines", "id_hash", "state"),
    ("forwards", "id", "path"),
)


class Store:
    """One database connection and the repositories built on it."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box
        self.organizations = OrganizationStore(db)
        self.groups = GroupStore(db)
        self.integrations = IntegrationStore(db, box)
        self.deliveries = DeliveryStore(db, box)
        self.jobs = JobStore(db)
        self.pipelines = PipelineStore(db, box)
        self.passes = PassStore(db)
        self.metrics = MetricStore(db)
        self.retention = RetentionStore(db)
        self.tracker_health = TrackerHealthStore(db)
        self.idempotency = IdempotencyStore(db)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        secret_key: str | None = None,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS,
    ) -> Store:
        """Open ``path``; secrets are sealed with ``secret_key`` (comma-separated
        keys, the first sealing), else with the key file beside the database.

        :raises DatabaseUnavailable: it cannot be opened (the message says
            which path needs which permission).
        """
        return cls(
            connect(path, write_timeout), SecretBox.for_database(path, secret_key)
        )

    @classmethod
    def for_config(cls, config: Config) -> Store:
        """The configured database, sealed with the configured key."""
        return cls.open(
            config.database,
            secret_key=config.secret_key,
            write_timeout=config.write_timeout_seconds,
        )

    def seal_secrets(self, *, again: bool = False) -> int:
        """Seal every stored secret still in plaintext (an older version wrote
        them so); with ``again``, re-seal all of them with the first key.

        :raises SecretKeyError: a sealed secret does not open with the keys.
        :returns: how many values were (re)sealed.
        """
        sealed = 0
        with write(self.db):
            for table, key, column in SEALED_COLUMNS:
                for row_key, stored in self.db.execute(
                    f"SELECT {key}, {column} FROM {table}"
                ).fetchall():
                    if not again and stored.startswith(sealing.PREFIX):
                        self.box.open(stored)  # the keys must still open it
                        continue
                    self.db.execute(
                        f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                        [self.box.reseal(stored), row_key],
                    )
                    sealed += 1
        return sealed

    @contextlib.contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[Store]:
        """Group writes atomically (``BEGIN IMMEDIATE``; nested: savepoint).

        :param timeout: seconds to wait for the write lock (default
            ``[host] write_timeout_seconds``; 0: only if it is free now).
        :raises Unavailable: the lock was not had in time.
        """
        with write(self.db, timeout):
            yield self

    def migrate(self, plugin_sets: Iterable[Migrations] = ()) -> list[str]:
        """Apply pending migrations under the write lock (safe across processes).

        Foreign keys are off while they run, as SQLite's own procedure for
        rebuilding a table asks (dropping the old copy would otherwise cascade
        to every row that refers to it), and checked before the commit.
        """
        self.db.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with write(self.db):
                applied = apply_all(self.db, list(plugin_sets))
                broken = self.db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migrations left rows without their parent: {broken[:5]}"
                    )
        finally:
            self.db.conn.execute("PRAGMA foreign_keys = ON")
        return applied

    def pending(self, plugin_sets: Iterable[Migrations] = ()) -> list[str]:
        return pending_names(self.db, list(plugin_sets))

    def health(self, timeout: float) -> str | None:
        """What keeps the database from being read or written, if anything.

        Reads a table and takes the write lock (then lets go, writing
        nothing), each waiting at most ``timeout`` seconds.
        """
        try:
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            with write(self.db, timeout):
                pass
        except Unavailable as ex:  # locked, or cannot be opened
            return ex.detail
        except sqlite3.Error as ex:
            return f"The database cannot be read: {ex}"
        return None

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (the job worker calls this)."""
        self.db.checkpoint()

    def close(self) -> None:
        self.db.close()


__all__ = ["Store"]
