"""Jira's metadata, read through the per-host cache.

Projects, statuses, create metadata, priorities and versions change rarely
and every form reads them, so each answer is kept for
:data:`cache.METADATA_TTL`. A failed read raises and is not cached.
"""

from __future__ import annotations

from typing import Any

from plugins.jira_core import cache, dialect
from plugins.jira_core.client import JiraError, dicts, jira_path, require, string

#: Pages of create metadata read at most (50 entries a page by default).
MAX_PAGES = 20


def _client(host, integration):
    return dialect.of(integration).client(host, integration)


def _api(integration) -> str:
    """``/rest/api/2`` (Server) or ``/rest/api/3`` (Cloud)."""
    return dialect.of(integration).api


def _path(integration, template: str, *values) -> str:
    return jira_path(_api(integration) + template, *values)


def _cached(host, integration, key: tuple, load):
    return cache.for_host(host).get_or_load((cache.scope(integration), *key), load)


def projects(host, integration) -> list[dict[str, Any]]:
    """Every project the integration's user can see, sorted by key.

    ``/project`` is not paginated on Data Center, so one read serves every
    type-ahead until the cache expires.
    """

    def load():
        found = _client(host, integration).request(
            "GET", _api(integration) + "/project", expect=list
        )
        rows = [
            {
                "id": str(p["id"]),
                "key": string(p.get("key")),
                "name": string(p.get("name")),
            }
            for p in dicts(found)
            if isinstance(p.get("id"), str | int) and not isinstance(p["id"], bool)
        ]
        return sorted(rows, key=lambda p: p["key"])

    return _cached(host, integration, ("projects",), load)


#: Between a project's key and name in labels (an en dash, as Jira shows it).
DASH = "\u2013"


def project_label(project: dict[str, Any]) -> str:
    """``KEY - Name``: the key users type, and the name they read."""
    if not project["name"]:
        return project["key"]
    return f"{project['key']} {DASH} {project['name']}"


def project_statuses(host, integration, project_ref: str) -> tuple[str, dict]:
    """The project's id and ``{status id: name}`` of its workflows.

    :raises JiraError: with ``http_status`` 404 when there is no such project.
    """

    def load() -> tuple[str, dict]:
        client = _client(host, integration)
        project = client.request("GET", _path(integration, "/project/{}", project_ref))
        where = _path(integration, "/project/{}/statuses", project_ref)
        issue_types = client.request("GET", where, expect=list)
        statuses = {
            str(status["id"]): string(status.get("name"))
            for issue_type in dicts(issue_types)
            for status in dicts(issue_type.get("statuses"))
            if status.get("id") is not None
        }
        project_id = require(
            project, "id", _path(integration, "/project/{}", project_ref)
        )
        return str(project_id), statuses

    return _cached(host, integration, ("project-statuses", project_ref), load)


def issue_types(host, integration, project_id: str) -> list[dict[str, Any]]:
    """The issue types that can be created in a project (``{id, name}``)."""

    def from_legacy(types):
        return [
            {"id": t["id"], "name": string(t.get("name"))}
            for t in dicts(types)
            if t.get("id") is not None
        ]

    return _cached(
        host,
        integration,
        ("issue-types", project_id),
        lambda: _createmeta(host, integration, project_id, None, from_legacy),
    )


def issue_type_fields(
    host, integration, project_id: str, issue_type_id: str
) -> list[dict[str, Any]]:
    """The fields of one issue type's create screen, each with ``fieldId``."""

    def from_legacy(types):
        chosen = next(
            (t for t in dicts(types) if str(t.get("id")) == issue_type_id), None
        )
        if chosen is None:
            return None
        fields = chosen.get("fields")
        return [
            {**meta, "fieldId": field_id}
            for field_id, meta in (fields.items() if isinstance(fields, dict) else ())
            if isinstance(meta, dict)
        ]

    return _cached(
        host,
        integration,
        ("issue-type-fields", project_id, issue_type_id),
        lambda: _createmeta(host, integration, project_id, issue_type_id, from_legacy),
    )


def _createmeta(
    host, integration, project_id: str, issue_type_id: str | None, from_legacy
):
    """Create metadata from ``createmeta/{project}/issuetypes[/{issue type}]``.

    Only when that answers 404 (Jira before 8.4) is the legacy answer asked,
    and ``from_legacy`` picks the same thing out of it (None: not there, so
    the current endpoint's 404 stands).
    """
    try:
        return _paged(
            host,
            integration,
            _path(integration, "/issue/createmeta/{}/issuetypes", project_id)
            + (jira_path("/{}", issue_type_id) if issue_type_id else ""),
        )
    except JiraError as ex:
        if ex.http_status != 404:
            raise
        found = from_legacy(_legacy_createmeta(host, integration, project_id, ex))
        if found is None:
            raise
        return found


#: Where a page of create metadata keeps its entries: Server's ``values``
#: (with ``isLast``); Cloud's ``issueTypes`` or ``fields`` (with ``total``).
PAGE_ENTRIES = ("values", "issueTypes", "fields")


def _paged(host, integration, path: str) -> list[dict[str, Any]]:
    """Every entry of a paginated create metadata answer."""
    client = _client(host, integration)
    values: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = client.request("GET", path, params={"startAt": str(len(values))})
        entries = next((page[k] for k in PAGE_ENTRIES if k in page), None)
        batch = dicts(entries)
        values.extend(batch)
        total = page.get("total")
        last = (
            page["isLast"]
            if "isLast" in page
            else not isinstance(total, int) or len(values) >= total
        )
        if last or not batch:
            break
    return values


def _legacy_createmeta(host, integration, project_id: str, original: JiraError):
    """Issue types with their fields, from Jira before 8.4.

    Asked only when the current endpoint answered 404; when the old one is
    missing too, the current endpoint's error is the one worth showing.
    """

    def load():
        try:
            found = _client(host, integration).request(
                "GET",
                _api(integration) + "/issue/createmeta",
                params={
                    "projectIds": project_id,
                    "expand": "projects.issuetypes.fields",
                },
            )
        except JiraError:
            raise original from None
        projects = dicts(found.get("projects"))
        if not projects:
            raise original
        return [
            {**t, "id": str(t["id"])}
            for t in dicts(projects[0].get("issuetypes"))
            if t.get("id") is not None
        ]

    return _cached(host, integration, ("legacy-createmeta", project_id), load)


def priorities(host, integration) -> list[dict[str, Any]]:
    """Every priority (only when a field does not list its own)."""
    return _cached(
        host,
        integration,
        ("priorities",),
        lambda: dicts(
            _client(host, integration).request(
                "GET", _api(integration) + "/priority", expect=list
            )
        ),
    )


def versions(host, integration, project_id: str) -> list[dict[str, Any]]:
    """A project's versions (only when a field does not list its own)."""
    return _cached(
        host,
        integration,
        ("versions", project_id),
        lambda: dicts(
            _client(host, integration).request(
                "GET",
                _path(integration, "/project/{}/versions", project_id),
                expect=list,
            )
        ),
    )
