"""Turning database rows into the dataclasses of :mod:`host.types`."""

from __future__ import annotations

import json
import sqlite3

from host import types
from host.times import utcnow


def loads(text: str | None) -> dict:
    return json.loads(text) if text else {}


def inserted_id(cursor) -> int | None:
    """The id an ``INSERT ... RETURNING id`` gave back (``None``: nothing
    was inserted); read to the end, so the statement is done."""
    returned = cursor.fetchall()
    return returned[0][0] if returned else None


def update(db, table: str, row_id: int, changes: dict) -> None:
    """Set the columns ``changes`` names (the code's own names, never a
    client's) and ``updated_at`` on one row of ``table``."""
    columns = ", ".join(f"{name} = :{name}" for name in changes)
    db.execute(
        f"UPDATE {table} SET {columns}, updated_at = :now WHERE id = :id",
        {**changes, "now": utcnow(), "id": row_id},
    )


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def organization(row: sqlite3.Row) -> types.Organization:
    return types.Organization(
        id=row["id"], slug=row["slug"], name=row["name"], region=row["region"]
    )


def member(row: sqlite3.Row) -> types.Member:
    return types.Member(
        id=row["id"],
        organization_id=row["organization_id"],
        email=row["email"],
        name=row["name"],
    )


def group(row: sqlite3.Row) -> types.Group:
    return types.Group(
        id=row["id"],
        organization_id=row["organization_id"],
        title=row["title"],
        culprit=row["culprit"],
        status=row["status"],
        assignee_email=row["assignee_email"],
    )


def comment(row: sqlite3.Row) -> types.Comment:
    return types.Comment(
        id=row["id"],
        group_id=row["group_id"],
        author_email=row["author_email"],
        author_name=row["author_name"],
        text=row["text"],
    )


def integration(
    row: sqlite3.Row, organization_id: int | None = None
) -> types.Integration:
    return types.Integration(
        id=row["id"],
        provider=row["provider"],
        external_id=row["external_id"],
        name=row["name"],
        metadata=loads(row["metadata"]),
        status=row["status"],
        organization_id=organization_id,
    )


def org_integration(row: sqlite3.Row) -> types.OrganizationIntegration:
    return types.OrganizationIntegration(
        id=row["id"],
        organization_id=row["organization_id"],
        integration_id=row["integration_id"],
        config=loads(row["config"]),
        status=row["status"],
    )


def external_issue(row: sqlite3.Row) -> types.ExternalIssue:
    return types.ExternalIssue(
        id=row["id"],
        integration_id=row["integration_id"],
        key=row["key"],
        external_id=row["external_id"],
        title=row["title"],
        description=row["description"],
        url=row["url"],
    )


def delivery(row: sqlite3.Row) -> types.Delivery:
    return types.Delivery(
        id=row["id"],
        integration_id=row["integration_id"],
        provider=row["provider"],
        headers=loads(row["headers"]),
        body=bytes(row["body"]),
        received_at=row["received_at"],
        status=row["status"],
    )
