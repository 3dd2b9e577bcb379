"""Integrations, organizations' use of them, credentials and external issues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host import types
from host.sealing import SecretBox
from host.store import rows
from host.store.engine import Engine
from host.times import utcnow


class IntegrationStore:
    def __init__(self, db: Engine, box: SecretBox) -> None:
        self.db = db
        self.box = box  # seals what a copy of the database must not reveal

    def hold(self, provider: str, external_id: str) -> None:
        """Until this transaction ends, another install of the same tracker
        waits here (looking it up, then creating it, is one step)."""
        self.db.lock(f"integration:{provider}:{external_id}")

    def create(
        self, provider: str, external_id: str, name: str, metadata: Mapping[str, Any]
    ) -> int:
        now = utcnow()
        return rows.inserted_id(
            self.db.execute(
                "INSERT INTO integrations (provider, external_id, name, metadata,"
                " status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'active', ?, ?) RETURNING id",
                [provider, external_id, name, rows.dumps(dict(metadata)), now, now],
            )
        )

    def update(
        self, integration_id: int, name: str, metadata: Mapping[str, Any]
    ) -> None:
        self.db.execute(
            "UPDATE integrations SET name = ?, metadata = ?, status = 'active',"
            " updated_at = ? WHERE id = ?",
            [name, rows.dumps(dict(metadata)), utcnow(), integration_id],
        )

    def get(
        self, integration_id: int, organization_id: int | None = None
    ) -> types.Integration | None:
        """The integration; with ``organization_id``, as that organization's
        calls see it (its credentials), whether or not it uses it."""
        row = self.db.execute(
            "SELECT * FROM integrations WHERE id = ?", [integration_id]
        ).fetchone()
        return rows.integration(row, organization_id) if row else None

    def get_by_external_id(
        self, provider: str, external_id: str
    ) -> types.Integration | None:
        row = self.db.execute(
            "SELECT * FROM integrations WHERE provider = ? AND external_id = ?",
            [provider, external_id],
        ).fetchone()
        return rows.integration(row) if row else None

    def update_metadata(self, integration_id: int, changes: Mapping[str, Any]) -> None:
        """Merge ``changes`` into the metadata as a JSON merge patch (RFC
        7396: objects merge, ``None`` removes a key); call inside a
        transaction, which makes the read and the write one."""
        row = self.db.execute(
            "SELECT metadata FROM integrations WHERE id = ?", [integration_id]
        ).fetchone()
        if row is None:
            return
        self.db.execute(
            "UPDATE integrations SET metadata = ?, updated_at = ? WHERE id = ?",
            [
                rows.dumps(_merge_patch(rows.loads(row[0]), dict(changes))),
                utcnow(),
                integration_id,
            ],
        )

    def set_status(self, integration_id: int, status: str) -> None:
        self.db.execute(
            "UPDATE integrations SET status = ?, updated_at = ? WHERE id = ?",
            [status, utcnow(), integration_id],
        )

    def delete(self, integration_id: int) -> None:
        """Delete it and everything kept about it: deliveries, their jobs and
        its own, forwards, links, echoes (the rest cascades)."""
        # Its jobs are its lanes: its tracker's calls and its inbound applies.
        self.db.execute(
            "DELETE FROM jobs WHERE lane IN (?, ?)", [integration_id, -integration_id]
        )
        self.db.execute(
            "DELETE FROM forwards WHERE integration_id = ?", [integration_id]
        )
        self.db.execute("DELETE FROM integrations WHERE id = ?", [integration_id])

    # ---- credentials ----

    def set_credentials(self, integration_id: int, data: Mapping[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO credentials (integration_id, data, updated_at)"
            " VALUES (?, ?, ?) ON CONFLICT (integration_id) DO UPDATE SET"
            " data = excluded.data,"
            " updated_at = excluded.updated_at",
            [integration_id, self.box.seal(rows.dumps(dict(data))), utcnow()],
        )

    def credentials(self, integration_id: int) -> dict[str, Any]:
        """The integration's shared secrets."""
        row = self.db.execute(
            "SELECT data FROM credentials WHERE integration_id = ?", [integration_id]
        ).fetchone()
        return rows.loads(self.box.open(row[0])) if row else {}

    def set_installation_credentials(
        self, org_integration_id: int, data: Mapping[str, Any]
    ) -> None:
        self.db.execute(
            "INSERT INTO installation_credentials (organization_integration_id,"
            " data, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (organization_integration_id) DO UPDATE SET"
            " data = excluded.data, updated_at = excluded.updated_at",
            [org_integration_id, self.box.seal(rows.dumps(dict(data))), utcnow()],
        )

    def installation_credentials(self, org_integration_id: int) -> dict[str, Any]:
        """One organization's own secrets for the integration."""
        row = self.db.execute(
            "SELECT data FROM installation_credentials"
            " WHERE organization_integration_id = ?",
            [org_integration_id],
        ).fetchone()
        return rows.loads(self.box.open(row[0])) if row else {}

    def first_working_installation(
        self, integration_id: int
    ) -> types.OrganizationIntegration | None:
        """The oldest use whose credentials the tracker has not refused: whose
        credentials calls about the integration as a whole go out with."""
        row = self.db.execute(
            "SELECT * FROM organization_integrations WHERE integration_id = ?"
            " AND status = 'active' ORDER BY id LIMIT 1",
            [integration_id],
        ).fetchone()
        return rows.org_integration(row) if row else None

    def set_installation_status(self, org_integration_id: int, status: str) -> None:
        self.db.execute(
            "UPDATE organization_integrations SET status = ? WHERE id = ?",
            [status, org_integration_id],
        )

    # ---- organizations using an integration ----

    def add_organization(self, organization_id: int, integration_id: int) -> int:
        self.db.execute(
            "INSERT INTO organization_integrations (organization_id, integration_id,"
            " created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (organization_id, integration_id) DO UPDATE SET status ="
            " 'active'",
            [organization_id, integration_id, utcnow()],
        )
        return self.org_integration(organization_id, integration_id).id

    def org_integration(
        self, organization_id: int, integration_id: int
    ) -> types.OrganizationIntegration | None:
        row = self.db.execute(
            "SELECT * FROM organization_integrations"
            " WHERE organization_id = ? AND integration_id = ?",
            [organization_id, integration_id],
        ).fetchone()
        return rows.org_integration(row) if row else None

    def org_integrations(
        self, integration_id: int
    ) -> list[types.OrganizationIntegration]:
        cursor = self.db.execute(
            "SELECT * FROM organization_integrations WHERE integration_id = ?"
            " ORDER BY organization_id",
            [integration_id],
        )
        return [rows.org_integration(row) for row in cursor]

    def for_organization(
        self, organization_id: int
    ) -> list[tuple[types.Integration, types.OrganizationIntegration]]:
        cursor = self.db.execute(
            "SELECT integrations.*, organization_integrations.id AS oi_id,"
            " organization_integrations.config AS oi_config,"
            " organization_integrations.status AS oi_status"
            " FROM organization_integrations JOIN integrations"
            " ON integrations.id = organization_integrations.integration_id"
            " WHERE organization_integrations.organization_id = ?"
            " ORDER BY integrations.id",
            [organization_id],
        )
        return [
            (
                rows.integration(row, organization_id),
                types.OrganizationIntegration(
                    id=row["oi_id"],
                    organization_id=organization_id,
                    integration_id=row["id"],
                    config=rows.loads(row["oi_config"]),
                    status=row["oi_status"],
                ),
            )
            for row in cursor
        ]

    def set_config(self, org_integration_id: int, config: Mapping[str, Any]) -> None:
        self.db.execute(
            "UPDATE organization_integrations SET config = ? WHERE id = ?",
            [rows.dumps(dict(config)), org_integration_id],
        )

    def count_links(self, organization_id: int, integration_id: int) -> int:
        """How many of the organization's groups link its issues."""
        return self.db.execute(
            "SELECT count(*) FROM group_links"
            " JOIN groups ON groups.id = group_links.group_id"
            " JOIN external_issues"
            " ON external_issues.id = group_links.external_issue_id"
            " WHERE groups.organization_id = ? AND external_issues.integration_id = ?",
            [organization_id, integration_id],
        ).fetchone()[0]

    def remove_organization(
        self, organization_id: int, integration_id: int
    ) -> tuple[int, list[tuple[int, int]]]:
        """Remove the organization's use and its links; the uses left, and
        the links removed as (group id, external issue id)."""
        removed = self.db.execute(
            "DELETE FROM group_links WHERE id IN (SELECT group_links.id FROM"
            " group_links JOIN groups ON groups.id = group_links.group_id"
            " JOIN external_issues ON external_issues.id ="
            " group_links.external_issue_id WHERE groups.organization_id = ?"
            " AND external_issues.integration_id = ?)"
            " RETURNING group_id, external_issue_id",
            [organization_id, integration_id],
        ).fetchall()
        self.db.execute(
            "DELETE FROM organization_integrations"
            " WHERE organization_id = ? AND integration_id = ?",
            [organization_id, integration_id],
        )
        left = self.db.execute(
            "SELECT count(*) FROM organization_integrations WHERE integration_id = ?",
            [integration_id],
        ).fetchone()[0]
        return left, [(row[0], row[1]) for row in removed]

    # ---- external issues and their links to groups ----

    def upsert_external_issue(
        self, integration_id: int, issue: types.TrackerIssue
    ) -> int:
        now = utcnow()
        self.db.execute(
            "INSERT INTO external_issues (integration_id, key, external_id, title,"
            " description, url, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (integration_id, key) DO UPDATE SET"
            " external_id ="
            " coalesce(excluded.external_id, external_issues.external_id),"
            " title = excluded.title, description = excluded.description,"
            " url = excluded.url, updated_at = excluded.updated_at",
            [
                integration_id,
                issue.key,
                issue.external_id,
                issue.title,
                issue.description,
                issue.url,
                now,
                now,
            ],
        )
        return self.db.execute(
            "SELECT id FROM external_issues WHERE integration_id = ? AND key = ?",
            [integration_id, issue.key],
        ).fetchone()[0]

    def external_issue(
        self,
        integration_id: int,
        *,
        key: str | None = None,
        issue_id: str | None = None,
    ) -> types.ExternalIssue | None:
        """Find by the tracker's stable id first, then by key."""
        row = None
        if issue_id:
            row = self.db.execute(
                "SELECT * FROM external_issues"
                " WHERE integration_id = ? AND external_id = ?",
                [integration_id, issue_id],
            ).fetchone()
        if row is None and key:
            row = self.db.execute(
                "SELECT * FROM external_issues WHERE integration_id = ? AND key = ?",
                [integration_id, key],
            ).fetchone()
        return rows.external_issue(row) if row else None

    def is_tracked(
        self, integration_id: int, *, key: str | None, issue_id: str | None
    ) -> bool:
        """Whether any group links the tracker issue with this id or key."""
        return (
            self.db.execute(
                "SELECT 1 FROM external_issues JOIN group_links"
                " ON group_links.external_issue_id = external_issues.id"
                " WHERE external_issues.integration_id = :integration"
                " AND (external_issues.external_id = :id OR external_issues.key = :key)"
                " LIMIT 1",
                {"integration": integration_id, "id": issue_id, "key": key},
            ).fetchone()
            is not None
        )

    def external_issue_by_id(
        self, external_issue_id: int
    ) -> types.ExternalIssue | None:
        row = self.db.execute(
            "SELECT * FROM external_issues WHERE id = ?", [external_issue_id]
        ).fetchone()
        return rows.external_issue(row) if row else None

    def rekey_external_issue(self, external_issue_id: int, key: str, url: str) -> None:
        self.db.execute(
            "UPDATE external_issues SET key = ?, url = ?, updated_at = ? WHERE id = ?",
            [key, url, utcnow(), external_issue_id],
        )

    def lock_issue(self, external_issue_id: int) -> None:
        """Until this transaction ends, other transactions that lock the
        issue wait: its field watermarks are read, compared and written as
        one step (on SQLite the writer is exclusive anyway)."""
        self.db.execute(
            f"SELECT id FROM external_issues WHERE id = ?{self.db.for_update}",
            [external_issue_id],
        ).fetchall()

    def last_event_at(self, external_issue_id: int, field: str) -> str | None:
        """When the newest change of the issue's ``field`` applied happened."""
        row = self.db.execute(
            "SELECT occurred_at FROM issue_event_times"
            " WHERE external_issue_id = ? AND field = ?",
            [external_issue_id, field],
        ).fetchone()
        return row[0] if row else None

    def set_last_event_at(
        self, external_issue_id: int, field: str, occurred_at: str
    ) -> None:
        self.db.execute(
            "INSERT INTO issue_event_times (external_issue_id, field, occurred_at)"
            " VALUES (?, ?, ?) ON CONFLICT (external_issue_id, field) DO UPDATE"
            " SET occurred_at ="
            " excluded.occurred_at",
            [external_issue_id, field, occurred_at],
        )

    def linked_after(
        self, integration_id: int, after: int, limit: int
    ) -> list[types.ExternalIssue]:
        """The integration's issues linked to a group, by id after ``after``."""
        cursor = self.db.execute(
            "SELECT * FROM external_issues WHERE integration_id = ? AND id > ?"
            " AND EXISTS (SELECT 1 FROM group_links AS l"
            " WHERE l.external_issue_id = external_issues.id)"
            " ORDER BY id LIMIT ?",
            [integration_id, after, limit],
        )
        return [rows.external_issue(row) for row in cursor]

    def link(self, group_id: int, external_issue_id: int) -> None:
        self.db.execute(
            "INSERT INTO group_links (group_id, external_issue_id, created_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [group_id, external_issue_id, utcnow()],
        )

    def unlink(self, group_id: int, external_issue_id: int) -> bool:
        cursor = self.db.execute(
            "DELETE FROM group_links WHERE group_id = ? AND external_issue_id = ?",
            [group_id, external_issue_id],
        )
        return cursor.rowcount > 0

    def is_linked(self, external_issue_id: int) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM group_links WHERE external_issue_id = ? LIMIT 1",
                [external_issue_id],
            ).fetchone()
            is not None
        )

    def issues_for_group(self, group_id: int) -> list[types.ExternalIssue]:
        cursor = self.db.execute(
            "SELECT external_issues.* FROM group_links JOIN external_issues"
            " ON external_issues.id = group_links.external_issue_id"
            " WHERE group_links.group_id = ? ORDER BY external_issues.id",
            [group_id],
        )
        return [rows.external_issue(row) for row in cursor]

    def linked_group_ids(
        self, external_issue_id: int, organization_id: int
    ) -> list[int]:
        # CROSS JOIN fixes the order: from the issue's few links to their
        # groups. Left to itself, SQLite may walk every group of the
        # organization through groups_org_status (bench/growth.py found it).
        cursor = self.db.execute(
            "SELECT groups.id FROM group_links CROSS JOIN groups"
            " WHERE groups.id = group_links.group_id"
            " AND group_links.external_issue_id = ? AND groups.organization_id = ?"
            " ORDER BY groups.id",
            [external_issue_id, organization_id],
        )
        return [row[0] for row in cursor]

    # ---- echoes of our own writes ----

    def add_echo(
        self,
        external_issue_id: int,
        action: str,
        value: str,
        *,
        now: float,
        ttl: float,
    ) -> None:
        """Remember a write for ``ttl`` seconds; expired ones are dropped here,
        where writes are rare, rather than on the inbound path."""
        self.db.execute("DELETE FROM sync_echoes WHERE expires_at < ?", [now])
        self.db.execute(
            "INSERT INTO sync_echoes (external_issue_id, action, value, expires_at)"
            " VALUES (?, ?, ?, ?)",
            [external_issue_id, action, value, now + ttl],
        )

    def take_echo(
        self,
        external_issue_id: int,
        action: str,
        value: str,
        now: float,
        *,
        supersedes: bool = False,
    ) -> bool:
        """Consume the oldest unexpired matching echo; True when there was
        one. ``supersedes``: the older echoes of the same action go too."""
        # One statement: two appliers of the same echo cannot both take it.
        taken = self.db.execute(
            "DELETE FROM sync_echoes WHERE id = (SELECT id FROM sync_echoes"
            " WHERE external_issue_id = ? AND action = ? AND value = ?"
            " AND expires_at >= ? ORDER BY id LIMIT 1) RETURNING id",
            [external_issue_id, action, value, now],
        ).fetchall()
        if not taken:
            return False
        if supersedes:
            self.db.execute(
                "DELETE FROM sync_echoes WHERE external_issue_id = ? AND action = ?"
                " AND id < ?",
                [external_issue_id, action, taken[0][0]],
            )
        return True


def _merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied as RFC 7396 says (SQLite's
    ``json_patch``, done here so that every engine does the same)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged
