"""Jira issues from the host, for both providers: look one up to link it,
comment on linking, search issues, field autocomplete.

Keys are checked before they are put in a URL path, so ``../`` never reaches
Jira. JQL built from user text escapes its quotes.
"""

from __future__ import annotations

import html
import re

from host.errors import IntegrationError, NotFound, ValidationError
from host.types import Choice, TrackerIssue
from plugins.jira_core import metadata
from plugins.jira_core.client import JiraError, dicts, jira_path, require, string
from plugins.jira_core.dialect import Dialect

ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
ISSUE_ID = re.compile(r"^\d+$")
TAGS = re.compile(r"<[^>]*>")


def browse_url(integration, key: str) -> str:
    return f"{integration.metadata['base_url'].rstrip('/')}/browse/{key}"


def get(dialect: Dialect, host, integration, key: str) -> TrackerIssue:
    """:raises ValidationError: not an issue key. :raises NotFound: no such issue."""
    key = key.strip()
    if not (ISSUE_KEY.match(key) or ISSUE_ID.match(key)):
        raise ValidationError({"key": ["Enter a Jira issue key such as PRJ-123."]})
    client = dialect.client(host, integration)
    where = jira_path(dialect.api + "/issue/{}", key)
    try:
        issue = client.request("GET", where, params={"fields": "summary,description"})
    except JiraError as ex:
        if ex.http_status == 404:
            raise NotFound(
                f"Jira issue {key} does not exist, or trackbridge's Jira user "
                "cannot see it."
            ) from None
        raise
    found_key = str(require(issue, "key", where, (str,)))
    fields = _fields(issue)
    return TrackerIssue(
        key=found_key,
        external_id=str(require(issue, "id", where)),
        title=string(fields.get("summary")),
        description=dialect.body_text(fields.get("description")),
        url=browse_url(integration, found_key),
    )


def _fields(issue: dict) -> dict:
    fields = issue.get("fields")
    return fields if isinstance(fields, dict) else {}


def after_link(dialect: Dialect, host, integration, external_issue, data) -> bool:
    """Post the link form's comment, as written, when there is one."""
    comment = (data or {}).get("comment")
    if isinstance(comment, str) and comment.strip():
        dialect.client(host, integration).request(
            "POST",
            jira_path(dialect.api + "/issue/{}/comment", external_issue.key),
            json_body={"body": dialect.text_body(comment)},
        )
    return True


def search(dialect: Dialect, host, integration, query: str) -> list[Choice]:
    """``id="KEY"`` for an issue key, else a text search."""
    query = query.strip()
    if ISSUE_KEY.match(query):
        jql = f'id="{escape(query)}"'
    else:
        jql = f'text ~ "{escape(query)}"'
    found = dialect.client(host, integration).request(
        "GET",
        dialect.search_path,
        params={"jql": jql, "fields": "summary", "maxResults": "50"},
    )
    return [
        Choice(
            value=issue["key"],
            label=f"({issue['key']}) {string(_fields(issue).get('summary'))}",
        )
        for issue in dicts(found.get("issues"))
        if isinstance(issue.get("key"), str)
    ]


def field_values(
    dialect: Dialect, host, integration, field: str, query: str
) -> list[Choice]:
    """Values of any other field, from Jira's JQL autocomplete.

    A custom field is named ``cf[123]`` there; the suggestion's label comes
    with ``<b>`` marks around the matched text, which are dropped.
    """
    custom = re.fullmatch(r"customfield_(\d+)", field)
    try:
        found = dialect.client(host, integration).request(
            "GET",
            dialect.api + "/jql/autocompletedata/suggestions",
            params={
                "fieldName": f"cf[{custom[1]}]" if custom else field,
                "fieldValue": query.strip(),
            },
        )
    except JiraError as ex:
        raise IntegrationError(
            f"Unable to fetch autocomplete for {field} from Jira: {ex}"
        ) from None
    return [
        Choice(
            value=str(item["value"]),
            label=html.unescape(TAGS.sub("", str(item.get("displayName") or ""))),
        )
        for item in dicts(found.get("results"))
        if item.get("value") is not None
    ]


def search_users(
    dialect: Dialect, host, integration, query: str, project: str | None
) -> list[Choice]:
    """Users assignable in ``project`` (an id or a key) whose name or email match."""
    if not project:
        raise ValidationError({"project": ["Choose a Jira project first."]})
    if project.isdigit():  # Jira's user search takes the key
        keys = {p["id"]: p["key"] for p in metadata.projects(host, integration)}
        project = keys.get(project, project)
    try:
        found = dialect.client(host, integration).request(
            "GET",
            dialect.api + "/user/assignable/search",
            params={"project": project, dialect.user_search: query.strip()},
            expect=list,
        )
    except JiraError as ex:
        raise IntegrationError(f"Unable to fetch users from Jira: {ex}") from None
    return [
        Choice(value=user[dialect.user_field], label=user_label(user))
        for user in dicts(found)
        if isinstance(user.get(dialect.user_field), str) and user[dialect.user_field]
    ]


def projects(host, integration) -> list[Choice]:
    return [
        Choice(value=p["id"], label=metadata.project_label(p))
        for p in metadata.projects(host, integration)
    ]


def statuses(host, integration, project: str) -> list[Choice]:
    _, found = metadata.project_statuses(host, integration, project)
    return [Choice(value=status_id, label=name) for status_id, name in found.items()]


def user_label(user) -> str:
    """``"Bobby - bob@example.org (bob)"``, as Sentry shows users."""
    email = user.get("emailAddress")
    name = user.get("name")
    text = user.get("displayName") or name or ""
    if email:
        text += f" - {email}"
    if name:
        text += f" ({name})"
    return text.strip()


def escape(text: str) -> str:
    """Text inside a JQL string literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
