"""What ``GET /metrics`` reports, in Prometheus' text format.

gunicorn workers and job workers are separate processes, so each counts in
memory (:class:`Metrics`) and adds its counts to the database, the one thing
they share, when a request or a job ends, at most every ``FLUSH_SECONDS``
(and always before ``/metrics`` answers). A write per flush, not per count,
keeps counting off the webhook path's cost. Counts a process had not flushed
when it was killed are lost, which a metric can afford.

Gauges (jobs by state, how long the oldest due job has waited) are read from
the tables when scraped.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from host.store import Store

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
#: The longest a flush waits for the write lock.
FLUSH_WAIT_SECONDS = 0.05
#: Upper bounds (seconds) of the tracker call latency histogram's buckets.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)

#: Every metric family: its type and help text.
FAMILIES = {
    "trackbridge_http_requests_total": (
        "counter",
        "HTTP requests answered, by route template, method and status.",
    ),
    "trackbridge_deliveries_total": (
        "counter",
        "Webhook deliveries by provider and outcome: rejected, not_stored,"
        " duplicate (at the door); processed, ignored (applied by a job).",
    ),
    "trackbridge_tracker_requests_total": (
        "counter",
        "Calls to trackers by provider, method, endpoint and status"
        " (an HTTP status, or 'error' when no answer came).",
    ),
    "trackbridge_tracker_request_duration_seconds": (
        "histogram",
        "Latency of calls to trackers by provider, method and endpoint.",
    ),
    "trackbridge_reconcile_changes_total": (
        "counter",
        "Changes reconciliation found in trackers for linked issues, the"
        " group changes they repaired, and the linked issues it checked still"
        " exist, by provider and result.",
    ),
    "trackbridge_jobs": ("gauge", "Durable jobs by state."),
    "trackbridge_job_queue_wait_seconds": (
        "gauge",
        "How long the longest-waiting due job has waited to be claimed.",
    ),
    "trackbridge_tracker_not_answering_since_seconds": (
        "gauge",
        "Unix time since which an integration's tracker has not answered (its"
        " circuit breaker is open; its jobs wait), by integration and provider.",
    ),
}


class Metrics:
    """One process's counts not yet added to the shared table (its threads
    count into it together)."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.pending: dict[tuple[str, str], float] = defaultdict(float)
        self.flushed_at = clock()
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            self.pending[key] += value

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """One histogram observation (cumulative buckets, as Prometheus has it)."""
        self.count(f"{name}_count", **labels)
        self.count(f"{name}_sum", seconds, **labels)
        for bound in BUCKETS:  # every bucket exists, counted or not
            counted = 1.0 if seconds <= bound else 0.0
            self.count(f"{name}_bucket", counted, **labels, le=_bound(bound))

    def flush(self, store: Store, *, force: bool = False) -> None:
        """Add the pending counts to the database (a failure keeps them)."""
        if not self.pending:
            return
        if not force and self.clock() - self.flushed_at < FLUSH_SECONDS:
            return
        with self._lock:
            taken, self.pending = self.pending, defaultdict(float)
            self.flushed_at = self.clock()
        try:
            # Never worth a wait: a busy database gets them next time.
            with store.transaction(timeout=FLUSH_WAIT_SECONDS):
                store.metrics.add(taken)
        except Exception as ex:
            log.warning("could not save metrics (%s); kept for the next flush", ex)
            with self._lock:
                for key, value in taken.items():
                    self.pending[key] += value


def render(store: Store, now: float) -> str:
    """Every family in Prometheus' text exposition format (version 0.0.4)."""
    samples: dict[str, list[str]] = defaultdict(list)
    for name, labels, value in store.metrics.series():
        samples[_family(name)].append(_sample(name, json.loads(labels), value))
    for state, count in sorted(store.metrics.jobs_by_state().items()):
        samples["trackbridge_jobs"].append(
            _sample("trackbridge_jobs", {"state": state}, count)
        )
    oldest = store.metrics.oldest_due_job(now)
    wait = 0 if oldest is None else max(0.0, now - oldest)
    samples["trackbridge_job_queue_wait_seconds"].append(
        _sample("trackbridge_job_queue_wait_seconds", {}, wait)
    )
    for integration_id, row in sorted(store.tracker_health.all().items()):
        if row["opened_at"] is not None:
            name = "trackbridge_tracker_not_answering_since_seconds"
            labels = {
                "integration_id": str(integration_id),
                "provider": row["provider"],
            }
            samples[name].append(_sample(name, labels, row["failing_since"]))
    lines = []
    for family, (kind, help_text) in FAMILIES.items():
        lines.append(f"# HELP {family} {help_text}")
        lines.append(f"# TYPE {family} {kind}")
        lines.extend(samples.get(family, ()))
    return "\n".join(lines) + "\n"


def _family(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in FAMILIES:
            return name[: -len(suffix)]
    return name


def _labels(labels: dict[str, str]) -> str:
    return json.dumps({k: str(v) for k, v in sorted(labels.items())})


def _bound(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(bound)


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    if labels:
        pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        name = f"{name}{{{pairs}}}"
    return f"{name} {_number(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
