"""Organizations, their members (users by email) and API tokens."""

from __future__ import annotations

from sqlite_utils import Database

from host import types
from host.store import rows
from host.store.db import utcnow

MEMBER_SELECT = """
    SELECT members.id, members.organization_id, users.email, users.name
    FROM members JOIN users ON users.id = members.user_id
"""


class OrganizationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, slug: str, name: str, region: str | None = None) -> int:
        cursor = self.db.execute(
            "INSERT INTO organizations (slug, name, region, created_at)"
            " VALUES (?, ?, ?, ?)",
            [slug, name, region, utcnow()],
        )
        return cursor.lastrowid

    def get(self, organization_id: int) -> types.Organization | None:
        row = self.db.execute(
            "SELECT * FROM organizations WHERE id = ?", [organization_id]
        ).fetchone()
        return rows.organization(row) if row else None

    def get_by_slug(self, slug: str) -> types.Organization | None:
        row = self.db.execute(
            "SELECT * FROM organizations WHERE slug = ?", [slug]
        ).fetchone()
        return rows.organization(row) if row else None

    def list(self) -> list[types.Organization]:
        cursor = self.db.execute("SELECT * FROM organizations ORDER BY slug")
        return [rows.organization(row) for row in cursor]

    def add_member(self, organization_id: int, email: str, name: str) -> int:
        normalized = email.strip().lower()
        self.db.execute(
            "INSERT INTO users (email, email_normalized, name, created_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (email_normalized) DO UPDATE SET name = excluded.name",
            [email.strip(), normalized, name, utcnow()],
        )
        user_id = self.db.execute(
            "SELECT id FROM users WHERE email_normalized = ?", [normalized]
        ).fetchone()[0]
        self.db.execute(
            "INSERT INTO members (organization_id, user_id, created_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [organization_id, user_id, utcnow()],
        )
        return self.db.execute(
            "SELECT id FROM members WHERE organization_id = ? AND user_id = ?",
            [organization_id, user_id],
        ).fetchone()[0]

    def members(self, organization_id: int) -> list[types.Member]:
        cursor = self.db.execute(
            MEMBER_SELECT + " WHERE members.organization_id = ? ORDER BY users.email",
            [organization_id],
        )
        return [rows.member(row) for row in cursor]

    def member(self, organization_id: int, member_id: int) -> types.Member | None:
        row = self.db.execute(
            MEMBER_SELECT + " WHERE members.organization_id = ? AND members.id = ?",
            [organization_id, member_id],
        ).fetchone()
        return rows.member(row) if row else None

    def member_by_email(self, organization_id: int, email: str) -> types.Member | None:
        """The member with this email, compared case-insensitively."""
        row = self.db.execute(
            MEMBER_SELECT
            + " WHERE members.organization_id = ? AND users.email_normalized = ?",
            [organization_id, email.strip().lower()],
        ).fetchone()
        return rows.member(row) if row else None

    # ---- API tokens (only their SHA-256 is stored) ----

    def add_token(
        self, organization_id: int, token_hash: str, prefix: str, label: str
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO api_tokens (organization_id, token_hash, prefix, label,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            [organization_id, token_hash, prefix, label, utcnow()],
        )
        return cursor.lastrowid

    def organization_for_token(self, token_hash: str) -> types.Organization | None:
        row = self.db.execute(
            "SELECT organizations.* FROM api_tokens JOIN organizations"
            " ON organizations.id = api_tokens.organization_id"
            " WHERE api_tokens.token_hash = ?",
            [token_hash],
        ).fetchone()
        return rows.organization(row) if row else None
