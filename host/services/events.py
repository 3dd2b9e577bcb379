"""The change feed: every change the host makes or records, as an event.

An event is written by the service that makes the change, in the same
transaction (:meth:`EventService.record`): a change that rolls back leaves
no event, and no committed change goes without one. An application reads
them in order from ``GET /api/0/organizations/{slug}/events`` with an opaque
cursor, at least once, for ``[host] event_retention_days``.

Every event has the same envelope, and one ``data`` shape per type::

    {"id": "evt_42", "type": "group.updated", "time": "2026-...Z",
     "organization": {"id": 1, "slug": "acme"}, "data": {...}}

- ``group.created``, ``group.deleted``: ``{"group": ...}``
- ``group.updated``: ``{"group": ..., "changes": {"status": {"before": ...,
  "after": ...}}, "source": ...}`` (``status``, ``assignee``)
- ``comment.created``, ``comment.updated``: ``{"group_id", "comment",
  "source"}``
- ``link.created``, ``link.removed``: ``{"group_id", "issue", "reason"}``
  (removed: ``unlinked``, ``deleted_in_tracker``, ``moved``,
  ``integration_removed``; a moved key is ``link.removed`` of the old key and
  ``link.created`` of the new one)
- ``sync.applied``, ``sync.failed``: ``{"group_id", "integration_id",
  "action", "issue", "error", "dead_lettered"}``
- ``integration.installed``, ``integration.needs_reauth``,
  ``integration.removed``: ``{"integration": {"id", "provider", "name"}}``
- ``rule.failed``: ``{"rule_id", "group_id", "error"}``: a ticket rule could
  not make its issue (:mod:`host.services.rules`)
- ``hook.disabled``: ``{"hook": {"id", "url"}, "reason"}`` (it failed for
  days, :mod:`host.services.hooks`)
- ``integration.webhook_status_changed``: ``{"integration", "webhook_status":
  {"before", "after"}}`` (the provider's words: ``created``, ``waiting for
  first webhook``, ``receiving``)

``source`` says who caused a change: ``{"kind": "user" | "integration" |
"system", "member_id", "integration_id"}``.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from host import shapes
from host.errors import Gone, ValidationError
from host.store.events import Position
from host.times import iso_time

if TYPE_CHECKING:
    from host.core import Host
    from host.services.groups import Source
    from host.types import ExternalIssue, Integration, Organization

TYPES = (
    "group.created",
    "group.updated",
    "group.deleted",
    "comment.created",
    "comment.updated",
    "link.created",
    "link.removed",
    "sync.applied",
    "sync.failed",
    "integration.installed",
    "integration.needs_reauth",
    "integration.webhook_status_changed",
    "integration.removed",
    "hook.disabled",
    "rule.failed",
)
#: Events one page holds at most.
MAX_LIMIT = 500
#: The longest a feed request waits for the next event.
MAX_WAIT_SECONDS = 30
#: How often a waiting request looks for events other processes wrote
#: (those of its own process wake it at once).
POLL_SECONDS = 0.25
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,64}")


def source_shape(source: Source) -> dict[str, Any]:
    return {
        "kind": source.kind,
        "member_id": source.member.id if source.member else None,
        "integration_id": source.integration_id,
    }


def issue_shape(issue: ExternalIssue) -> dict[str, Any]:
    return {
        "integration_id": issue.integration_id,
        "key": issue.key,
        "url": issue.url,
    }


def integration_shape(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.id,
        "provider": integration.provider,
        "name": integration.name,
    }


class EventService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store
        self._written = threading.Condition()

    def record(
        self,
        organization_id: int,
        type: str,
        data: dict[str, Any],
        *,
        group_id: int | None = None,
    ) -> None:
        """Record an event of a change, in the change's transaction."""
        if type not in TYPES:
            raise ValueError(f"Unknown event type: {type}")
        self.store.events.add(
            organization_id, type, data, group_id, iso_time(self.host.clock())
        )
        self.host.hooks.wake(organization_id)
        self.store.db.after_commit(self._wake)

    def group_changed(self, group, type: str, **data: Any) -> None:
        """``group.*`` for ``group`` (as it is now, or was when deleted)."""
        self.record(
            group.organization_id,
            type,
            {"group": shapes.group(group), **data},
            group_id=group.id,
        )

    def link_changed(
        self, group, issue, type: str, *, reason: str | None = None
    ) -> None:
        """``link.created`` / ``link.removed`` of ``issue`` on ``group``
        (``issue``: anything with ``integration_id``, ``key`` and ``url``)."""
        data = {"group_id": group.id, "issue": issue_shape(issue)}
        if reason is not None:
            data["reason"] = reason
        self.record(group.organization_id, type, data, group_id=group.id)

    def page(
        self,
        organization: Organization,
        after: str | None,
        limit: int,
        types: Sequence[str] = (),
        wait: float = 0,
    ) -> dict[str, Any]:
        """Events after the cursor ``after`` (none: from the oldest kept),
        waiting up to ``wait`` seconds for one when there is none yet.

        :raises ValidationError: a bad cursor, limit, type or wait.
        :raises Gone: the cursor is from before what the feed still keeps.
        """
        position = decode(after) if after is not None else (0, 0)
        unknown = sorted(set(types) - set(TYPES))
        if unknown:
            raise ValidationError(
                {"types": [f"Unknown event type(s): {', '.join(unknown)}."]},
                f"Event types are: {', '.join(TYPES)}.",
            )
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({"limit": [f"1 to {MAX_LIMIT}."]})
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise ValidationError({"wait": [f"0 to {MAX_WAIT_SECONDS} seconds."]})
        if after is not None and position < self.store.events.trimmed():
            raise Gone(
                "This cursor is older than the events the feed still keeps"
                f" ([host] event_retention_days = "
                f"{self.host.config.event_retention_days:g}): resync from the"
                " groups list, then read the feed without a cursor."
            )
        deadline = time.monotonic() + wait
        while True:
            found = self.store.events.after(organization.id, position, limit + 1, types)
            left = deadline - time.monotonic()
            if found or left <= 0:
                break
            with self._written:
                self._written.wait(min(POLL_SECONDS, left))
        events = found[:limit]
        last = (events[-1]["tx"], events[-1]["id"]) if events else position
        return {
            "events": [envelope(organization, row) for row in events],
            "next": encode(last),
            "has_more": len(found) > limit,
        }

    def _wake(self) -> None:
        with self._written:
            self._written.notify_all()


def encode(position: Position) -> str:
    text = f"{position[0]}.{position[1]}".encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode(cursor: str) -> Position:
    """:raises ValidationError: not a cursor this feed handed out."""
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tx, event_id = (int(part) for part in text.split("."))
        if tx < 0 or event_id < 0:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            {"after": ["Not a cursor from this feed (use the last answer's next)."]}
        ) from None
    return tx, event_id


def envelope(organization: Organization, row: dict) -> dict[str, Any]:
    return {
        "id": f"evt_{row['id']}",
        "type": row["type"],
        "time": row["created_at"],
        "organization": {"id": organization.id, "slug": organization.slug},
        "data": row["data"],
    }
