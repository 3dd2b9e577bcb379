"""Webhook deliveries, stored before they are acknowledged, and the ones a
control node still has to forward to a region."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from host import types
from host.sealing import SecretBox
from host.store import rows
from host.store.engine import Engine
from host.times import utcnow

#: What the delivery log shows of a delivery (never its headers or body).
LOG_COLUMNS = ", ".join(
    f"d.{column}"
    for column in (
        "id", "integration_id", "provider", "received_at", "status", "error",
        "processed_at",
    )
)  # fmt: skip


class DeliveryStore:
    def __init__(self, db: Engine, box: SecretBox) -> None:
        self.db = db
        self.box = box  # seals what a copy of the database must not reveal

    def add(
        self,
        integration_id: int,
        provider: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> int | None:
        """Store a delivery; ``None`` when this exact body was stored before."""
        cursor = self.db.execute(
            "INSERT INTO webhook_deliveries (integration_id, provider, headers, body,"
            " body_sha256, received_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (integration_id, body_sha256) DO NOTHING RETURNING id",
            [
                integration_id,
                provider,
                rows.dumps(dict(headers)),
                body,
                hashlib.sha256(body).hexdigest(),
                utcnow(),
            ],
        )
        return rows.inserted_id(cursor)  # None: stored before, nothing inserted

    def get(self, delivery_id: int) -> types.Delivery | None:
        row = self.db.execute(
            "SELECT * FROM webhook_deliveries WHERE id = ?", [delivery_id]
        ).fetchone()
        return rows.delivery(row) if row else None

    def mark(self, delivery_id: int, status: str, error: str | None = None) -> None:
        self.db.execute(
            "UPDATE webhook_deliveries SET status = ?, error = ?, processed_at = ?"
            " WHERE id = ?",
            [status, error, utcnow(), delivery_id],
        )

    def note_error(self, delivery_id: int, error: str) -> None:
        """Why a delivery still waits (its job will try again)."""
        self.db.execute(
            "UPDATE webhook_deliveries SET error = ?"
            " WHERE id = ? AND status = 'received'",
            [error, delivery_id],
        )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        cursor = self.db.execute(
            f"SELECT {LOG_COLUMNS} FROM webhook_deliveries d"
            " ORDER BY d.id DESC LIMIT ?",
            [limit],
        )
        return [dict(row) for row in cursor]

    def for_organization(
        self,
        organization_id: int,
        limit: int,
        before_id: int | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """Recent deliveries to the integrations ``organization_id`` uses
        (only those with ``status``, if given)."""
        only = " AND d.status = ?" if status else ""
        cursor = self.db.execute(
            f"SELECT {LOG_COLUMNS} FROM organization_integrations oi"
            " CROSS JOIN webhook_deliveries d"
            " WHERE d.integration_id = oi.integration_id"
            f" AND oi.organization_id = ? AND d.id < ?{only}"
            " ORDER BY d.id DESC LIMIT ?",
            [
                organization_id,
                before_id or 2**63 - 1,
                *([status] if status else []),
                limit,
            ],
        )
        return [dict(row) for row in cursor]

    def latest(self, integration_id: int) -> dict[str, Any] | None:
        """The newest delivery to an integration, as the log shows it."""
        row = self.db.execute(
            f"SELECT {LOG_COLUMNS} FROM webhook_deliveries d"
            " WHERE d.integration_id = ? ORDER BY d.id DESC LIMIT 1",
            [integration_id],
        ).fetchone()
        return dict(row) if row else None

    def requeue(self, delivery_id: int) -> None:
        """Make a delivery pending again, for its job to apply once more."""
        self.db.execute(
            "UPDATE webhook_deliveries SET status = 'received', error = NULL,"
            " processed_at = NULL WHERE id = ?",
            [delivery_id],
        )

    # ---- owed to a region (control node) ----

    def add_forward(
        self,
        region: str,
        provider_slug: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        integration_id: int | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO forwards (integration_id, region, provider_slug, path, query,"
            " headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                integration_id,
                region,
                provider_slug,
                self.box.seal(path),  # the path holds the webhook's token
                rows.dumps(dict(query)),
                rows.dumps(dict(headers)),
                body,
                utcnow(),
            ],
        )
        return rows.inserted_id(cursor)

    def forward(self, forward_id: int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM forwards WHERE id = ?", [forward_id]
        ).fetchone()
        if row is None:
            return None
        forward = dict(row)
        forward["path"] = self.box.open(forward["path"])
        forward["query"] = rows.loads(forward["query"])
        forward["headers"] = rows.loads(forward["headers"])
        return forward

    def delete_forward(self, forward_id: int) -> None:
        self.db.execute("DELETE FROM forwards WHERE id = ?", [forward_id])
