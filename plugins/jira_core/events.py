"""Jira webhook bodies → the host's normalized issue events, for both
providers.

Branch on ``changelog.items[].field`` (``issue_event_type_name`` is missing
in old Jira, and ``fieldId`` on some items), never trust a key to be there,
and turn what Jira leaves out into a question for its REST API, which each
provider answers its own way (:class:`Questions`):

* assignee: Server names users by name or key, Cloud by ``accountId``; the
  email is in ``issue.fields.assignee.emailAddress`` unless hidden, and then
  the provider is asked (an assignee without a findable email is someone
  no member matches, never an unassignment);
* status: ``from``/``to`` are status ids; "done" is the status category;
* ``Key``: the issue moved to a new key; ``jira:issue_deleted``; comments
  from ``comment_created``/``comment_updated`` or an old-style
  ``jira:issue_updated`` that carries a ``comment`` (wiki text on Server and
  REST v2, ADF on Cloud's v3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from host import jsontext
from host.errors import DeliveryUnreadable, WebhookRejected
from host.types import (
    WEBHOOK_RECEIVING,
    WEBHOOK_WAITING,
    AssigneeChanged,
    CommentAdded,
    Delivery,
    IssueDeleted,
    IssueEvent,
    IssueMoved,
    StatusChanged,
    WebhookVerdict,
)

COMMENT_EVENTS = frozenset({"comment_created", "comment_updated"})
EDITED_COMMENT_TYPES = frozenset({"comment_updated", "issue_comment_edited"})
#: Events that matter even without a changelog.
EVENTS_WITHOUT_CHANGELOG = frozenset(
    {"jira:issue_deleted", "comment_created", "comment_updated"}
)


class Questions:
    """What parsing asks the provider about its Jira (one integration)."""

    def email_of(self, user: Mapping[str, Any]) -> str | None:
        """The email of a user the webhook named without one (None: hidden
        or unknown).

        :raises host.errors.RetryLater: Jira could not answer, for now.
        """
        raise NotImplementedError

    def done_status_ids(self) -> frozenset[str]:
        """Ids of the statuses in the ``done`` category."""
        raise NotImplementedError

    def made_by_integration(self, user: Any) -> bool | None:
        """Whether the user who made a change is the integration's own
        account (None: cannot tell)."""
        raise NotImplementedError

    def comment_text(self, body: Any) -> str:
        """A comment body as plain text."""
        return _text(body) or ""


def read_body(host, delivery: Delivery) -> dict:
    """A stored delivery's JSON object.

    :raises DeliveryUnreadable: not a JSON object (stored before the
        limits it now fails, or under other limits).
    """
    try:
        body = jsontext.loads(delivery.body, max_depth=host.config.max_json_depth)
    except jsontext.JsonRefused as ex:
        raise DeliveryUnreadable(str(ex)) from None
    if not isinstance(body, dict):
        raise DeliveryUnreadable("The delivery is not a JSON object.")
    return body


def parse(questions: Questions, body: Mapping[str, Any]) -> list[IssueEvent]:
    """The events in one delivery's body, in the order they should be applied."""
    issue = _dict(body.get("issue"))
    key = issue.get("key")
    if not isinstance(key, str) or not key:
        return []
    return Payload(questions, body, issue, key).events()


def accept(host, integration, raw: bytes) -> WebhookVerdict:
    """The verdict on an authenticated delivery to ``integration`` (None:
    from a site no organization connected yet: acknowledged, not kept).

    :raises WebhookRejected: the body is not a JSON object.
    """
    try:
        body = jsontext.loads(raw, max_depth=host.config.max_json_depth)
    except jsontext.JsonRefused as ex:
        raise WebhookRejected(str(ex)) from None
    if not isinstance(body, dict):
        raise WebhookRejected("Request body must be a JSON object.")
    if integration is None:
        return WebhookVerdict(
            integration_id=None, store=False, reason="not connected to an organization"
        )
    if integration.metadata.get("webhook_status") == WEBHOOK_WAITING:
        host.integrations.update_metadata(
            integration, {"webhook_status": WEBHOOK_RECEIVING}
        )
    return verdict(integration.id, body)


def history_events(
    questions: Questions, issue: Mapping[str, Any], history: Mapping
) -> list[IssueEvent]:
    """The assignee and status events of one changelog history of an issue
    read through the REST API, as its webhook would have carried them, at
    the time of the history."""
    body = {"changelog": {"items": history.get("items")}, "user": history.get("author")}
    payload = Payload(questions, body, issue, issue["key"], history.get("created"))
    return [
        e for e in payload.events() if isinstance(e, AssigneeChanged | StatusChanged)
    ]


def polled_comment(
    questions: Questions, issue: Mapping[str, Any], comment: Mapping
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
    return Payload(questions, body, issue, issue["key"])._comment(comment)


def verdict(integration_id: int | None, body: Mapping[str, Any]) -> WebhookVerdict:
    """Whether an authentic delivery is worth storing, and the issue it
    is about (so one no organization links is not kept)."""
    changelog = body.get("changelog")
    event = body.get("webhookEvent")
    event = event if isinstance(event, str) else None  # a list is unhashable
    has_changes = isinstance(changelog, dict) and bool(changelog.get("items"))
    # Older Jira sends a comment as jira:issue_updated with a "comment" object.
    has_comment = isinstance(body.get("comment"), dict)
    if not (has_changes or has_comment) and event not in EVENTS_WITHOUT_CHANGELOG:
        return WebhookVerdict(
            integration_id=integration_id, store=False, reason="no changelog"
        )
    issue = body.get("issue") if isinstance(body.get("issue"), dict) else {}
    return WebhookVerdict(
        integration_id=integration_id,
        issue_id=_known(issue.get("id")),
        issue_key=_known(issue.get("key")),
    )


class Payload:
    """One webhook body (or a history or comment read through REST, in
    the same shape) and the events it carries."""

    def __init__(self, questions: Questions, body, issue, key, at=None) -> None:
        self.questions = questions
        self.body = body
        self.fields = _dict(issue.get("fields"))
        self.common = {
            "issue_key": key,
            "issue_id": str(issue["id"]) if issue.get("id") is not None else None,
            "occurred_at": at or occurred_at(self.fields, body),
            "by_integration": questions.made_by_integration(body.get("user")),
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
        email = _text(user.get("emailAddress")) or self.questions.email_of(user)
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
        done = self.questions.done_status_ids()
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
            body=self.questions.comment_text(comment.get("body")),
            edited=edited,
        )


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


def _known(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None
