"""Groups: create, read, change, comment; every change becomes activity.

A change made through the host (not one that came from a tracker) is a
domain event: it enqueues one outbound job per linked external issue whose
organization enabled that sync, in the same transaction as the change. Every
change, wherever it came from, is also an event of the change feed
(:mod:`host.services.events`), in that transaction too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from host import shapes
from host.errors import NotFound, ValidationError
from host.services import events, sync_flags
from host.types import Group, Member, Organization

if TYPE_CHECKING:
    from host.core import Host

STATUSES = ("unresolved", "resolved", "ignored")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValidationError({"status": [f"Must be one of: {', '.join(STATUSES)}."]})


@dataclass(frozen=True)
class Source:
    """Who caused a change: a user (through the API, maybe a known member),
    an integration (inbound sync), or the host itself."""

    member: Member | None = None
    integration_id: int | None = None
    user: bool = False

    @property
    def kind(self) -> str:
        if self.integration_id is not None:
            return "integration"
        return "user" if self.member or self.user else "system"


class GroupService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def create(self, organization: Organization, title: str, culprit: str) -> Group:
        with self.store.transaction():
            group_id = self.store.groups.create(organization.id, title, culprit)
            group = self.store.groups.get(organization.id, group_id)
            self.host.events.group_changed(group, "group.created")
            self.host.rules.group_created(group)
        return group

    def get(self, organization: Organization, group_id: int) -> Group:
        group = self.store.groups.get(organization.id, group_id)
        if group is None:
            raise NotFound("Group not found.")
        return group

    def list(
        self,
        organization: Organization,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
        title_contains: str | None = None,
    ) -> list[Group]:
        """Its groups, oldest first (``title_contains``: in any case)."""
        if status is not None:
            _check_status(status)
        return self.store.groups.list(
            organization.id, status, limit, offset, title_contains
        )

    def delete(self, organization: Organization, group_id: int) -> None:
        group = self.get(organization, group_id)
        with self.store.transaction():
            self.store.groups.delete(group.id)
            self.host.events.group_changed(group, "group.deleted")

    def set_status(
        self, group: Group, status: str, source: Source, data: dict | None = None
    ) -> bool:
        """Change the status; return False when it already was ``status``."""
        _check_status(status)
        if group.status == status:
            return False
        with self.store.transaction():
            self.store.groups.set_status(group.id, status)
            self._activity(group, f"set_{status}", data or {}, source)
            self.host.events.group_changed(
                replace(group, status=status),
                "group.updated",
                changes={"status": {"before": group.status, "after": status}},
                source=events.source_shape(source),
            )
            if status in ("resolved", "unresolved") and "resolved" in (
                status,
                group.status,
            ):
                self._fan_out(
                    group, "status", {"resolved": status == "resolved"}, source
                )
        return True

    def set_assignee(self, group: Group, member: Member | None, source: Source) -> bool:
        """Assign (or with None, unassign); False when nothing changed."""
        current = (group.assignee_email or "").lower() or None
        wanted = member.email.lower() if member else None
        if current == wanted:
            return False
        with self.store.transaction():
            self.store.groups.set_assignee(group.id, member.id if member else None)
            self.host.events.group_changed(
                replace(group, assignee_email=member.email if member else None),
                "group.updated",
                changes={
                    "assignee": {
                        "before": group.assignee_email,
                        "after": member.email if member else None,
                    }
                },
                source=events.source_shape(source),
            )
            if member:
                data = {"assignee_email": member.email, "assignee_name": member.name}
                self._activity(group, "assigned", data, source)
            else:
                self._activity(group, "unassigned", {}, source)
            self._fan_out(
                group, "assignee", {"member_id": member.id if member else None}, source
            )
        return True

    # ---- comments ----

    def add_comment(
        self,
        group: Group,
        text: str,
        source: Source,
        *,
        author_name: str | None = None,
        author_email: str | None = None,
    ) -> dict[str, Any]:
        if not text.strip():
            raise ValidationError({"text": ["This field may not be blank."]})
        member = source.member
        with self.store.transaction():
            comment_id = self.store.groups.add_comment(
                group.id,
                text=text,
                author_name=author_name or (member.name if member else "trackbridge"),
                author_email=author_email or (member.email if member else None),
                author_member_id=member.id if member else None,
                source=source.kind,
                source_integration_id=source.integration_id,
            )
            self._activity(group, "note", {"comment_id": comment_id}, source)
            self._fan_out(group, "comment", {"comment_id": comment_id}, source)
            comment = self.store.groups.comment(group.id, comment_id)
            self._comment_event(group, "comment.created", comment, source)
        return comment

    def edit_comment(
        self, group: Group, comment_id: int, text: str, source: Source
    ) -> dict[str, Any]:
        comment = self.store.groups.comment(group.id, comment_id)
        if comment is None:
            raise NotFound("Comment not found.")
        if not text.strip():
            raise ValidationError({"text": ["This field may not be blank."]})
        if comment["text"] == text:
            return comment
        with self.store.transaction():
            self.store.groups.update_comment(comment_id, text)
            self._activity(group, "note_edited", {"comment_id": comment_id}, source)
            self._fan_out(group, "comment", {"comment_id": comment_id}, source)
            comment = self.store.groups.comment(group.id, comment_id)
            self._comment_event(group, "comment.updated", comment, source)
        return comment

    def comments(self, group: Group) -> list[dict[str, Any]]:
        return self.store.groups.comments(group.id)

    def activity(self, group: Group) -> list[dict[str, Any]]:
        return self.store.groups.activity(group.id)

    # ---- internals ----

    def _comment_event(self, group: Group, type: str, comment, source: Source) -> None:
        self.host.events.record(
            group.organization_id,
            type,
            {
                "group_id": group.id,
                "comment": shapes.comment(comment),
                "source": events.source_shape(source),
            },
            group_id=group.id,
        )

    def _activity(self, group: Group, type: str, data: dict, source: Source) -> None:
        self.store.groups.add_activity(
            group.id,
            type,
            data,
            source=source.kind,
            actor_member_id=source.member.id if source.member else None,
            source_integration_id=source.integration_id,
        )

    def _fan_out(self, group: Group, action: str, data: dict, source: Source) -> None:
        """Queue outbound sync for each linked issue whose organization wants it.

        A change that came from an integration is never sent back to that
        same integration: that is what keeps echoes from bouncing.
        """
        flag = sync_flags.OUTBOUND[action]
        for issue in self.store.integrations.issues_for_group(group.id):
            if issue.integration_id == source.integration_id:
                continue
            org_integration = self.store.integrations.org_integration(
                group.organization_id, issue.integration_id
            )
            if org_integration is None:
                continue
            if not sync_flags.enabled(org_integration.config, flag):
                continue
            self.host.jobs.enqueue(
                "sync.outbound",
                {
                    "action": action,
                    "group_id": group.id,
                    "organization_id": group.organization_id,
                    "external_issue_id": issue.id,
                    **data,
                },
                integration_id=issue.integration_id,
            )
