"""Ticket rules, and the record of which group each has acted on."""

from __future__ import annotations

import json
from typing import Any

from host.store import rows
from host.store.engine import Engine
from host.times import utcnow


class RuleStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def create(self, organization_id: int, fields: dict[str, Any]) -> int:
        now = utcnow()
        return rows.inserted_id(
            self.db.execute(
                "INSERT INTO ticket_rules (organization_id, integration_id,"
                " title_matches, culprit_matches, fields, active, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [organization_id, fields["integration_id"],
                 fields.get("title_matches"), fields.get("culprit_matches"),
                 json.dumps(fields.get("fields", {})), fields.get("active", True),
                 now, now],
            )
        )  # fmt: skip

    def update(self, rule_id: int, fields: dict[str, Any]) -> None:
        changes = dict(fields)
        if "fields" in changes:
            changes["fields"] = json.dumps(changes["fields"])
        rows.update(self.db, "ticket_rules", rule_id, changes)

    def get(self, organization_id: int, rule_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM ticket_rules WHERE id = ? AND organization_id = ?",
            [rule_id, organization_id],
        ).fetchone()
        return _rule(row) if row else None

    def list(self, organization_id: int, *, active_only: bool = False) -> list[dict]:
        where = " AND active = 1" if active_only else ""
        return [
            _rule(row)
            for row in self.db.execute(
                f"SELECT * FROM ticket_rules WHERE organization_id = ?{where}"
                " ORDER BY id",
                [organization_id],
            )
        ]

    def delete(self, organization_id: int, rule_id: int) -> bool:
        return (
            self.db.execute(
                "DELETE FROM ticket_rules WHERE id = ? AND organization_id = ?",
                [rule_id, organization_id],
            ).rowcount
            > 0
        )

    def start_run(self, rule_id: int, group_id: int) -> bool:
        """Claim the rule's one run for the group; ``False``: it had one."""
        return bool(
            self.db.execute(
                "INSERT INTO rule_runs (rule_id, group_id, state, created_at)"
                " VALUES (?, ?, 'queued', ?) ON CONFLICT (rule_id, group_id)"
                " DO NOTHING RETURNING rule_id",
                [rule_id, group_id, utcnow()],
            ).fetchall()
        )

    def run(self, rule_id: int, group_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM rule_runs WHERE rule_id = ? AND group_id = ?",
            [rule_id, group_id],
        ).fetchone()
        return dict(row) if row else None

    def finish_run(
        self,
        rule_id: int,
        group_id: int,
        state: str,
        external_issue_id: int | None = None,
        error: str | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE rule_runs SET state = ?, external_issue_id = ?, error = ?"
            " WHERE rule_id = ? AND group_id = ?",
            [state, external_issue_id, error, rule_id, group_id],
        )


def _rule(row) -> dict:
    rule = dict(row)
    rule["fields"] = json.loads(rule["fields"])
    rule["active"] = bool(rule["active"])
    return rule
