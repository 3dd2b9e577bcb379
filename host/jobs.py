"""Durable jobs: enqueueing, and the worker that runs them.

A job is enqueued inside the transaction of the change that causes it (and
wakes the idle workers once that commits, see :mod:`host.wakeup`). A
worker runs several jobs at once, each claimed with a lease it renews while
the job runs; a job whose worker died is claimed again once its lease runs
out, so handlers must be idempotent.
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
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from host import wakeup
from host.errors import Conflict, NotFound, RetryLater, Unavailable
from host.logs import working_for
from host.store.engine import LeaseLost

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
            "integration.reconcile": lambda host, p: host.reconcile.run_queued(
                p["integration_id"]
            ),
            "hooks.deliver": lambda host, p: host.hooks.deliver(p),
            "hooks.redeliver": lambda host, p: host.hooks.redeliver_job(p),
            "rules.create": lambda host, p: host.rules.run(p),
        }
        #: What to record, by kind, when a job is dead-lettered.
        self.on_dead: dict[str, Callable[[Host, Mapping[str, Any], str], None]] = {
            "delivery.process": lambda host, p, error: host.inbound.failed(
                p["delivery_id"], error
            ),
            "sync.outbound": lambda host, p, error: host.outbound.dead(p, error),
            "rules.create": lambda host, p, error: host.rules.failed(p, error),
            "hooks.deliver": lambda host, p, error: host.hooks.dead(p, error),
        }

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        delay: float = 0,
        *,
        integration_id: int | None = None,
        inbound: bool = False,
    ) -> int:
        """Queue a job; call inside the transaction that causes it.

        :param integration_id: the integration whose tracker the job calls
            (default: the payload's ``integration_id``, else none): claims
            share the workers out between integrations by it, and between
            organizations by the payload's ``organization_id``.
        :param inbound: the job applies what the integration's tracker sent
            (it rarely calls the tracker): it has a lane of its own, so it
            never waits behind the calls of that tracker's other jobs.
        """
        if kind not in self.handlers:
            raise ValueError(f"Unknown job kind: {kind}")
        if integration_id is None:
            integration_id = int(payload.get("integration_id") or 0)
        if self.host.store.db.wake_key is not None:
            self.host.store.db.after_commit(self._wake_workers)
        return self.host.store.jobs.enqueue(
            kind,
            payload,
            run_at=self.host.clock() + delay,
            max_attempts=self.host.config.jobs.max_attempts,
            lane=-integration_id if inbound else integration_id,
            organization_id=int(payload.get("organization_id") or 0),
        )

    def _wake_workers(self) -> None:
        wakeup.notify(self.host.store.db.wake_key)

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
    """Claims and runs jobs until told to stop: up to ``[jobs] concurrency``
    at once, each in a thread (jobs wait on trackers, not on the CPU), each
    thread with its own database connection; a thread that finishes a job
    claims the next one itself.

    Claims take lanes in turn and leave a lane (an integration's tracker
    calls) and an organization at ``per_integration_concurrency``, and an
    inbound lane (what the tracker sent) at one (see
    :meth:`JobStore.claim`), so a tracker that hangs holds that many slots
    and the others go on; a tracker whose circuit breaker is open holds none
    (:mod:`host.breakers`). While a job runs, its lease is renewed (a
    heartbeat), so a job that outlives ``lease_seconds`` is not claimed by
    another worker; if its lease is lost anyway (this process stalled past
    it), its transactions are fenced (they roll back), the takeover is
    logged and this run's outcome is not recorded.
    """

    def __init__(
        self, host: Host, name: str | None = None, concurrency: int | None = None
    ) -> None:
        self.host = host
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.concurrency = concurrency or host.config.jobs.concurrency
        self.stopping = threading.Event()
        #: Jobs running in this process: id -> attempt (the claim's fence).
        self.in_hand: dict[int, int] = {}
        self._in_hand_lock = threading.Lock()
        #: Slots promised to claims under way (see :meth:`_claim`).
        self._claiming = 0
        #: Woken when a job is queued (by any process here) or a slot frees.
        self._listener: wakeup.Listener | None = None
        #: The lane last served: the next claim starts after it.
        self._after: int | None = None

    def run_once(self) -> dict | None:
        """Claim and run one due job here; return it, or ``None`` when idle."""
        job = self._claim()
        if job is not None:
            self._run(job)
        return job

    def _claim(self) -> dict | None:
        """Claim a job if a slot is free (the main loop and the job threads
        both claim: a slot is promised first, so they never take more than
        ``concurrency`` together)."""
        with self._in_hand_lock:
            if len(self.in_hand) + self._claiming >= self.concurrency:
                return None
            self._claiming += 1
        job = None
        try:
            settings = self.host.config.jobs
            now = self.host.clock()
            paused, probing = self.host.breakers.lanes(now)
            job = self.host.store.jobs.claim(
                self.name,
                now=now,
                lease_seconds=settings.lease_seconds,
                per_integration=settings.per_integration_concurrency,
                after=self._after,
                paused=paused,
                probing=probing,
            )
        finally:
            with self._in_hand_lock:
                self._claiming -= 1
                if job is not None:
                    self.in_hand[job["id"]] = job["attempts"]
        if job is not None:
            self._after = job["lane"]
        return job

    def _work(self, job: dict | None) -> None:
        """Run a job in a pool thread, then the next due ones while there
        are any: a busy worker claims from the thread that just freed a
        slot, without a round trip through the main loop."""
        try:
            while job is not None:
                following = self._run(job, chain=True)
                if following is None and not self.stopping.is_set():
                    following = self._claim()
                job = following
        except Exception:  # a pool thread's error would vanish unsaid
            log.exception("a job thread failed; the jobs' leases bring them back")
        finally:
            if self._listener is not None:
                self._listener.poke()  # a slot is free

    def _run(self, job: dict, *, chain: bool = False) -> dict | None:
        """Run one claimed job and record its outcome. With ``chain``, a job
        that succeeded is marked done and the next one claimed in one write
        transaction (one commit fewer a job); that next job, if any."""
        store = self.host.store
        handler = self.host.jobs.handlers.get(job["kind"])
        following = None
        try:
            with working_for(f"job-{job['id']}"):
                try:
                    if handler is None:
                        raise LookupError(f"No handler for job kind {job['kind']!r}")
                    with store.db.fenced(
                        lambda: store.jobs.holds(job["id"], self.name, job["attempts"])
                    ):
                        handler(self.host, job["payload"])
                except LeaseLost:
                    self._taken_over(job)
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
                    following = self._finish(job, chain)
            self.host.metrics.flush(store)
        finally:
            self._release(job)
        return following

    def _finish(self, job: dict, chain: bool) -> dict | None:
        """Mark the job done (and, with ``chain``, claim the next one in the
        same transaction); the next job. If the commit fails, neither
        happened: the job's lease brings it back, as after a crash."""
        following = None
        try:
            with self.host.store.transaction():
                if not self.host.store.jobs.finish(
                    job["id"], self.name, job["attempts"]
                ):
                    self._taken_over(job)
                self._release(job)
                if chain and not self.stopping.is_set():
                    following = self._claim_within()
        except Unavailable as ex:
            if following is not None:
                self._release(following)
            log.warning("job %s: its outcome could not be recorded (%s)", job["id"], ex)
            return None
        return following

    def _release(self, job: dict) -> None:
        with self._in_hand_lock:
            self.in_hand.pop(job["id"], None)

    def _claim_within(self) -> dict | None:
        """A claim inside the caller's transaction; a failure costs only
        the claim (its savepoint), never the caller's writes."""
        try:
            return self._claim()
        except Unavailable:
            return None

    def _failed(self, job: dict, error: str, delay: float | None) -> None:
        jobs, attempt = self.host.store.jobs, job["attempts"]
        now = self.host.clock()
        paused_until = (
            self.host.breakers.postponed_until(abs(job["lane"]), now)
            if job["lane"]
            else None
        )
        if paused_until is not None:
            # The tracker is not answering: the job waits for its probe
            # and keeps its attempts (host.breakers).
            run_at = paused_until + random.uniform(0, 1)
            if not jobs.reschedule(
                job["id"], self.name, attempt, run_at, error, counted=False
            ):
                self._taken_over(job)
            return
        if job["attempts"] >= job["max_attempts"]:
            log.warning(
                "job %s (%s) dead after %s attempts: %s",
                job["id"],
                job["kind"],
                job["attempts"],
                error,
            )
            if not jobs.bury(job["id"], self.name, attempt, error):
                self._taken_over(job)
                return
            record = self.host.jobs.on_dead.get(job["kind"])
            if record is not None:
                record(self.host, job["payload"], error)
            return
        if delay is None:
            delay = self.host.jobs.backoff(job["attempts"])
        if not jobs.reschedule(job["id"], self.name, attempt, now + delay, error):
            self._taken_over(job)

    def _taken_over(self, job: dict) -> None:
        log.warning(
            "job %s (%s) lost its lease while it ran (another worker claimed it);"
            " this run's outcome is not recorded",
            job["id"],
            job["kind"],
        )

    def heartbeat(self) -> None:
        """Renew the lease of every job in hand (the worker calls this every
        third of ``lease_seconds``)."""
        lease = self.host.config.jobs.lease_seconds
        with self._in_hand_lock:
            held = dict(self.in_hand)
        until = self.host.clock() + lease
        for job_id, attempt in held.items():
            with self.host.store.transaction():
                ours = self.host.store.jobs.extend(job_id, self.name, attempt, until)
            if not ours and job_id in self.in_hand:
                log.warning("job %s: its lease was taken over while it ran", job_id)

    def run(self) -> None:
        """Run jobs until :meth:`stop`; every job in hand is finished first.

        The worker also checkpoints the database (web requests leave that to
        it, see :mod:`host.store.db`): whenever it is idle, and at least once
        every ``CHECKPOINT_SECONDS`` while busy. Every ``SCHEDULE_SECONDS``
        it queues the reconciliation passes that are due and deletes what
        has been kept long enough (:mod:`host.services.retention`).
        """
        poll = self.host.config.jobs.poll_interval_seconds
        log.info("worker %s started (%s at once)", self.name, self.concurrency)
        checkpointed = scheduled = time.monotonic()
        self._schedule()
        unavailable = None
        finished = threading.Event()  # every job in hand is done: no more beats
        beating = threading.Thread(
            target=self._beat, args=(finished,), name="heartbeat", daemon=True
        )
        beating.start()
        self._listener = self._listen()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="job") as pool:
            while not self.stopping.is_set():
                try:
                    started = self._start_due(pool)
                    idle = started == 0 and not self.in_hand
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
                if started == 0:
                    if idle:
                        self.host.metrics.flush(self.host.store, force=True)
                    # Until a job is queued, a slot frees, or it is time to
                    # look again (workers elsewhere, a missed nudge).
                    if self._listener is not None:
                        self._listener.wait(poll)
                    else:
                        self.stopping.wait(poll)
            # Leaving the pool's block waits for every job in hand.
        finished.set()
        beating.join()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.host.metrics.flush(self.host.store, force=True)
        log.info("worker %s stopped", self.name)

    def _listen(self) -> wakeup.Listener | None:
        """This worker's wake-up socket, or ``None`` (then it polls)."""
        database = self.host.store.db.wake_key
        if database is None:
            return None
        try:
            return wakeup.Listener(database)
        except OSError as ex:
            log.warning("cannot listen for new jobs (%s); polling instead", ex)
            return None

    def _start_due(self, pool: ThreadPoolExecutor) -> int:
        """Claim and start jobs while slots are free; how many started."""
        started = 0
        while not self.stopping.is_set():
            job = self._claim()
            if job is None:
                break
            pool.submit(self._work, job)
            started += 1
        return started

    def _beat(self, done: threading.Event) -> None:
        every = max(self.host.config.jobs.lease_seconds / 3, 0.05)
        while not done.wait(every):
            try:
                self.heartbeat()
            except Exception:  # never let a missed beat stop the worker
                log.exception("renewing job leases failed")

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
        if self._listener is not None:
            self._listener.poke()
