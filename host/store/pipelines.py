"""Setup pipeline state, kept server-side under the hash of its id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.sealing import SecretBox
from host.store import rows
from host.store.engine import Engine
from host.times import utcnow


class PipelineStore:
    def __init__(self, db: Engine, box: SecretBox) -> None:
        self.db = db
        self.box = box  # seals what a copy of the database must not reveal

    def create(
        self,
        id_hash: str,
        provider: str,
        organization_id: int,
        expires_at: float,
        *,
        now: float,
    ) -> None:
        # Starting a pipeline is the moment to forget the expired ones.
        self.db.execute("DELETE FROM setup_pipelines WHERE expires_at < ?", [now])
        self.db.execute(
            "INSERT INTO setup_pipelines (id_hash, provider, organization_id,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
            [id_hash, provider, organization_id, expires_at, utcnow()],
        )

    def get(self, id_hash: str, *, now: float) -> dict[str, Any] | None:
        """The live pipeline with this id hash (an expired one is not)."""
        row = self.db.execute(
            "SELECT * FROM setup_pipelines WHERE id_hash = ? AND expires_at >= ?",
            [id_hash, now],
        ).fetchone()
        if row is None:
            return None
        pipeline = dict(row)
        pipeline["state"] = rows.loads(self.box.open(pipeline["state"]))
        return pipeline

    def update(self, id_hash: str, step_index: int, state: Mapping[str, Any]) -> None:
        self.db.execute(
            "UPDATE setup_pipelines SET step_index = ?, state = ? WHERE id_hash = ?",
            [step_index, self.box.seal(rows.dumps(dict(state))), id_hash],
        )

    def delete(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM setup_pipelines WHERE id_hash = ?", [id_hash])

    # ---- one-time setup links ----

    def add_link(
        self, token_hash: str, provider: str, organization_id: int, expires_at: float
    ) -> None:
        self.db.execute(
            "INSERT INTO setup_links (token_hash, provider, organization_id,"
            " expires_at) VALUES (?, ?, ?, ?)",
            [token_hash, provider, organization_id, expires_at],
        )

    def take_link(self, token_hash: str, provider: str, *, now: float) -> int | None:
        """Use up a live link; return its organization id (None: no such link)."""
        row = self.db.execute(
            "DELETE FROM setup_links WHERE token_hash = ? AND provider = ?"
            " AND expires_at >= ? RETURNING organization_id",
            [token_hash, provider, now],
        ).fetchone()
        return row[0] if row else None

    def organization_of(self, id_hash: str, *, now: float) -> int | None:
        pipeline = self.get(id_hash, now=now)
        return pipeline["organization_id"] if pipeline else None

    # ---- signed-in browsers (settings pages) ----

    def add_session(
        self, id_hash: str, organization_id: int, expires_at: float, *, now: float
    ) -> None:
        self.db.execute("DELETE FROM browser_sessions WHERE expires_at < ?", [now])
        self.db.execute(
            "INSERT INTO browser_sessions (id_hash, organization_id, expires_at)"
            " VALUES (?, ?, ?)",
            [id_hash, organization_id, expires_at],
        )

    def session_organization(self, id_hash: str, *, now: float) -> int | None:
        row = self.db.execute(
            "SELECT organization_id FROM browser_sessions"
            " WHERE id_hash = ? AND expires_at >= ?",
            [id_hash, now],
        ).fetchone()
        return row[0] if row else None
