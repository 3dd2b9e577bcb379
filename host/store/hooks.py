"""Webhook subscriptions: where each stands in the change feed, and the log
of every attempt to deliver to it. Secrets are stored sealed."""

from __future__ import annotations

import json
from typing import Any

from host.sealing import SecretBox
from host.store import rows
from host.store.engine import Engine
from host.store.events import Position
from host.times import utcnow

_FIELDS = "id, organization_id, url, events, active, position_tx, position_id,"
_FIELDS += " scheduled, failing_since, disabled_reason, created_at, updated_at"


class HookStore:
    def __init__(self, db: Engine, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def create(
        self,
        organization_id: int,
        url: str,
        events: list[str],
        active: bool,
        secret: str,
        position: Position,
    ) -> int:
        now = utcnow()
        return rows.inserted_id(
            self.db.execute(
                "INSERT INTO hooks (organization_id, url, events, active, secret,"
                " position_tx, position_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [organization_id, url, json.dumps(events), active,
                 self.box.seal(secret), *position, now, now],
            )
        )  # fmt: skip

    def get(self, organization_id: int, hook_id: int) -> dict | None:
        row = self.db.execute(
            f"SELECT {_FIELDS} FROM hooks WHERE id = ? AND organization_id = ?",
            [hook_id, organization_id],
        ).fetchone()
        return _hook(row) if row else None

    def list(self, organization_id: int) -> list[dict]:
        return [
            _hook(row)
            for row in self.db.execute(
                f"SELECT {_FIELDS} FROM hooks WHERE organization_id = ? ORDER BY id",
                [organization_id],
            )
        ]

    def update(self, hook_id: int, **changes: Any) -> None:
        """Set ``url``, ``events``, ``active``, ``failing_since`` or
        ``disabled_reason``."""
        if "events" in changes:
            changes["events"] = json.dumps(changes["events"])
        rows.update(self.db, "hooks", hook_id, changes)

    def delete(self, organization_id: int, hook_id: int) -> bool:
        return (
            self.db.execute(
                "DELETE FROM hooks WHERE id = ? AND organization_id = ?",
                [hook_id, organization_id],
            ).rowcount
            > 0
        )

    def secret(self, hook_id: int) -> str:
        row = self.db.execute("SELECT secret FROM hooks WHERE id = ?", [hook_id])
        return self.box.open(row.fetchone()[0])

    def set_secret(self, hook_id: int, secret: str) -> None:
        self.db.execute(
            "UPDATE hooks SET secret = ?, updated_at = ? WHERE id = ?",
            [self.box.seal(secret), utcnow(), hook_id],
        )

    def advance(self, hook_id: int, position: Position) -> None:
        """The hook has had (or given up on) every event up to ``position``."""
        self.db.execute(
            "UPDATE hooks SET position_tx = ?, position_id = ?, failing_since = NULL"
            " WHERE id = ?",
            [*position, hook_id],
        )

    def schedule(self, organization_id: int) -> list[int]:
        """Mark the organization's active hooks that no job is on its way
        for; their ids (each gets a job)."""
        return [
            row[0]
            for row in self.db.execute(
                "UPDATE hooks SET scheduled = 1 WHERE organization_id = ?"
                " AND active = 1 AND scheduled = 0 RETURNING id",
                [organization_id],
            )
        ]

    def unschedule(self, hook_id: int) -> None:
        self.db.execute("UPDATE hooks SET scheduled = 0 WHERE id = ?", [hook_id])

    def add_attempt(
        self,
        hook_id: int,
        event_id: int,
        event_type: str,
        status_code: int | None,
        error: str | None,
        at: str,
    ) -> int:
        return rows.inserted_id(
            self.db.execute(
                "INSERT INTO hook_deliveries (hook_id, event_id, event_type,"
                " status_code, error, created_at) VALUES (?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                [hook_id, event_id, event_type, status_code, error, at],
            )
        )

    def tries(self, hook_id: int, event_id: int) -> tuple[int, str | None]:
        """How often the event was sent to the hook, and first when."""
        row = self.db.execute(
            "SELECT count(*), min(created_at) FROM hook_deliveries"
            " WHERE hook_id = ? AND event_id = ?",
            [hook_id, event_id],
        ).fetchone()
        return row[0], row[1]

    def attempts(self, hook_id: int, limit: int, before: int | None) -> list[dict]:
        """Delivery attempts to the hook, newest first."""
        return [
            dict(row)
            for row in self.db.execute(
                "SELECT * FROM hook_deliveries WHERE hook_id = ? AND id < ?"
                " ORDER BY id DESC LIMIT ?",
                [hook_id, before or 2**62, limit],
            )
        ]

    def attempt(self, hook_id: int, attempt_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM hook_deliveries WHERE hook_id = ? AND id = ?",
            [hook_id, attempt_id],
        ).fetchone()
        return dict(row) if row else None

    def delete_attempts_older(self, created_before: str, limit: int) -> int:
        """Up to ``limit`` of the oldest attempts logged before the time."""
        return self.db.execute(
            "DELETE FROM hook_deliveries WHERE id IN (SELECT id FROM hook_deliveries"
            " WHERE created_at < ? ORDER BY id LIMIT ?)",
            [created_before, limit],
        ).rowcount


def _hook(row) -> dict:
    hook = dict(row)
    hook["events"] = json.loads(hook["events"])
    hook["active"] = bool(hook["active"])
    return hook
