"""Jira Server's issue lookups: the shared ones (:mod:`plugins.jira_core.issues`)
in Server's dialect."""

from __future__ import annotations

from host.types import Choice
from plugins.jira_core import issues
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
    return issues.search_users(SERVER, host, integration, query, project)


def projects(host, integration) -> list[Choice]:
    return issues.projects(host, integration)


def statuses(host, integration, project: str) -> list[Choice]:
    return issues.statuses(host, integration, project)
