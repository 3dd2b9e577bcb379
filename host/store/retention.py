"""Deleting what is kept only for a while: old deliveries and jobs."""

from __future__ import annotations

from host.store.engine import Engine

#: Rows one statement deletes: a batch is one short write transaction, so a
#: large backlog never holds the writer lock for long.
BATCH = 500


class RetentionStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def delete_deliveries(self, received_before: str) -> int:
        """Up to :data:`BATCH` processed, ignored or failed deliveries received before
        the ISO time; those still to be applied are never touched."""
        return self.db.execute(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM"
            " webhook_deliveries WHERE status IN ('processed', 'ignored', 'failed')"
            " AND received_at < ? ORDER BY id LIMIT ?)",
            [received_before, BATCH],
        ).rowcount

    def delete_jobs(self, state: str, updated_before: str) -> int:
        """Up to :data:`BATCH` jobs in ``state`` (done or dead) last changed
        before the ISO time."""
        return self.db.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ?"
            " AND updated_at < ? ORDER BY id LIMIT ?)",
            [state, updated_before, BATCH],
        ).rowcount
