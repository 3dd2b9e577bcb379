"""The narrow storage interface domain services use.

Services never build SQL: they call these repositories, which run on
either engine (:mod:`host.store.engine`): SQLite through sqlite-utils, the
embedded, zero-setup default, or PostgreSQL for several hosts and workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from host import sealing
from host.schema import MigrationSet
from host.sealing import SecretBox
from host.store.db import DEFAULT_WRITE_TIMEOUT_SECONDS
from host.store.deliveries import DeliveryStore
from host.store.engine import Engine, IntegrityError, connect, is_postgresql
from host.store.events import EventStore
from host.store.groups import GroupStore
from host.store.hooks import HookStore
from host.store.idempotency import IdempotencyStore
from host.store.integrations import IntegrationStore
from host.store.jobs import JobStore
from host.store.metrics import MetricStore
from host.store.migrations import apply_all, pending_names
from host.store.organizations import OrganizationStore
from host.store.passes import PassStore
from host.store.pipelines import PipelineStore
from host.store.retention import RetentionStore
from host.store.rules import RuleStore
from host.store.tracker_health import TrackerHealthStore

if TYPE_CHECKING:
    from host.config import Config

#: (table, key column, sealed column): every secret the database holds.
SEALED_COLUMNS = (
    ("credentials", "integration_id", "data"),
    ("installation_credentials", "organization_integration_id", "data"),
    ("setup_pipelines", "id_hash", "state"),
    ("forwards", "id", "path"),
    ("hooks", "id", "secret"),
)


class Store:
    """One database connection and the repositories built on it."""

    def __init__(self, db: Engine, box: SecretBox) -> None:
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
        self.events = EventStore(db)
        self.hooks = HookStore(db, box)
        self.rules = RuleStore(db)

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
        :raises SecretKeyError: a PostgreSQL database without ``secret_key``
            (every host must seal with the same keys: a key file is one
            machine's).
        """
        if is_postgresql(path) and not secret_key:
            raise sealing.SecretKeyError(
                "A PostgreSQL database is shared by every host, so they must seal"
                " secrets with the same key: set TRACKBRIDGE_SECRET_KEY or [host]"
                " secret_key (`trackbridge rotate-key --print-new-key` makes one);"
                " the key file beside a SQLite database is one machine's."
            )
        engine = connect(path, write_timeout)
        return cls(engine, SecretBox.for_database(path, secret_key))

    @classmethod
    def for_config(cls, config: Config) -> Store:
        """The configured database, sealed with the configured key."""
        return cls.open(
            config.database,
            secret_key=config.secret_key,
            write_timeout=config.write_timeout_seconds,
        )

    def seal_secrets(
        self, *, again: bool = False, plugin_columns: Iterable[tuple] = ()
    ) -> int:
        """Seal every stored secret still in plaintext (an older version wrote
        them so); with ``again``, re-seal all of them with the first key.
        ``plugin_columns``: the plugins' sealed columns, as the host's.

        :raises SecretKeyError: a sealed secret does not open with the keys.
        :returns: how many values were (re)sealed.
        """
        sealed = 0
        with self.db.transaction():
            for table, key, column in (*SEALED_COLUMNS, *plugin_columns):
                for row_key, stored in self.db.execute(
                    f"SELECT {key}, {column} FROM {table}{self.db.for_update}"
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
        with self.db.transaction(timeout):
            yield self

    def migrate(self, plugin_sets: Iterable[MigrationSet] = ()) -> list[str]:
        """Apply pending migrations, once however many processes start
        together (one transaction under the engine's migration lock)."""
        return apply_all(self.db, list(plugin_sets))

    def pending(self, plugin_sets: Iterable[MigrationSet] = ()) -> list[str]:
        return pending_names(self.db, list(plugin_sets))

    def health(self, timeout: float) -> str | None:
        """What keeps the database from being read or written, if anything
        (each check waits at most ``timeout`` seconds)."""
        return self.db.health(timeout)

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (the job worker calls this)."""
        self.db.checkpoint()

    def close(self) -> None:
        self.db.close()


__all__ = ["IntegrityError", "Store"]
