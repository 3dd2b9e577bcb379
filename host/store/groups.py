"""Groups (the host's issues), their activity and comments."""

from __future__ import annotations

import re
from typing import Any

from host import types
from host.store import rows
from host.store.engine import Engine
from host.times import utcnow

GROUP_SELECT = """
    SELECT groups.*, users.email AS assignee_email
    FROM groups
    LEFT JOIN members ON members.id = groups.assignee_id
    LEFT JOIN users ON users.id = members.user_id
"""


class GroupStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def create(self, organization_id: int, title: str, culprit: str) -> int:
        now = utcnow()
        cursor = self.db.execute(
            "INSERT INTO groups (organization_id, title, culprit, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [organization_id, title, culprit, now, now],
        )
        return rows.inserted_id(cursor)

    def get(self, organization_id: int, group_id: int) -> types.Group | None:
        row = self.db.execute(
            GROUP_SELECT + " WHERE groups.organization_id = ? AND groups.id = ?",
            [organization_id, group_id],
        ).fetchone()
        return rows.group(row) if row else None

    def timestamps(self, group_id: int) -> tuple[str, str]:
        row = self.db.execute(
            "SELECT created_at, updated_at FROM groups WHERE id = ?", [group_id]
        ).fetchone()
        return row["created_at"], row["updated_at"]

    def list(
        self,
        organization_id: int,
        status: str | None,
        limit: int,
        offset: int,
        title_contains: str | None = None,
    ) -> list[types.Group]:
        where, params = "groups.organization_id = ?", [organization_id]
        if status:
            where += " AND groups.status = ?"
            params.append(status)
        if title_contains:
            # Any case, and % _ \ as themselves (LIKE's own characters).
            escaped = re.sub(r"([%_\\])", r"\\\1", title_contains.lower())
            where += " AND lower(groups.title) LIKE ? ESCAPE '\\'"
            params.append(f"%{escaped}%")
        cursor = self.db.execute(
            GROUP_SELECT + f" WHERE {where} ORDER BY groups.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [rows.group(row) for row in cursor]

    def assigned_to(self, organization_id: int, member_id: int) -> list[types.Group]:
        cursor = self.db.execute(
            GROUP_SELECT
            + " WHERE groups.organization_id = ? AND groups.assignee_id = ?"
            " ORDER BY groups.id",
            [organization_id, member_id],
        )
        return [rows.group(row) for row in cursor]

    def set_status(self, group_id: int, status: str) -> None:
        self.db.execute(
            "UPDATE groups SET status = ?, updated_at = ? WHERE id = ?",
            [status, utcnow(), group_id],
        )

    def set_assignee(self, group_id: int, member_id: int | None) -> None:
        self.db.execute(
            "UPDATE groups SET assignee_id = ?, updated_at = ? WHERE id = ?",
            [member_id, utcnow(), group_id],
        )

    def delete(self, group_id: int) -> None:
        self.db.execute("DELETE FROM groups WHERE id = ?", [group_id])

    # ---- activity ----

    def last_change_at(
        self, group_id: int, types: tuple[str, ...], not_from_integration: int
    ) -> str | None:
        """When the group last got one of ``types`` of activity from anywhere
        but integration ``not_from_integration`` (a user, the host, another
        tracker); ``None`` if never."""
        marks = ", ".join("?" for _ in types)
        return self.db.execute(
            "SELECT max(created_at) FROM group_activity WHERE group_id = ?"
            f" AND type IN ({marks}) AND source_integration_id IS DISTINCT FROM ?",
            [group_id, *types, not_from_integration],
        ).fetchone()[0]

    def add_activity(
        self,
        group_id: int,
        type: str,
        data: dict[str, Any],
        *,
        source: str,
        actor_member_id: int | None = None,
        source_integration_id: int | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO group_activity (group_id, type, data, actor_member_id,"
            " source, source_integration_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                group_id,
                type,
                rows.dumps(data),
                actor_member_id,
                source,
                source_integration_id,
                utcnow(),
            ],
        )
        return rows.inserted_id(cursor)

    def activity(self, group_id: int) -> list[dict[str, Any]]:
        cursor = self.db.execute(
            "SELECT * FROM group_activity WHERE group_id = ? ORDER BY id", [group_id]
        )
        return [
            {
                "id": row["id"],
                "type": row["type"],
                "data": rows.loads(row["data"]),
                "source": row["source"],
                "source_integration_id": row["source_integration_id"],
                "actor_member_id": row["actor_member_id"],
                "created_at": row["created_at"],
            }
            for row in cursor
        ]

    # ---- comments ----

    def add_comment(
        self,
        group_id: int,
        *,
        text: str,
        author_name: str,
        author_email: str | None,
        author_member_id: int | None,
        source: str,
        source_integration_id: int | None = None,
    ) -> int:
        now = utcnow()
        cursor = self.db.execute(
            "INSERT INTO comments (group_id, author_member_id, author_name,"
            " author_email, text, source, source_integration_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                group_id,
                author_member_id,
                author_name,
                author_email,
                text,
                source,
                source_integration_id,
                now,
                now,
            ],
        )
        return rows.inserted_id(cursor)

    def comment(self, group_id: int, comment_id: int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM comments WHERE group_id = ? AND id = ?",
            [group_id, comment_id],
        ).fetchone()
        return dict(row) if row else None

    def comment_record(self, group_id: int, comment_id: int) -> types.Comment | None:
        """The comment as handed to providers."""
        row = self.db.execute(
            "SELECT * FROM comments WHERE group_id = ? AND id = ?",
            [group_id, comment_id],
        ).fetchone()
        return rows.comment(row) if row else None

    def comments(self, group_id: int) -> list[dict[str, Any]]:
        cursor = self.db.execute(
            "SELECT * FROM comments WHERE group_id = ? ORDER BY id", [group_id]
        )
        return [dict(row) for row in cursor]

    def update_comment(self, comment_id: int, text: str) -> None:
        self.db.execute(
            "UPDATE comments SET text = ?, updated_at = ? WHERE id = ?",
            [text, utcnow(), comment_id],
        )

    def comment_link(self, comment_id: int, external_issue_id: int) -> str | None:
        """The tracker's id of this comment on that external issue, if synced."""
        row = self.db.execute(
            "SELECT external_comment_id FROM comment_links"
            " WHERE comment_id = ? AND external_issue_id = ?",
            [comment_id, external_issue_id],
        ).fetchone()
        return row[0] if row else None

    def link_comment(
        self, comment_id: int, external_issue_id: int, external_comment_id: str
    ) -> None:
        self.db.execute(
            "INSERT INTO comment_links (comment_id, external_issue_id,"
            " external_comment_id) VALUES (?, ?, ?)"
            " ON CONFLICT (comment_id, external_issue_id) DO UPDATE"
            " SET external_comment_id = excluded.external_comment_id",
            [comment_id, external_issue_id, external_comment_id],
        )

    def comment_by_external_id(
        self, group_id: int, external_issue_id: int, external_comment_id: str
    ) -> dict[str, Any] | None:
        """The group's comment linked to that tracker comment, if any."""
        row = self.db.execute(
            "SELECT comments.* FROM comment_links JOIN comments"
            " ON comments.id = comment_links.comment_id"
            " WHERE comments.group_id = ? AND comment_links.external_issue_id = ?"
            " AND comment_links.external_comment_id = ?",
            [group_id, external_issue_id, external_comment_id],
        ).fetchone()
        return dict(row) if row else None
