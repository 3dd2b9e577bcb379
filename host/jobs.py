"""Durable jobs: enqueueing, and the worker that runs them.

A job is enqueued inside the transaction of the change that causes it. The
worker claims one job at a time with a lease; a job whose worker died is
claimed again once its lease runs out, so handlers must be idempotent.
Failures retry with exponential backoff and jitter (or the delay a handler
asks for through :class:`host.errors.RetryLater`); after ``max_attempts`` the
job is dead-lettered and kept with its last error.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from host.errors import Conflict, NotFound, RetryLater, Unavailable
from host.logs import working_for

if TYPE_CHECKING:
    from host.core import Host
    from host.types import Organization

log = logging.getLogger(__name__)

Handler = Callable[["Host", Mapping[str, Any]], None]

#: The longest a busy worker goes without checkpointing the database.
CHECKPOINT_SECONDS = 1.0
#: How often a worker looks for reconciliation passes that are due.
SCHEDULE_SECONDS = 5.0
#: How long a worker waits before trying a database that was unavailable.
UNAVAILABLE_RETRY_SECONDS = 1.0


class JobQueue:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.handlers: dict[str, Handler] = {
            "delivery.process": lambda host, p: host.inbound.process_delivery(
                p["delivery_id"]
            ),
            "sync.outbound": lambda host, p: host.outbound.run(p),
            "delivery.forward": lambda host, p: host.routing.forward(p),
            "integration.replicate": lambda host, p: host.routing.replicate(p),
            "integration.reconcile": lambda host, p: host.reconcile.run(
                p["integration_id"]
            ),
        }
        #: What to record, by kind, when a job is dead-lettered.
        self.on_dead: dict[str, Callable[[Host, Mapping[str, Any], str], None]] = {
            "delivery.process": lambda host, p, error: host.inbound.failed(
                p["delivery_id"], error
            ),
        }

    def enqueue(self, kind: str, payload: Mapping[str, Any], delay: float = 0) -> int:
        """Queue a job; call inside the transaction that causes it."""
        if kind not in self.handlers:
            raise ValueError(f"Unknown job kind: {kind}")
        return self.host.store.jobs.enqueue(
            kind,
            payload,
            run_at=self.host.clock() + delay,
            max_attempts=self.host.config.jobs.max_attempts,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure (with jitter)."""
        settings = self.host.config.jobs
        delay = settings.backoff_base_seconds * 2 ** max(attempts - 1, 0)
        delay = min(delay, settings.backoff_max_seconds)
        return delay * random.uniform(0.5, 1.0)

    def retry(self, job_id: int) -> bool:
        """Requeue a dead job; ``False`` when there is no such dead job."""
        with self.host.store.transaction():
            return self.host.store.jobs.retry(job_id, now=self.host.clock())

    def dead_letters(
        self, organization: Organization, limit: int, before_id: int | None = None
    ) -> list[dict]:
        """The organization's dead-lettered jobs, newest first."""
        return self.host.store.jobs.dead_for_organization(
            organization.id, limit, before_id
        )

    def retry_for(self, organization: Organization, job_id: int) -> dict:
        """Requeue one of the organization's dead-lettered jobs; return it.

        :raises NotFound: no such job concerns the organization.
        :raises Conflict: the job is not dead-lettered (it is queued, running
            or done).
        """
        store = self.host.store
        job = store.jobs.get(job_id)
        if job is None or not store.jobs.concerns(job_id, organization.id):
            raise NotFound(f"Job {job_id} not found.")
        if not self.retry(job_id):
            raise Conflict(f"Job {job_id} is {job['state']}, not dead-lettered.")
        return store.jobs.get(job_id)


class Worker:
    """Claims and runs jobs until told to stop."""

    def __init__(self, host: Host, name: str | None = None) -> None:
        self.host = host
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()

    def run_once(self) -> dict | None:
        """Claim and run one due job; return it, or ``None`` when idle."""
        store, settings = self.host.store, self.host.config.jobs
        job = store.jobs.claim(
            self.name, now=self.host.clock(), lease_seconds=settings.lease_seconds
        )
        if job is None:
            return None
        handler = self.host.jobs.handlers.get(job["kind"])
        with working_for(f"job-{job['id']}"):
            try:
                if handler is None:
                    raise LookupError(f"No handler for job kind {job['kind']!r}")
                handler(self.host, job["payload"])
            except RetryLater as ex:
                self._failed(job, ex.reason, ex.delay)
            except Unavailable as ex:
                # The database, not the job: try again soon (the lease
                # brings it back if even this cannot be written).
                self._failed(job, ex.detail, UNAVAILABLE_RETRY_SECONDS)
            except Exception as ex:
                log.exception("job %s (%s) failed", job["id"], job["kind"])
                self._failed(job, f"{type(ex).__name__}: {ex}", None)
            else:
                store.jobs.finish(job["id"], self.name)
        self.host.metrics.flush(store)
        return job

    def _failed(self, job: dict, error: str, delay: float | None) -> None:
        jobs = self.host.store.jobs
        if job["attempts"] >= job["max_attempts"]:
            log.warning("job %s dead after %s attempts", job["id"], job["attempts"])
            jobs.bury(job["id"], self.name, error)
            record = self.host.jobs.on_dead.get(job["kind"])
            if record is not None:
                record(self.host, job["payload"], error)
            return
        if delay is None:
            delay = self.host.jobs.backoff(job["attempts"])
        jobs.reschedule(job["id"], self.name, self.host.clock() + delay, error)

    def run(self) -> None:
        """Run jobs until :meth:`stop`; the job in hand is always finished.

        The worker also checkpoints the database (web requests leave that to
        it, see :mod:`host.store.db`): whenever it is idle, and at least once
        every ``CHECKPOINT_SECONDS`` while busy. Every ``SCHEDULE_SECONDS``
        it queues the reconciliation passes that are due and deletes what
        has been kept long enough (:mod:`host.services.retention`).
        """
        poll = self.host.config.jobs.poll_interval_seconds
        log.info("worker %s started", self.name)
        checkpointed = scheduled = time.monotonic()
        self._schedule()
        unavailable = None
        while not self.stopping.is_set():
            try:
                idle = self.run_once() is None
                if idle or time.monotonic() - checkpointed > CHECKPOINT_SECONDS:
                    self.host.store.checkpoint()
                    checkpointed = time.monotonic()
            except Unavailable as ex:
                if unavailable is None:
                    log.warning("%s; the worker waits and goes on", ex.detail)
                unavailable = ex
                self.stopping.wait(UNAVAILABLE_RETRY_SECONDS)
                continue
            if unavailable is not None:
                log.info("the database is available again; the worker goes on")
                unavailable = None
            if time.monotonic() - scheduled > SCHEDULE_SECONDS:
                self._schedule()
                scheduled = time.monotonic()
            if idle:
                self.host.metrics.flush(self.host.store, force=True)
                self.stopping.wait(poll)
        self.host.metrics.flush(self.host.store, force=True)
        log.info("worker %s stopped", self.name)

    def _schedule(self) -> None:
        try:
            self.host.reconcile.schedule_due()
        except Exception:  # never let scheduling stop the worker's jobs
            log.exception("scheduling reconciliation passes failed")
        try:
            self.host.retention.sweep()
        except Exception:
            log.exception("deleting expired deliveries and jobs failed")

    def stop(self) -> None:
        self.stopping.set()
