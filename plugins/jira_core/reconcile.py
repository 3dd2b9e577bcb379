"""Reconciliation, for both Jira providers: what changed that no webhook
brought.

Jira Server/DC never redelivers a webhook it failed to send (field notes
§1c), and Cloud's may be lost too, so each pass asks Jira for the issues
updated since the last one:

1. one JQL search, ``updated >= -Nm``, paged, reading only ids and keys.
   The window is relative (minutes before Jira's own now), so it means the
   same whatever time zone the Jira user has, and it starts
   ``OVERLAP`` early for clock skew and index lag;
2. for the issues among them that are linked to a group (few, usually), a
   second search by id with ``expand=changelog`` and their comments. The
   latest status change and the latest assignee change inside the window,
   and every comment made or edited in it, become the events their webhooks
   would have carried, at the time Jira made them;
3. the batch of linked issues the host asks to ``check``: one search by id
   a page (ids only); each one missing is asked for by id, and a 404 makes
   it an ``IssueDeleted`` (an answer under another key, an ``IssueMoved``).

A pass that finds only changes webhooks already brought changes nothing:
the host applies them by the webhook rules.

Server searches ``/rest/api/2/search`` paged by ``startAt`` and ``total``,
with ``expand=changelog``. Cloud's ``/search`` answers 410: it searches
``/rest/api/3/search/jql``, paged by ``nextPageToken`` (no ``total``), and
reads changelogs through ``POST /rest/api/3/changelog/bulkfetch``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from host.errors import RetryLater
from host.types import Integration, IssueDeleted, IssueEvent, IssueMoved
from plugins.jira_core.client import JiraClient, JiraError, dicts, jira_path
from plugins.jira_core.dialect import Dialect
from plugins.jira_core.events import history_events, polled_comment

#: Searched before ``since``: clock skew between us and Jira, and the time
#: Jira's index takes to show a change.
OVERLAP = timedelta(minutes=5)
#: Issues per search page (Jira DC's default limit is 1000; keep pages light).
PAGE = 100
#: Pages one search reads at most (a runaway token never loops forever).
MAX_PAGES = 200
BULK_CHANGELOG = "/rest/api/3/changelog/bulkfetch"


def poll(
    dialect: Dialect,
    host,
    integration: Integration,
    since: str,
    linked: Callable[[Iterable[tuple[str | None, str]]], set[str]],
    check: Sequence[tuple[str | None, str]] = (),
) -> list[IssueEvent]:
    """The linked issues' status, assignee and comment changes since
    ``since``, and which of ``check`` Jira no longer has (or has moved).

    :raises RetryLater: Jira could not answer the search.
    """
    start = datetime.fromisoformat(since) - OVERLAP
    now = datetime.fromtimestamp(host.clock(), start.tzinfo)
    minutes = max(1, math.ceil((now - start).total_seconds() / 60))
    client = dialect.client(host, integration)
    questions = dialect.questions(host, integration)
    search = _token_pages if dialect.search_path.endswith("/jql") else _offset_pages
    try:
        changed = [
            (str(issue["id"]), issue["key"])
            for issue in search(
                dialect,
                client,
                f"updated >= -{minutes}m ORDER BY updated ASC",
                "updated",
            )
        ]
        wanted = linked(changed)
        ids = [issue_id for issue_id, key in changed if key in wanted]
        events: list[IssueEvent] = []
        for chunk in _chunks(ids, PAGE):
            jql = f"id in ({', '.join(chunk)}) ORDER BY updated ASC"
            issues = list(
                search(
                    dialect,
                    client,
                    jql,
                    "status,assignee,project,updated,comment",
                    expand=None if search is _token_pages else "changelog",
                )
            )
            if search is _token_pages:
                histories = _bulk_changelogs(client, chunk)
                for issue in issues:
                    issue["changelog"] = {"histories": histories.get(str(issue["id"]))}
            for issue in issues:
                events.extend(_latest_changes(questions, issue, start))
                events.extend(_comments(questions, issue, start))
        events.extend(_gone_or_moved(dialect, client, search, check))
    except JiraError as ex:
        raise RetryLater(f"Searching Jira for changes: {ex}", ex.retry_after) from None
    return events


def _latest_changes(questions, issue: dict, start: datetime) -> list:
    """The last status and the last assignee change after ``start``."""
    histories = (issue.get("changelog") or {}).get("histories") or []
    latest: dict[type, tuple[datetime, IssueEvent]] = {}
    for history in histories:
        created = _instant(history.get("created"))
        if created is None or created < start:
            continue
        for event in history_events(questions, issue, history):
            if type(event) not in latest or latest[type(event)][0] <= created:
                latest[type(event)] = (created, event)
    return [event for _, event in sorted(latest.values(), key=lambda kept: kept[0])]


def _comments(questions, issue: dict, start: datetime) -> list:
    """The issue's comments made or edited after ``start``."""
    comment_field = (issue.get("fields") or {}).get("comment")
    found = []
    for comment in dicts((comment_field or {}).get("comments")):
        changed = _instant(comment.get("updated") or comment.get("created"))
        if changed is not None and changed >= start:
            event = polled_comment(questions, issue, comment)
            if event is not None:
                found.append((changed, event))
    return [event for _, event in sorted(found, key=lambda kept: kept[0])]


def _gone_or_moved(
    dialect: Dialect,
    client: JiraClient,
    search,
    check: Sequence[tuple[str | None, str]],
) -> list[IssueEvent]:
    """Deletions and moves among ``check`` (issues without a Jira id are
    skipped: only an id says it is the same issue)."""
    keys = {issue_id: key for issue_id, key in check if issue_id and issue_id.isdigit()}
    events: list[IssueEvent] = []
    for chunk in _chunks(list(keys), PAGE):
        jql = f"id in ({', '.join(chunk)}) ORDER BY updated ASC"
        found = {str(i["id"]): i["key"] for i in search(dialect, client, jql, "key")}
        for issue_id in chunk:
            key = found.get(issue_id) or _key_of(dialect, client, issue_id)
            if key is None:
                events.append(IssueDeleted(issue_key=keys[issue_id], issue_id=issue_id))
            elif key and key != keys[issue_id]:
                events.append(
                    IssueMoved(issue_key=key, issue_id=issue_id,
                               old_key=keys[issue_id], new_key=key)
                )  # fmt: skip
    return events


def _key_of(dialect: Dialect, client: JiraClient, issue_id: str) -> str | None:
    """The issue's key, asked for by id; ``None`` when Jira answers 404
    (deleted: a search that missed it may only lack permission or index)."""
    try:
        found = client.request(
            "GET",
            jira_path(dialect.api + "/issue/{}", issue_id),
            params={"fields": "key"},
        )
    except JiraError as ex:
        if ex.http_status == 404:
            return None
        raise
    key = found.get("key")
    return key if isinstance(key, str) else ""  # "": it exists, key unknown


def _offset_pages(
    dialect: Dialect, client: JiraClient, jql: str, fields: str, expand=None
) -> Iterator[dict]:
    """Every issue the JQL finds, page by page (Server: ``startAt``)."""
    start_at = 0
    while True:
        params = {
            "jql": jql,
            "startAt": start_at,
            "maxResults": PAGE,
            "fields": fields,
            "validateQuery": "false",
        }
        if expand:
            params["expand"] = expand
        page = client.request("GET", dialect.search_path, params=params)
        issues = dicts(page.get("issues"))
        yield from (i for i in issues if i.get("id") is not None and i.get("key"))
        start_at += len(issues)
        total = page.get("total")
        if not issues or not isinstance(total, int) or start_at >= total:
            return


def _token_pages(
    dialect: Dialect, client: JiraClient, jql: str, fields: str, expand=None
) -> Iterator[dict]:
    """Every issue the JQL finds (Cloud's ``search/jql``: pages follow
    ``nextPageToken`` until ``isLast``; there is no ``total``)."""
    token = None
    for _ in range(MAX_PAGES):
        params = {"jql": jql, "maxResults": PAGE, "fields": fields}
        if token:
            params["nextPageToken"] = token
        page = client.request("GET", dialect.search_path, params=params)
        issues = dicts(page.get("issues"))
        yield from (i for i in issues if i.get("id") is not None and i.get("key"))
        token = page.get("nextPageToken")
        if page.get("isLast", not token) or not token or not issues:
            return


def _bulk_changelogs(client: JiraClient, issue_ids: list[str]) -> dict[str, list]:
    """``{issue id: histories}`` of up to :data:`PAGE` issues, from Cloud's
    bulk changelog API (paged by ``nextPageToken`` too)."""
    found: dict[str, list] = {}
    token = None
    for _ in range(MAX_PAGES):
        body = {"issueIdsOrKeys": issue_ids, "maxResults": 1000}
        if token:
            body["nextPageToken"] = token
        page = client.request("POST", BULK_CHANGELOG, json_body=body)
        for log in dicts(page.get("issueChangeLogs")):
            found.setdefault(str(log.get("issueId")), []).extend(
                dicts(log.get("changeHistories"))
            )
        token = page.get("nextPageToken")
        if not token:
            return found
    return found


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


def _instant(text) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else None
