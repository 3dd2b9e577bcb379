"""Retention: the worker deletes what has been kept long enough.

``[host] delivery_retention_days`` (processed and ignored webhook
deliveries), ``job_retention_days`` (finished jobs) and
``dead_letter_retention_days`` (dead-lettered jobs, listed and retryable
until then), ``event_retention_days`` (the change feed and the hooks'
delivery logs), and idempotency keys after a day (:mod:`host.api.idempotency`).
Deletion runs in small batches, each its own transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from host.store.idempotency import KEEP_SECONDS
from host.store.retention import BATCH
from host.times import iso_time

if TYPE_CHECKING:
    from host.core import Host

log = logging.getLogger(__name__)

DAY = 86_400.0
#: Batches one sweep deletes at most, so a sweep never keeps the worker
#: from its jobs for long; the next sweep goes on where this one stopped.
MAX_BATCHES = 20


class RetentionService:
    def __init__(self, host: Host) -> None:
        self.host = host

    def sweep(self) -> dict[str, int]:
        """Delete one round of expired rows; return how many of each."""
        config, now = self.host.config, self.host.clock()
        retention = self.host.store.retention
        # kind: (days kept, delete one batch older than a time)
        kinds = {
            "deliveries": (config.delivery_retention_days, retention.delete_deliveries),
            "jobs": (
                config.job_retention_days,
                lambda before: retention.delete_jobs("done", before),
            ),
            "dead_letters": (
                config.dead_letter_retention_days,
                lambda before: retention.delete_jobs("dead", before),
            ),
            "events": (
                config.event_retention_days,
                lambda before: self.host.store.events.delete_older(before, BATCH),
            ),
            "hook_deliveries": (
                config.event_retention_days,
                lambda before: self.host.store.hooks.delete_attempts_older(
                    before, BATCH
                ),
            ),
        }
        deleted = {}
        for kind, (days, delete) in kinds.items():
            before = iso_time(now - days * DAY)
            deleted[kind] = 0
            for _ in range(MAX_BATCHES):
                with self.host.store.transaction():
                    count = delete(before)
                deleted[kind] += count
                if count == 0:
                    break
        deleted["idempotency_keys"] = 0
        for _ in range(MAX_BATCHES):
            with self.host.store.transaction():
                count = self.host.store.idempotency.delete_older(
                    now - KEEP_SECONDS, BATCH
                )
            deleted["idempotency_keys"] += count
            if count == 0:
                break
        if any(deleted.values()):
            log.info("retention deleted %s", deleted)
        return deleted
