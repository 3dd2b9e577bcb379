"""A circuit breaker per tracker: a tracker that stops answering stops
costing anyone else.

Every call an integration's session makes (see :meth:`Host.outbound_session`)
reports how it went: a timeout or a failed connection counts against the
integration; any HTTP answer, even an error, clears it. After
``[jobs] breaker_failures`` failures in a row the circuit opens: one warning
line, and until ``probe_at`` (``[jobs] breaker_probe_seconds``, doubling
after each failed probe up to :data:`MAX_PROBE_SECONDS`):

- the integration's tracker jobs are not claimed (they hold no slot), and a
  job whose call fails meanwhile is postponed to the probe without using an
  attempt (:class:`host.jobs.Worker`);
- a call fails at once with :class:`TrackerNotAnswering`, whose message says
  since when and until when, instead of waiting out its deadline.

Once ``probe_at`` passes, one job of the integration is claimed (and any
call goes through): its answer closes the circuit (one warning line, as
its opening had), its failure opens it again for longer. The state lives in the database
(:mod:`host.store.tracker_health`), so every process agrees; each process
reads it at most once every :data:`READ_EVERY_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import requests

from host.times import iso_time

if TYPE_CHECKING:
    from host.core import Host
    from host.types import Integration

log = logging.getLogger(__name__)

#: The longest wait between two probes of a tracker that stays down.
MAX_PROBE_SECONDS = 600.0
#: How stale this process's view of the breakers may be.
READ_EVERY_SECONDS = 1.0


class TrackerNotAnswering(requests.exceptions.ConnectionError):
    """A call not made: the tracker's circuit is open (see the module)."""


class Breakers:
    """The breakers of one host (one per integration that failed)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._rows: dict[int, dict] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def guard(self, integration_id: int, tracker: str) -> Guard:
        """What an integration's session asks before and tells after each
        call; ``tracker`` names it in messages ("Jira Server")."""
        return Guard(self, integration_id, tracker)

    # ---- what the worker and the pages ask ----

    def lanes(self, now: float) -> tuple[frozenset[int], frozenset[int]]:
        """Tracker lanes (integration ids) whose jobs wait now, and those
        whose probe is due (one job at a time)."""
        paused, probing = set(), set()
        for integration_id, row in self._current().items():
            if row["opened_at"] is not None:
                (paused if now < row["probe_at"] else probing).add(integration_id)
        return frozenset(paused), frozenset(probing)

    def postponed_until(self, integration_id: int, now: float) -> float | None:
        """When a job of the integration should run again, if its circuit is
        open (a failure now is the tracker's, not the job's); else ``None``."""
        row = self._current(fresh=True).get(integration_id)
        if row is None or row["opened_at"] is None:
            return None
        return max(row["probe_at"], now)

    def status(self, integration: Integration) -> dict | None:
        """The integration's failing tracker as the API and pages show it,
        or ``None`` while it answers."""
        row = self.host.store.tracker_health.get(integration.id)
        if row is None:
            return None
        provider = self.host.providers.get(integration.provider)
        tracker = provider.name if provider else integration.provider
        not_answering = row["opened_at"] is not None
        since = when(row["failing_since"])
        return {
            "state": "not_answering" if not_answering else "failing",
            "message": (
                f"{tracker} not answering since {since}; its jobs wait, next try"
                f" at {when(row['probe_at'])}."
                if not_answering
                else f"{tracker} calls failing since {since}."
            ),
            "failing_since": iso_time(row["failing_since"]),
            "failures_in_a_row": row["failures"],
            "last_error": row["last_error"],
            "next_try_at": iso_time(row["probe_at"]) if not_answering else None,
        }

    # ---- what the guards report ----

    def failed(self, integration_id: int, tracker: str, where: str, error: str):
        jobs = self.host.config.jobs
        with self.host.store.transaction():
            row, opened = self.host.store.tracker_health.failed(
                integration_id,
                now=self.host.clock(),
                error=error,
                threshold=jobs.breaker_failures,
                first_wait=jobs.breaker_probe_seconds,
                max_wait=max(MAX_PROBE_SECONDS, jobs.breaker_probe_seconds),
            )
        self._remember(integration_id, row)
        if opened:
            log.warning(
                "%s at %s (integration %s) is not answering since %s (%s failures"
                " in a row, last: %s); its jobs wait, next try at %s",
                tracker,
                where,
                integration_id,
                when(row["failing_since"]),
                row["failures"],
                error,
                when(row["probe_at"]),
            )

    def answered(self, integration_id: int, tracker: str, where: str) -> None:
        if integration_id not in self._current():
            return  # not failing, as far as this process knows: no write
        with self.host.store.transaction():
            row = self.host.store.tracker_health.answered(integration_id)
        self._remember(integration_id, None)
        if row is not None and row["opened_at"] is not None:
            log.warning(
                "%s at %s (integration %s) is answering again, after %.0f s",
                tracker,
                where,
                integration_id,
                self.host.clock() - row["failing_since"],
            )

    def refusal(self, integration_id: int, tracker: str, where: str) -> str | None:
        """Why a call must not be made now, or ``None`` to make it."""
        row = self._current().get(integration_id)
        if row is None or row["opened_at"] is None:
            return None
        if self.host.clock() >= row["probe_at"]:
            return None  # the probe: let it through
        return (
            f"{tracker} at {where} has not answered since"
            f" {when(row['failing_since'])}; trackbridge tries again at"
            f" {when(row['probe_at'])} (last error: {row['last_error']})."
        )

    # ---- this process's view ----

    def _current(self, *, fresh: bool = False) -> dict[int, dict]:
        now = time.monotonic()
        with self._lock:
            if fresh or now - self._read_at >= READ_EVERY_SECONDS:
                self._rows = self.host.store.tracker_health.all()
                self._read_at = now
            return self._rows

    def _remember(self, integration_id: int, row: dict | None) -> None:
        with self._lock:
            rows = dict(self._rows)
            if row is None:
                rows.pop(integration_id, None)
            else:
                rows[integration_id] = row
            self._rows = rows


class Guard:
    """One integration's breaker, as its HTTP session sees it."""

    def __init__(self, breakers: Breakers, integration_id: int, tracker: str) -> None:
        self.breakers = breakers
        self.integration_id = integration_id
        self.tracker = tracker

    def before(self, where: str) -> None:
        """:raises TrackerNotAnswering: the circuit is open."""
        refusal = self.breakers.refusal(self.integration_id, self.tracker, where)
        if refusal is not None:
            raise TrackerNotAnswering(refusal)

    def failed(self, where: str, error: str) -> None:
        self._report(self.breakers.failed, where, error)

    def answered(self, where: str) -> None:
        self._report(self.breakers.answered, where)

    def _report(self, report, *args) -> None:
        # Never instead of the call's own outcome (a busy database, say).
        try:
            report(self.integration_id, self.tracker, *args)
        except Exception as ex:
            log.warning("could not record how %s answered: %s", self.tracker, ex)


def when(epoch: float) -> str:
    """A time for people: to the second, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
