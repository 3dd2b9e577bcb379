"""The durable job queue, in the same database as the data it changes.

Enqueueing inside the caller's transaction means a job exists exactly when
the change that caused it was committed. Claiming sets a lease; a job whose
lease ran out (its worker died) is claimable again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from host.store import rows
from host.store.db import utcnow, write

#: A job concerns an organization when its payload names the organization,
#: an integration it uses, or a delivery to such an integration. (Jobs of a
#: shared integration concern every organization using it, as its
#: deliveries do.)
_CONCERNS = """(
    json_extract(jobs.payload, '$.organization_id') = :org
    OR EXISTS (SELECT 1 FROM organization_integrations AS uses
        WHERE uses.organization_id = :org
        AND uses.integration_id = json_extract(jobs.payload, '$.integration_id'))
    OR EXISTS (SELECT 1 FROM webhook_deliveries AS d
        JOIN organization_integrations AS uses
        ON uses.integration_id = d.integration_id
        WHERE d.id = json_extract(jobs.payload, '$.delivery_id')
        AND uses.organization_id = :org)
)"""


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(
        self, kind: str, payload: Mapping[str, Any], *, run_at: float, max_attempts: int
    ) -> int:
        now = utcnow()
        cursor = self.db.execute(
            "INSERT INTO jobs (kind, payload, max_attempts, run_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [kind, rows.dumps(dict(payload)), max_attempts, run_at, now, now],
        )
        return cursor.lastrowid

    def claim(self, worker: str, *, now: float, lease_seconds: float) -> dict | None:
        """Take the next due job (or one whose lease expired), or ``None``."""
        with write(self.db):
            row = self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                " lease_until = ?, worker = ?, updated_at = ?"
                " WHERE id = (SELECT id FROM jobs WHERE"
                " (state = 'queued' AND run_at <= ?)"
                " OR (state = 'running' AND lease_until < ?)"
                " ORDER BY run_at, id LIMIT 1)"
                " RETURNING *",
                [now + lease_seconds, worker, utcnow(), now, now],
            ).fetchone()
        return self._job(row) if row else None

    def finish(self, job_id: int, worker: str) -> bool:
        """Mark done, only if ``worker`` still holds the job's lease."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,"
            " updated_at = ? WHERE id = ? AND state = 'running' AND worker = ?",
            [utcnow(), job_id, worker],
        )
        return cursor.rowcount > 0

    def reschedule(self, job_id: int, worker: str, run_at: float, error: str) -> None:
        self.db.execute(
            "UPDATE jobs SET state = 'queued', run_at = ?, lease_until = NULL,"
            " last_error = ?, updated_at = ?"
            " WHERE id = ? AND state = 'running' AND worker = ?",
            [run_at, error, utcnow(), job_id, worker],
        )

    def bury(self, job_id: int, worker: str, error: str) -> None:
        self.db.execute(
            "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?,"
            " updated_at = ? WHERE id = ? AND state = 'running' AND worker = ?",
            [error, utcnow(), job_id, worker],
        )

    def retry(self, job_id: int, *, now: float) -> bool:
        """Put a dead job back in the queue with fresh attempts."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?,"
            " updated_at = ? WHERE id = ? AND state = 'dead'",
            [now, utcnow(), job_id],
        )
        return cursor.rowcount > 0

    def dead_for_organization(
        self, organization_id: int, limit: int, before_id: int | None = None
    ) -> list[dict]:
        """Dead-lettered jobs that concern the organization, newest first."""
        cursor = self.db.execute(
            f"SELECT * FROM jobs WHERE state = 'dead' AND id < :before AND {_CONCERNS}"
            " ORDER BY id DESC LIMIT :limit",
            {"before": before_id or 2**62, "org": organization_id, "limit": limit},
        )
        return [self._job(row) for row in cursor]

    def concerns(self, job_id: int, organization_id: int) -> bool:
        return (
            self.db.execute(
                f"SELECT 1 FROM jobs WHERE id = :job AND {_CONCERNS}",
                {"job": job_id, "org": organization_id},
            ).fetchone()
            is not None
        )

    def get(self, job_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", [job_id]).fetchone()
        return self._job(row) if row else None

    def list(self, states: tuple[str, ...] = (), limit: int = 100) -> list[dict]:
        where = ""
        if states:
            where = f"WHERE state IN ({', '.join('?' for _ in states)})"
        cursor = self.db.execute(
            f"SELECT * FROM jobs {where} ORDER BY id DESC LIMIT ?", [*states, limit]
        )
        return [self._job(row) for row in cursor]

    @staticmethod
    def _job(row) -> dict:
        job = dict(row)
        job["payload"] = rows.loads(job["payload"])
        return job
