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
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        run_at: float,
        max_attempts: int,
        integration_id: int = 0,
    ) -> int:
        """Queue a job; ``integration_id``: the integration it works for
        (its tracker), 0 for none."""
        now = utcnow()
        cursor = self.db.execute(
            "INSERT INTO jobs (kind, payload, max_attempts, run_at, integration_id,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [kind, rows.dumps(dict(payload)), max_attempts, run_at, integration_id,
             now, now],
        )  # fmt: skip
        return cursor.lastrowid

    def claim(
        self,
        worker: str,
        *,
        now: float,
        lease_seconds: float,
        per_integration: int | None = None,
        after: int = -1,
    ) -> dict | None:
        """Take a job, or ``None``: first one whose lease ran out (its worker
        died), else the earliest due job of the next integration after
        ``after`` (in id order, wrapping around) that runs fewer than
        ``per_integration`` jobs now. Each step is an index seek: the cost
        does not grow with the backlog (``tests/test_jobs.py`` holds the
        query plans), only with the integrations skipped.
        """
        with write(self.db):
            job_id = self._expired(now) or self._next_due(now, per_integration, after)
            if job_id is None:
                return None
            row = self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                " lease_until = ?, worker = ?, updated_at = ? WHERE id = ?"
                " RETURNING *",
                [now + lease_seconds, worker, utcnow(), job_id],
            ).fetchone()
        return self._job(row)

    def _expired(self, now: float) -> int | None:
        row = self.db.execute(
            "SELECT id FROM jobs WHERE state = 'running' AND lease_until < ?"
            " ORDER BY lease_until, id LIMIT 1",
            [now],
        ).fetchone()
        return row[0] if row else None

    def _next_due(self, now: float, per_integration: int | None, after: int):
        full = self.saturated(now, per_integration) if per_integration else set()
        cursor, wrapped = after, False
        while True:
            row = self.db.execute(
                "SELECT id, integration_id, run_at FROM jobs"
                " WHERE state = 'queued' AND integration_id > ?"
                " ORDER BY integration_id, run_at, id LIMIT 1",
                [cursor],
            ).fetchone()
            if row is None:
                if wrapped or after < 0:
                    return None
                cursor, wrapped = -1, True
                continue
            job_id, integration_id, run_at = row
            if wrapped and integration_id > after:
                return None  # around once: nothing claimable
            if run_at <= now and integration_id not in full:
                return job_id
            cursor = integration_id  # not due, or at its cap: the next one

    def saturated(self, now: float, per_integration: int) -> set[int]:
        """Integrations (not 0) with ``per_integration`` jobs running now."""
        return {
            row[0]
            for row in self.db.execute(
                "SELECT integration_id FROM jobs WHERE state = 'running'"
                " AND lease_until >= ? AND integration_id != 0"
                " GROUP BY integration_id HAVING count(*) >= ?",
                [now, per_integration],
            )
        }

    def extend(self, job_id: int, worker: str, attempt: int, until: float) -> bool:
        """Renew a running job's lease; ``False`` if it is no longer ours."""
        cursor = self.db.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running'"
            " AND worker = ? AND attempts = ?",
            [until, job_id, worker, attempt],
        )
        return cursor.rowcount > 0

    #: A job's outcome is recorded only by the claim that ran it: the same
    #: worker, and the same attempt (a worker runs several jobs at once).
    _OURS = "id = ? AND state = 'running' AND worker = ? AND attempts = ?"

    def finish(self, job_id: int, worker: str, attempt: int) -> bool:
        """Mark done, only if this claim still holds the job's lease."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,"
            f" updated_at = ? WHERE {self._OURS}",
            [utcnow(), job_id, worker, attempt],
        )
        return cursor.rowcount > 0

    def reschedule(
        self, job_id: int, worker: str, attempt: int, run_at: float, error: str
    ) -> bool:
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', run_at = ?, lease_until = NULL,"
            f" last_error = ?, updated_at = ? WHERE {self._OURS}",
            [run_at, error, utcnow(), job_id, worker, attempt],
        )
        return cursor.rowcount > 0

    def bury(self, job_id: int, worker: str, attempt: int, error: str) -> bool:
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?,"
            f" updated_at = ? WHERE {self._OURS}",
            [error, utcnow(), job_id, worker, attempt],
        )
        return cursor.rowcount > 0

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
