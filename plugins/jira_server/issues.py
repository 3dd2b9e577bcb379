"""Jira Server's issue lookups: the shared ones (:mod:`plugins.jira_core.issues`)
in Server's dialect, and what reads Server's metadata (assignable users by
user name, projects, a project's statuses)."""

from __future__ import annotations

from host.errors import IntegrationError, ValidationError
from host.types import Choice
from plugins.jira_core import issues
from plugins.jira_core.client import JiraError, dicts
from plugins.jira_core.issues import user_label
from plugins.jira_server import metadata
from plugins.jira_server.setup import integration_client
from plugins.jira_server.sync import SERVER


def get(host, integration, key: str):
    return issues.get(SERVER, host, integration, key)


def after_link(host, integration, external_issue, data) -> bool:
    return issues.after_link(SERVER, host, integration, external_issue, data)


def search(host, integration, query: str) -> list[Choice]:
    return issues.search(SERVER, host, integration, query)


def field_values(host, integration, field: str, query: str) -> list[Choice]:
    return issues.field_values(SERVER, host, integration, field, query)


def search_users(host, integration, query: str, project: str | None) -> list[Choice]:
    """Users assignable in ``project`` (an id or a key) whose name or email match."""
    if not project:
        raise ValidationError({"project": ["Choose a Jira project first."]})
    if project.isdigit():  # Jira's user search takes the key
        keys = {p["id"]: p["key"] for p in metadata.projects(host, integration)}
        project = keys.get(project, project)
    try:
        found = integration_client(host, integration).request(
            "GET",
            "/rest/api/2/user/assignable/search",
            params={"project": project, "username": query.strip()},
            expect=list,
        )
    except JiraError as ex:
        raise IntegrationError(f"Unable to fetch users from Jira: {ex}") from None
    return [
        Choice(value=user["name"], label=user_label(user))
        for user in dicts(found)
        if isinstance(user.get("name"), str) and user["name"]
    ]


def projects(host, integration) -> list[Choice]:
    return [
        Choice(value=p["id"], label=metadata.project_label(p))
        for p in metadata.projects(host, integration)
    ]


def statuses(host, integration, project: str) -> list[Choice]:
    _, found = metadata.project_statuses(host, integration, project)
    return [Choice(value=status_id, label=name) for status_id, name in found.items()]
