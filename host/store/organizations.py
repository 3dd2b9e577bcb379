"""Organizations, their members (users by email) and API tokens."""

from __future__ import annotations

from host import types
from host.store import rows
from host.store.engine import Engine
from host.times import utcnow

MEMBER_SELECT = """
    SELECT members.id, members.organization_id, users.email, members.name
    FROM members JOIN users ON users.id = members.user_id
"""


class OrganizationStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def create(self, slug: str, name: str, region: str | None = None) -> int:
        cursor = self.db.execute(
            "INSERT INTO organizations (slug, name, region, created_at)"
            " VALUES (?, ?, ?, ?) RETURNING id",
            [slug, name, region, utcnow()],
        )
        return rows.inserted_id(cursor)

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

    def add_member(
        self, organization_id: int, email: str, name: str
    ) -> tuple[int, bool]:
        """Add the person with this email to the organization; return the
        member id and whether it is new. The display name is the
        membership's own: adding someone to a second organization, or again
        to this one, changes nothing anywhere else."""
        normalized = email.strip().lower()
        self.db.execute(
            "INSERT INTO users (email, email_normalized, name, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (email_normalized) DO NOTHING",
            [email.strip(), normalized, name, utcnow()],
        )
        user_id = self.db.execute(
            "SELECT id FROM users WHERE email_normalized = ?", [normalized]
        ).fetchone()[0]
        created = self.db.execute(
            "INSERT INTO members (organization_id, user_id, name, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [organization_id, user_id, name, utcnow()],
        ).rowcount
        member_id = self.db.execute(
            "SELECT id FROM members WHERE organization_id = ? AND user_id = ?",
            [organization_id, user_id],
        ).fetchone()[0]
        return member_id, created > 0

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

    def remove_member(self, organization_id: int, member_id: int) -> None:
        """Delete the membership (the person's other memberships stay;
        comments and activity keep their names, their member id is cleared)."""
        self.db.execute(
            "DELETE FROM members WHERE organization_id = ? AND id = ?",
            [organization_id, member_id],
        )

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
        self,
        organization_id: int,
        token_hash: str,
        prefix: str,
        label: str,
        expires_at: float | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO api_tokens (organization_id, token_hash, prefix, label,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [organization_id, token_hash, prefix, label, utcnow(), expires_at],
        )
        return rows.inserted_id(cursor)

    def token_for_hash(self, token_hash: str, now: float) -> dict | None:
        """The live (not revoked, not expired) token with this hash, with its
        organization."""
        row = self.db.execute(
            "SELECT api_tokens.id AS token_id, api_tokens.last_used_at,"
            " organizations.* FROM api_tokens JOIN organizations"
            " ON organizations.id = api_tokens.organization_id"
            " WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL"
            " AND (api_tokens.expires_at IS NULL OR api_tokens.expires_at > ?)",
            [token_hash, now],
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row["token_id"],
            "last_used_at": row["last_used_at"],
            "organization": rows.organization(row),
        }

    def touch_token(self, token_id: int, used_at: str) -> None:
        self.db.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [used_at, token_id]
        )

    def tokens(self, organization_id: int) -> list[dict]:
        """The organization's tokens that were not revoked, oldest first."""
        cursor = self.db.execute(
            "SELECT id, label, prefix, created_at, last_used_at, expires_at"
            " FROM api_tokens WHERE organization_id = ? AND revoked_at IS NULL"
            " ORDER BY id",
            [organization_id],
        )
        return [dict(row) for row in cursor]

    def revoke_token(self, organization_id: int, token_id: int) -> bool:
        cursor = self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ?"
            " AND organization_id = ? AND revoked_at IS NULL",
            [utcnow(), token_id, organization_id],
        )
        return cursor.rowcount > 0
