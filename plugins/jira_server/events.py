"""Jira Server webhook bodies → the host's normalized issue events.

Branch on ``changelog.items[].field`` (``issue_event_type_name`` is missing
in old Jira, and ``fieldId`` on some items), never trust a key to be there,
and turn what Jira leaves out into a question for its REST API:

* assignee: ``to`` is a user name or key; the email is in
  ``issue.fields.assignee.emailAddress`` unless the admin hid it, and then
  ``GET /rest/api/2/user`` is asked (Sentry gives up here);
* status: ``from``/``to`` are status ids; "done" is the status category from
  ``GET /rest/api/2/status`` (cached);
* ``Key``: the issue moved to a new key; ``jira:issue_deleted``; comments
  from ``comment_created``/``comment_updated`` or an old-style
  ``jira:issue_updated`` that carries a ``comment``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from host import jsontext
from host.errors import DeliveryUnreadable, RetryLater
from host.types import (
    AssigneeChanged,
    CommentAdded,
    Delivery,
    Integration,
    IssueDeleted,
    IssueEvent,
    IssueMoved,
    StatusChanged,
)
from plugins.jira_server import cache, install
from plugins.jira_server.client import JiraError, dicts
from plugins.jira_server.setup import integration_client

log = logging.getLogger(__name__)

COMMENT_EVENTS = frozenset({"comment_created", "comment_updated"})
EDITED_COMMENT_TYPES = frozenset({"comment_updated", "issue_comment_edited"})


def parse(host, integration: Integration, delivery: Delivery) -> list[IssueEvent]:
    """The events in one delivery, in the order they should be applied.

    :raises RetryLater: Jira could not answer a question the events need
        (a hidden email, the status list) for a reason that may pass.
    :raises DeliveryUnreadable: the stored body is not a JSON object (it
        was stored before the limits it now fails, or under other limits).
    """
    try:
        body = jsontext.loads(delivery.body, max_depth=host.config.max_json_depth)
    except jsontext.JsonRefused as ex:
        raise DeliveryUnreadable(str(ex)) from None
    if not isinstance(body, dict):
        raise DeliveryUnreadable("The delivery is not a JSON object.")
    issue = _dict(body.get("issue"))
    key = issue.get("key")
    if not isinstance(key, str) or not key:
        log.info("jira_server delivery %s names no issue key", delivery.id)
        return []
    parsed = _Payload(host, integration, body, issue, key)
    return parsed.events()


def history_events(
    host, integration: Integration, issue: Mapping[str, Any], history: Mapping
) -> list[IssueEvent]:
    """The assignee and status events of one changelog history of an issue
    read through the REST API (``expand=changelog``), as its webhook would
    have carried them, at the time of the history."""
    body = {"changelog": {"items": history.get("items")}, "user": history.get("author")}
    payload = _Payload(
        host, integration, body, issue, issue["key"], history.get("created")
    )
    return [
        e for e in payload.events() if isinstance(e, AssigneeChanged | StatusChanged)
    ]


def polled_comment(
    host, integration: Integration, issue: Mapping[str, Any], comment: Mapping
) -> CommentAdded | None:
    """A comment of an issue read through the REST API (``fields.comment``)
    as its webhook would have carried it: edited when it changed after it
    was made."""
    if comment.get("id") is None:
        return None
    edited = comment.get("updated") not in (None, comment.get("created"))
    body = {
        "comment": comment,
        "user": comment.get("updateAuthor") or comment.get("author"),
        "issue_event_type_name": "issue_comment_edited" if edited else "",
    }
    return _Payload(host, integration, body, issue, issue["key"])._comment(comment)


class _Payload:
    def __init__(self, host, integration, body, issue, key, at=None) -> None:
        self.host = host
        self.integration = integration
        self.body = body
        self.fields = _dict(issue.get("fields"))
        self.common = {
            "issue_key": key,
            "issue_id": str(issue["id"]) if issue.get("id") is not None else None,
            "occurred_at": at or occurred_at(self.fields, body),
            "by_integration": made_by_integration(integration, body.get("user")),
        }
        items = _dict(body.get("changelog")).get("items")
        self.items = [i for i in items if isinstance(i, dict)] if items else []

    def events(self) -> list[IssueEvent]:
        event_type = self.body.get("webhookEvent")
        if event_type == "jira:issue_deleted":
            return [IssueDeleted(**self.common)]
        events: list[IssueEvent] = []
        moved = self._item("Key")
        if moved is not None:
            events.append(self._moved(moved))
        assignee = self._item("assignee")
        if assignee is not None:
            events.append(self._assignee(assignee))
        status = self._item("status")
        if status is not None:
            events.append(self._status(status))
        comment = _dict(self.body.get("comment"))
        if comment.get("id") is not None:
            events.append(self._comment(comment))
        return events

    def _item(self, field: str) -> Mapping[str, Any] | None:
        return next((i for i in self.items if i.get("field") == field), None)

    # ---- one event each ----

    def _moved(self, item) -> IssueMoved:
        new_key = item.get("toString") or self.common["issue_key"]
        common = {**self.common, "issue_key": new_key}
        return IssueMoved(
            **common, old_key=item.get("fromString") or "", new_key=new_key
        )

    def _assignee(self, item) -> AssigneeChanged:
        """Who the issue is assigned to now. The issue's fields are Jira's
        current state and win over the changelog: ``assignee: null`` is
        nobody, whatever the change says; only when the fields do not say
        (left out) does the change's ``to`` name the user."""
        to = _text(item.get("to"))
        if "assignee" in self.fields:
            user = self.fields["assignee"]
        else:
            user = {"name": to, "key": to} if to else None
        if not isinstance(user, dict):
            return AssigneeChanged(**self.common)
        email = _text(user.get("emailAddress")) or self._email_of(user)
        return AssigneeChanged(
            **self.common,
            email=email or None,
            user_id=to
            or _text(user.get("key"))
            or _text(user.get("name"))
            or _text(user.get("accountId")),
            user_name=_text(user.get("name")),
            display_name=_text(user.get("displayName") or item.get("toString")),
        )

    def _status(self, item) -> StatusChanged:
        from_id, to_id = _text(item.get("from")), _text(item.get("to"))
        project = _dict(self.fields.get("project"))
        project_id = project.get("id") or project.get("key")
        done = self._done_status_ids()
        into, out_of = to_id in done, from_id in done
        resolved = None
        if into and not out_of:
            resolved = True
        elif out_of and not into:
            resolved = False
        return StatusChanged(
            **self.common,
            resolved=resolved,
            from_status=from_id,
            to_status=to_id,
            project=str(project_id) if project_id is not None else None,
        )

    def _comment(self, comment) -> CommentAdded:
        named = (self.body.get("webhookEvent"), self.body.get("issue_event_type_name"))
        edited = any(
            isinstance(name, str) and name in EDITED_COMMENT_TYPES for name in named
        )
        author = _dict(comment.get("author"))
        return CommentAdded(
            **{**self.common, "occurred_at": comment.get("updated") or None},
            comment_id=str(comment["id"]),
            author_name=author.get("displayName") or author.get("name") or "Jira",
            author_email=author.get("emailAddress") or None,
            body=_text(comment.get("body")) or "",
            edited=edited,
        )

    # ---- questions for Jira ----

    def _email_of(self, user: Mapping[str, Any]) -> str | None:
        """Ask Jira for a user's email the webhook did not carry."""
        if user.get("key"):
            params = {"key": user["key"]}
        elif user.get("name"):
            params = {"username": user["name"]}
        else:
            return None
        try:
            found = self._client().request("GET", "/rest/api/2/user", params=params)
        except JiraError as ex:
            if ex.http_status in (403, 404):
                return None  # hidden or gone: the host records "no visible email"
            raise RetryLater(f"Looking up a Jira user: {ex}", ex.retry_after) from None
        return _dict(found).get("emailAddress") or None

    def _done_status_ids(self) -> frozenset[str]:
        """Ids of the statuses in Jira's ``done`` category (cached)."""

        def load() -> frozenset[str]:
            statuses = self._client().request("GET", "/rest/api/2/status", expect=list)
            return frozenset(
                str(s["id"])
                for s in dicts(statuses)
                if s.get("id") is not None
                and _dict(s.get("statusCategory")).get("key") == "done"
            )

        try:
            return cache.for_host(self.host).get_or_load(
                (cache.scope(self.integration), "statuses:done"), load
            )
        except JiraError as ex:
            raise RetryLater(f"Reading Jira's statuses: {ex}", ex.retry_after) from None

    def _client(self):
        return integration_client(self.host, self.integration)


def made_by_integration(integration: Integration, user: Any) -> bool | None:
    """Whether the Jira user who made a change (a delivery's ``user``, a
    history's ``author``) is the integration's own account; ``None`` when
    either is unknown."""
    account = install.account_key(integration.external_id)
    if account is None or not isinstance(user, dict):
        return None
    names = {_text(user.get("key")), _text(user.get("name"))} - {None}
    if not names:
        return None
    return account.lower() in {name.lower() for name in names}


def occurred_at(fields: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """When the change happened: ``fields.updated``, else the ``timestamp`` (ms)."""
    updated = fields.get("updated")
    if isinstance(updated, str) and updated:
        return updated
    timestamp = body.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        try:
            return datetime.fromtimestamp(timestamp / 1000, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
