"""Trackers that stopped answering: one row per integration while it fails.

A row exists from an integration's first failed call (timeout, refused or
failed connection) until its next answer; ``opened_at`` is set once the
failures in a row reach the threshold (the circuit is open), and
``probe_at`` says when the next call may try the tracker again. Every
process reads and writes the same rows, so every worker holds back the same
jobs. The rules live in :mod:`host.breakers`.
"""

from __future__ import annotations

from host.store.engine import Engine


class TrackerHealthStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def failed(
        self,
        integration_id: int,
        *,
        now: float,
        error: str,
        threshold: int,
        first_wait: float,
        max_wait: float,
    ) -> tuple[dict, bool]:
        """Count a failed call; return the row and whether the circuit opened
        with it (not when it was open already).

        A failure while the circuit is open and its probe is due (the probe
        failed) doubles the wait, up to ``max_wait``; failures of calls that
        started before it opened change nothing but the count.
        """
        with self.db.transaction():
            self.db.lock(f"tracker_health:{integration_id}")  # one count at a time
            row = self.get(integration_id)
            if row is None:
                row = {
                    "integration_id": integration_id,
                    "failures": 0,
                    "failing_since": now,
                    "opened_at": None,
                    "probe_at": None,
                    "wait_seconds": None,
                }
            row["failures"] += 1
            row["last_error"] = error[:500]
            opened = False
            if row["opened_at"] is None:
                if row["failures"] >= threshold:
                    row.update(opened_at=now, probe_at=now + first_wait)
                    row["wait_seconds"] = first_wait
                    opened = True
            elif now >= row["probe_at"]:
                wait = min(row["wait_seconds"] * 2, max_wait)
                row.update(probe_at=now + wait, wait_seconds=wait)
            self.db.execute(
                "INSERT INTO tracker_health (integration_id, failures,"
                " failing_since, last_error, opened_at, probe_at, wait_seconds)"
                " VALUES (:integration_id, :failures, :failing_since, :last_error,"
                " :opened_at, :probe_at, :wait_seconds)"
                " ON CONFLICT (integration_id) DO UPDATE SET"
                " failures = excluded.failures, last_error = excluded.last_error,"
                " opened_at = excluded.opened_at, probe_at = excluded.probe_at,"
                " wait_seconds = excluded.wait_seconds",
                row,
            )
        return row, opened

    def answered(self, integration_id: int) -> dict | None:
        """The tracker answered: forget its failures; the row it had, if any."""
        row = self.db.execute(
            "DELETE FROM tracker_health WHERE integration_id = ? RETURNING *",
            [integration_id],
        ).fetchone()
        return dict(row) if row else None

    def get(self, integration_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM tracker_health WHERE integration_id = ?", [integration_id]
        ).fetchone()
        return dict(row) if row else None

    def all(self) -> dict[int, dict]:
        """Every failing integration's row, with its ``provider``."""
        return {
            row["integration_id"]: dict(row)
            for row in self.db.execute(
                "SELECT h.*, i.provider FROM tracker_health AS h"
                " JOIN integrations AS i ON i.id = h.integration_id"
            )
        }
