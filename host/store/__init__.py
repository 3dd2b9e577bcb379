"""The narrow storage interface domain services use.

Services never build SQL: they call these repositories, so a PostgreSQL
backend can later implement the same methods. SQLite through sqlite-utils
is the embedded, zero-setup default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlite_utils import Database, Migrations

from host.store.db import connect, write
from host.store.deliveries import DeliveryStore
from host.store.groups import GroupStore
from host.store.integrations import IntegrationStore
from host.store.jobs import JobStore
from host.store.migrations import apply_all, pending_names
from host.store.organizations import OrganizationStore
from host.store.pipelines import PipelineStore


class Store:
    """One database connection and the repositories built on it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.organizations = OrganizationStore(db)
        self.groups = GroupStore(db)
        self.integrations = IntegrationStore(db)
        self.deliveries = DeliveryStore(db)
        self.jobs = JobStore(db)
        self.pipelines = PipelineStore(db)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        return cls(connect(path))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes atomically (``BEGIN IMMEDIATE``; nested: savepoint)."""
        with write(self.db):
            yield self

    def migrate(self, plugin_sets: Iterable[Migrations] = ()) -> list[str]:
        """Apply pending migrations under the write lock (safe across processes)."""
        with write(self.db):
            return apply_all(self.db, list(plugin_sets))

    def pending(self, plugin_sets: Iterable[Migrations] = ()) -> list[str]:
        return pending_names(self.db, list(plugin_sets))

    def ping(self) -> bool:
        return self.db.execute("SELECT 1").fetchone()[0] == 1

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (the job worker calls this)."""
        self.db.checkpoint()

    def close(self) -> None:
        self.db.close()


__all__ = ["Store"]
