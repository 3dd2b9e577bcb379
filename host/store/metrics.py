"""Shared counters, and the figures ``GET /metrics`` reads from the tables."""

from __future__ import annotations

from collections.abc import Mapping

from host.store.engine import Engine


class MetricStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def add(self, deltas: Mapping[tuple[str, str], float]) -> None:
        """Add to each ``(name, labels)`` series (call in a transaction).

        In key order: two processes flushing the same series lock their rows
        in the same order, so a row-locking engine cannot deadlock on them."""
        self.db.executemany(
            "INSERT INTO metric_series (name, labels, value) VALUES (?, ?, ?)"
            " ON CONFLICT (name, labels) DO UPDATE"
            " SET value = metric_series.value + excluded.value",
            [(name, labels, value) for (name, labels), value in sorted(deltas.items())],
        )

    def series(self) -> list[tuple[str, str, float]]:
        return [
            tuple(row)
            for row in self.db.execute(
                "SELECT name, labels, value FROM metric_series ORDER BY name, labels"
            )
        ]

    def jobs_by_state(self) -> dict[str, int]:
        # Counted through the jobs_due index (state first): done jobs pile up.
        return dict(
            self.db.execute(
                "SELECT state, count(*) FROM jobs GROUP BY state"
            ).fetchall()
        )

    def oldest_due_job(self, now: float) -> float | None:
        """``run_at`` of the longest-waiting queued job that is due."""
        return self.db.execute(
            "SELECT min(run_at) FROM jobs WHERE state = 'queued' AND run_at <= ?",
            [now],
        ).fetchone()[0]
