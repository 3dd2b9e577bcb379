"""Reconciliation passes: how far each integration's last pass searched,
and when its next one is due."""

from __future__ import annotations

import math

from host.store.engine import Engine
from host.times import utcnow


class PassStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def due(self, now: float = math.inf, only: int | None = None) -> list[int]:
        """Active integrations used by an active organization whose pass is
        due by ``now`` (by default: all of them), or that have never been
        scheduled; with ``only``, that one if it is such an integration."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT integrations.id FROM integrations"
                " LEFT JOIN reconcile_passes AS passes"
                " ON passes.integration_id = integrations.id"
                " WHERE integrations.status = 'active'"
                " AND (passes.next_due IS NULL OR passes.next_due <= :now)"
                " AND (CAST(:only AS BIGINT) IS NULL OR integrations.id = :only)"
                " AND EXISTS (SELECT 1 FROM organization_integrations AS uses"
                " WHERE uses.integration_id = integrations.id"
                " AND uses.status = 'active')"
                " ORDER BY integrations.id",
                {"now": now, "only": only},
            )
        ]

    def get(self, integration_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM reconcile_passes WHERE integration_id = ?",
            [integration_id],
        ).fetchone()
        return dict(row) if row else None

    def finish(
        self, integration_id: int, polled_until: str, changes: int, checked_after: int
    ) -> None:
        """Record a finished pass: the next one searches from ``polled_until``
        and checks linked issues from the one after ``checked_after``."""
        self.db.execute(
            "INSERT INTO reconcile_passes (integration_id, polled_until, next_due,"
            " last_changes, checked_after, updated_at) VALUES (?, ?, 0, ?, ?, ?)"
            " ON CONFLICT (integration_id) DO UPDATE SET"
            " polled_until = excluded.polled_until,"
            " last_changes = excluded.last_changes,"
            " checked_after = excluded.checked_after,"
            " updated_at = excluded.updated_at",
            [integration_id, polled_until, changes, checked_after, utcnow()],
        )

    def start(
        self, integration_id: int, *, until: float, now: float, next_due: float
    ) -> bool:
        """Hold the integration for a pass until ``until``, unless another
        pass holds it now; one conditional statement, so two passes never
        both start (``next_due``: when the scheduler's first pass of it is
        due, if it had none yet)."""
        return bool(
            self.db.execute(
                "INSERT INTO reconcile_passes (integration_id, next_due,"
                " running_until, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (integration_id) DO UPDATE"
                " SET running_until = excluded.running_until"
                " WHERE reconcile_passes.running_until IS NULL"
                " OR reconcile_passes.running_until < ? RETURNING integration_id",
                [integration_id, next_due, until, utcnow(), now],
            ).fetchall()
        )

    def release(self, integration_id: int) -> None:
        """The pass ended (done or failed): the next may start."""
        self.db.execute(
            "UPDATE reconcile_passes SET running_until = NULL WHERE integration_id = ?",
            [integration_id],
        )

    def take(
        self, integration_id: int, now: float, next_due: float, first_since: str
    ) -> str | None:
        """Move a due pass on to ``next_due``, if no one else did first.

        ``"first"``: the integration had no pass yet (its first is scheduled,
        searching from ``first_since``); ``"due"``: a pass is due now and
        this caller queues it; ``None``: another scheduler took it. Each is
        one conditional statement, so two schedulers never both win.
        """
        inserted = self.db.execute(
            "INSERT INTO reconcile_passes (integration_id, polled_until, next_due,"
            " updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (integration_id) DO NOTHING"
            " RETURNING integration_id",
            [integration_id, first_since, next_due, utcnow()],
        ).fetchall()
        if inserted:
            return "first"
        moved = self.db.execute(
            "UPDATE reconcile_passes SET next_due = ?, updated_at = ?"
            " WHERE integration_id = ? AND next_due <= ? RETURNING integration_id",
            [next_due, utcnow(), integration_id, now],
        ).fetchall()
        return "due" if moved else None
