"""Idempotency keys: the first answer to a request, kept for a day, so the
same request sent again (a client's retry after a lost answer) gets that
answer instead of doing the thing twice. The rules are in
:mod:`host.api.idempotency`."""

from __future__ import annotations

import json

from host.store.engine import Engine

#: How long a key's first answer is kept.
KEEP_SECONDS = 86_400.0


class IdempotencyStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def hold(self, organization_id: int, key: str) -> None:
        """Until this transaction ends, another request with the key waits
        here (reading the key, then claiming it, is one step)."""
        self.db.lock(f"idempotency:{organization_id}:{key}")

    def get(self, organization_id: int, key: str) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM idempotency_keys WHERE organization_id = ? AND key = ?",
            [organization_id, key],
        ).fetchone()
        if row is None:
            return None
        kept = dict(row)
        kept["body"] = json.loads(kept["body"]) if kept["body"] is not None else None
        return kept

    def begin(self, organization_id: int, key: str, fingerprint: str, now: float):
        """Claim the key for a request that starts now (no answer yet)."""
        self.db.execute(
            "INSERT INTO idempotency_keys (organization_id, key, fingerprint,"
            " started_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (organization_id, key) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, started_at = excluded.started_at,"
            " status = NULL, body = NULL",
            [organization_id, key, fingerprint, now],
        )

    def finish(self, organization_id: int, key: str, status: int, body) -> None:
        self.db.execute(
            "UPDATE idempotency_keys SET status = ?, body = ?"
            " WHERE organization_id = ? AND key = ?",
            [status, json.dumps(body), organization_id, key],
        )

    def forget(self, organization_id: int, key: str) -> None:
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE organization_id = ? AND key = ?",
            [organization_id, key],
        )

    def delete_older(self, started_before: float, limit: int) -> int:
        """Up to ``limit`` keys whose request started before the time."""
        return self.db.execute(
            "DELETE FROM idempotency_keys WHERE (organization_id, key) IN"
            " (SELECT organization_id, key FROM idempotency_keys"
            " WHERE started_at < ? LIMIT ?)",
            [started_before, limit],
        ).rowcount
