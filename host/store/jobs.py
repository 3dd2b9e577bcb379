"""The durable job queue, in the same database as the data it changes.

Enqueueing inside the caller's transaction means a job exists exactly when
the change that caused it was committed. Claiming sets a lease; a job whose
lease ran out (its worker died) is claimable again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from host.store import rows
from host.store.engine import Engine
from host.times import utcnow

#: A job concerns an organization when it works for it, or for an
#: integration it uses (its lane: the integration's tracker calls or, as a
#: negative id, its inbound applies). Jobs of a shared integration concern
#: every organization using it, as its deliveries do.
_CONCERNS = """(
    jobs.organization_id = :org
    OR EXISTS (SELECT 1 FROM organization_integrations AS uses
        WHERE uses.organization_id = :org AND uses.integration_id = abs(jobs.lane))
)"""


#: Below every lane (inbound lanes are negative integration ids).
_BEFORE_EVERY_LANE = -(2**63)


class JobStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        run_at: float,
        max_attempts: int,
        lane: int = 0,
        organization_id: int = 0,
    ) -> int:
        """Queue a job.

        :param lane: what claims share workers out by (see :meth:`claim`):
            the integration whose tracker the job calls, its negation for
            that integration's inbound applies, 0 for none.
        :param organization_id: the organization it works for, 0 for
            several or none.
        """
        now = utcnow()
        cursor = self.db.execute(
            "INSERT INTO jobs (kind, payload, max_attempts, run_at, lane,"
            " organization_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [kind, rows.dumps(dict(payload)), max_attempts, run_at, lane,
             organization_id, now, now],
        )  # fmt: skip
        return rows.inserted_id(cursor)

    def claim(
        self,
        worker: str,
        *,
        now: float,
        lease_seconds: float,
        per_integration: int | None = None,
        after: int | None = None,
        paused: frozenset[int] = frozenset(),
        probing: frozenset[int] = frozenset(),
    ) -> dict | None:
        """Take a job, or ``None``: first one whose lease ran out (its worker
        died), else the earliest due job of the next lane after ``after``
        (in lane order, wrapping around) that may run one more job now.

        A lane (except 0) and an organization (except 0) may run
        ``per_integration`` jobs at once; an inbound lane (negative: what a
        tracker sent) one, so deliveries apply in order and never contend
        with each other for the write lock; a lane in ``probing`` one (its
        tracker is being tried again), one in ``paused`` none (its tracker
        is not answering, see :mod:`host.breakers`). Each step is an index
        seek: the cost does not grow with the backlog (``tests/test_jobs.py``
        holds the query plans), only with the lanes skipped.
        """
        with self.db.transaction():
            # The caps count what runs, then claim: one claim at a time (on
            # SQLite the writer is exclusive anyway).
            self.db.lock("jobs.claim")
            job_id = self._expired(now) or self._next_due(
                now, per_integration, after, paused, probing
            )
            if job_id is None:
                return None
            row = self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                " lease_until = ?, worker = ?, updated_at = ? WHERE id = ?"
                " AND (state = 'queued' OR lease_until < ?) RETURNING *",
                [now + lease_seconds, worker, utcnow(), job_id, now],
            ).fetchone()
        return self._job(row) if row else None

    def _expired(self, now: float) -> int | None:
        row = self.db.execute(
            # Any one: running jobs are few, and each expired one is taken
            # by the next claims.
            "SELECT id FROM jobs WHERE state = 'running' AND lease_until < ?"
            f" LIMIT 1{self.db.skip_locked}",
            [now],
        ).fetchone()
        return row[0] if row else None

    def _next_due(self, now, per_integration, after, paused, probing):
        by_lane, by_organization = self.running(now)
        full_lanes = set(paused) | {
            lane
            for lane, count in by_lane.items()
            if lane < 0  # inbound: one at a time, in order
            or lane in probing  # a probe is one job
            or (per_integration and count >= per_integration)
        }
        full_organizations = {
            organization
            for organization, count in by_organization.items()
            if per_integration and count >= per_integration
        }
        start = _BEFORE_EVERY_LANE if after is None else after
        cursor, wrapped = start, False
        while True:
            row = self.db.execute(
                "SELECT id, lane, organization_id, run_at FROM jobs"
                " WHERE state = 'queued' AND lane > ?"
                f" ORDER BY lane, run_at, id LIMIT 1{self.db.skip_locked}",
                [cursor],
            ).fetchone()
            if row is None:
                if wrapped or after is None:
                    return None
                cursor, wrapped = _BEFORE_EVERY_LANE, True
                continue
            job_id, lane, organization_id, run_at = row
            if wrapped and lane > start:
                return None  # around once: nothing claimable
            if (
                run_at <= now
                and lane not in full_lanes
                and organization_id not in full_organizations
            ):
                return job_id
            cursor = lane  # not due, or at a cap: the next lane

    def running(self, now: float) -> tuple[Counter, Counter]:
        """Jobs running now by lane and by organization (0s left out)."""
        by_lane: Counter = Counter()
        by_organization: Counter = Counter()
        for lane, organization, count in self.db.execute(
            "SELECT lane, organization_id, count(*) FROM jobs WHERE state = 'running'"
            " AND lease_until >= ? GROUP BY lane, organization_id",
            [now],
        ):
            if lane:
                by_lane[lane] += count
            if organization:
                by_organization[organization] += count
        return by_lane, by_organization

    def extend(self, job_id: int, worker: str, attempt: int, until: float) -> bool:
        """Renew a running job's lease; ``False`` if it is no longer ours."""
        cursor = self.db.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running'"
            " AND worker = ? AND attempts = ?",
            [until, job_id, worker, attempt],
        )
        return cursor.rowcount > 0

    def holds(self, job_id: int, worker: str, attempt: int) -> bool:
        """Whether this claim (worker and attempt) still holds the job; in a
        transaction, the job's row stays locked until it ends (so a fenced
        commit cannot interleave with a takeover)."""
        return (
            self.db.execute(
                f"SELECT 1 FROM jobs WHERE {self._OURS}{self.db.for_update}",
                [job_id, worker, attempt],
            ).fetchone()
            is not None
        )  # fmt: skip

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
        self,
        job_id: int,
        worker: str,
        attempt: int,
        run_at: float,
        error: str,
        *,
        counted: bool = True,
    ) -> bool:
        """Queue the job again for ``run_at``; ``counted=False``: this
        attempt does not count (its tracker was not answering: the job did
        not fail)."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', run_at = ?, lease_until = NULL,"
            " attempts = attempts - ?, last_error = ?, updated_at = ?"
            f" WHERE {self._OURS}",
            [run_at, 0 if counted else 1, error, utcnow(), job_id, worker, attempt],
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
