"""The JSON shapes of the objects the API answers with and events carry:
one shape per object, whichever way an application learns of it."""

from __future__ import annotations

from typing import Any

from host.types import ExternalIssue, Group, Member, Organization


def organization(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "region": org.region}


def member(m: Member) -> dict[str, Any]:
    return {"id": m.id, "email": m.email, "name": m.name}


def external_issue(issue: ExternalIssue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "integration_id": issue.integration_id,
        "key": issue.key,
        "external_id": issue.external_id,
        "title": issue.title,
        "description": issue.description,
        "url": issue.url,
    }


def group(g: Group, timestamps: tuple[str, str] | None = None) -> dict[str, Any]:
    data = {
        "id": g.id,
        "title": g.title,
        "culprit": g.culprit,
        "status": g.status,
        "assignee": g.assignee_email,
    }
    if timestamps:
        data["created_at"], data["updated_at"] = timestamps
    return data


def comment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "text": row["text"],
        "author": {"name": row["author_name"], "email": row["author_email"]},
        "source": row["source"],
        "source_integration_id": row["source_integration_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
