"""Reconciliation: repair what a missed webhook would have changed.

Jira Server does not redeliver a webhook that failed, so every integration
is asked now and then what changed in the tracker since its last pass
(``poll_changes``). The changes found are applied by the webhook rules
(echoes of our own writes are skipped, an older change never overwrites a
newer one), so a pass over changes that webhooks already brought changes
nothing.

Passes are scheduled by the job workers (``schedule_due``, safe to call
from any number of them: the due list is read and moved on in one write
transaction) and run as ``integration.reconcile`` jobs, or at once by
``trackbridge reconcile``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from host.errors import NotFound, TrackbridgeError

if TYPE_CHECKING:
    from host.core import Host
    from host.types import Integration

log = logging.getLogger(__name__)

#: How far back the first pass of an integration looks: what was missed
#: before reconciliation ran at all (for instance before an upgrade).
FIRST_PASS_LOOKBACK = timedelta(hours=24)
#: Linked issues one pass checks still exist: a pass's cost stays bounded
#: (a search a hundred, plus one call for each missing one), and every
#: linked issue is checked once every (linked issues / this) passes.
CHECKS_PER_PASS = 500
#: How long a pass holds its integration (other passes skip it meanwhile):
#: long enough for any pass, short enough that one whose worker died holds
#: nothing for long.
PASS_LEASE_SECONDS = 600.0


class PassInProgress(TrackbridgeError):
    """Another pass of the integration is running (another worker or host)."""


@dataclass(frozen=True)
class PassResult:
    integration_id: int
    since: str
    until: str
    #: Changes the tracker reported for linked issues.
    found: int
    #: Groups they changed (0 when webhooks had already brought them).
    repaired: int
    #: Linked issues checked for deletion this pass.
    checked: int = 0
    #: What was repaired, one line each ("CommentAdded PRJ-1: 1 group").
    repairs: tuple[str, ...] = ()

    def summary(self) -> str:
        return (
            f"integration {self.integration_id}: {self.found} change(s) in the "
            f"tracker since {self.since}, {self.repaired} group change(s) repaired,"
            f" {self.checked} linked issue(s) checked"
        )


class ReconcileService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def schedule_due(self) -> int:
        """Queue a pass for each integration that is due; return how many.

        An integration seen for the first time gets its first pass one
        interval from now, so starting a host costs the tracker nothing.
        """
        interval = self.host.config.jobs.reconcile_interval_seconds
        now = self.host.clock()
        if not interval or not self.store.passes.due(now):
            return 0  # the common case: a read, no write lock taken
        queued = 0
        with self.store.transaction():
            for integration_id in self.store.passes.due(now):
                # Taken by one scheduler only, whatever runs beside it.
                taken = self.store.passes.take(
                    integration_id, now, now + interval, self._first_since()
                )
                if taken == "due":
                    self.host.jobs.enqueue(
                        "integration.reconcile", {"integration_id": integration_id}
                    )
                    queued += 1
        return queued

    def integration_ids(self, only: int | None = None) -> list[int]:
        """Integrations a pass applies to: installed and in use by an active
        organization (with ``only``, that one).

        :raises NotFound: ``only`` is not such an integration.
        """
        ids = self.store.passes.due(only=only)
        if only is not None and not ids:
            raise NotFound(f"Integration {only} is not installed and in use.")
        return ids

    def run(self, integration_id: int) -> PassResult | None:
        """Run one pass; ``None`` when the integration is gone or unused, or
        its provider does not reconcile.

        :raises RetryLater: the tracker could not answer; the pass is
            retried and searches from the same point.
        """
        if not self.store.passes.due(only=integration_id):
            return None  # gone, or no longer in use
        now = self.host.clock()
        if not self.store.passes.start(
            integration_id,
            until=now + PASS_LEASE_SECONDS,
            now=now,
            next_due=now + self.host.config.jobs.reconcile_interval_seconds,
        ):
            raise PassInProgress(
                f"A pass of integration {integration_id} is running already"
                " (another worker or host)."
            )
        try:
            return self._run(integration_id)
        finally:
            self.store.passes.release(integration_id)

    def run_queued(self, integration_id: int) -> None:
        """A queued pass: one already running covers it."""
        try:
            self.run(integration_id)
        except PassInProgress as ex:
            log.info("reconcile: %s This one is left to it.", ex)

    def _run(self, integration_id: int) -> PassResult | None:
        integration = self.store.integrations.get(integration_id)
        since = self._since(integration)
        until = _iso(self.host.clock())
        batch, next_after = self._check_batch(integration)
        events = self.host.hook.poll_changes(
            host=self.host,
            integration=integration,
            since=since,
            linked=lambda pairs: self._linked(integration, pairs),
            check=[(issue.external_id, issue.key) for issue in batch],
        )
        if events is None:
            log.debug("provider %s does not reconcile", integration.provider)
            return None
        repaired, repairs = 0, []
        with self.store.transaction():
            for event in events:
                changed = self.host.inbound.apply(integration, event, polled=True)
                if changed:
                    repairs.append(
                        f"{type(event).__name__} {event.issue_key}: {changed} group(s)"
                    )
                repaired += changed
            self.store.passes.finish(integration.id, until, len(events), next_after)
        counts = (
            ("found", len(events)),
            ("repaired", repaired),
            ("checked", len(batch)),
        )
        for result_kind, count in counts:
            self.host.metrics.count(
                "trackbridge_reconcile_changes_total",
                count,
                provider=integration.provider,
                result=result_kind,
            )
        result = PassResult(
            integration.id,
            since,
            until,
            len(events),
            repaired,
            checked=len(batch),
            repairs=tuple(repairs),
        )
        log.info("reconcile %s", result.summary())
        return result

    def _check_batch(self, integration: Integration):
        """This pass's linked issues to check still exist, and where the
        next pass's batch starts (0: from the first again)."""
        mark = self.store.passes.get(integration.id)
        after = mark["checked_after"] if mark else 0
        batch = self.store.integrations.linked_after(
            integration.id, after, CHECKS_PER_PASS
        )
        if after and len(batch) < CHECKS_PER_PASS:  # the end: go round
            batch += self.store.integrations.linked_after(
                integration.id, 0, CHECKS_PER_PASS - len(batch)
            )
            batch = list({issue.id: issue for issue in batch}.values())
        next_after = batch[-1].id if len(batch) == CHECKS_PER_PASS else 0
        return batch, next_after

    def _since(self, integration: Integration) -> str:
        mark = self.store.passes.get(integration.id)
        return (mark and mark["polled_until"]) or self._first_since()

    def _first_since(self) -> str:
        return _iso(self.host.clock() - FIRST_PASS_LOOKBACK.total_seconds())

    def _linked(
        self, integration: Integration, pairs: Iterable[tuple[str | None, str]]
    ) -> set[str]:
        found = set()
        for issue_id, key in pairs:
            issue = self.store.integrations.external_issue(
                integration.id, key=key, issue_id=issue_id
            )
            if issue is not None and self.store.integrations.is_linked(issue.id):
                found.add(key)
        return found


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
