"""Runs ``sync.outbound`` jobs: one change, one linked external issue.

The job re-reads current state (the group may have changed again since the
job was queued) and asks the integration's provider to apply it. A clear
"could not" from the provider is recorded on the group, not retried. What a
successful write will look like when the tracker's webhook reports it back
is remembered for a while, so that echo is not applied again (see inbound).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.services import events, sync_flags
from host.times import iso_time

if TYPE_CHECKING:
    from host.core import Host


#: How long (seconds) a write of ours may take to come back as a webhook.
ECHO_WINDOW = 600.0


class OutboundService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def dead(self, payload: Mapping[str, Any], error: str) -> None:
        """The change's job was dead-lettered: say so in the change feed."""
        group = self.store.groups.get(payload["organization_id"], payload["group_id"])
        issue = self.store.integrations.external_issue_by_id(
            payload["external_issue_id"]
        )
        if group is None or issue is None:
            return
        with self.store.transaction():
            self._sync_event(group, issue, payload["action"], error, dead=True)

    def _sync_event(self, group, issue, action, error, *, dead=False) -> None:
        self.host.events.record(
            group.organization_id,
            "sync.failed" if error else "sync.applied",
            {
                "group_id": group.id,
                "integration_id": issue.integration_id,
                "action": action,
                "issue": events.issue_shape(issue),
                "error": error,
                "dead_lettered": dead,
            },
            group_id=group.id,
        )

    def run(self, payload: Mapping[str, Any]) -> None:
        store = self.store
        action = payload["action"]
        organization = store.organizations.get(payload["organization_id"])
        issue = store.integrations.external_issue_by_id(payload["external_issue_id"])
        group = (
            store.groups.get(organization.id, payload["group_id"])
            if organization
            else None
        )
        if group is None or issue is None:
            return  # deleted or unlinked since: nothing to sync
        integration = store.integrations.get(issue.integration_id)
        org_integration = store.integrations.org_integration(
            organization.id, integration.id
        )
        if org_integration is None or not sync_flags.enabled(
            org_integration.config, sync_flags.OUTBOUND[action]
        ):
            return  # the organization turned the sync off since
        call = {
            "host": self.host,
            "integration": integration,
            "org_integration": org_integration,
            "external_issue": issue,
        }
        if action == "assignee":
            member_id = payload.get("member_id")
            assignee = (
                store.organizations.member(organization.id, member_id)
                if member_id
                else None
            )
            result = self.host.hook.sync_assignee_outbound(**call, assignee=assignee)
        elif action == "status":
            result = self.host.hook.sync_status_outbound(
                **call, resolved=payload["resolved"]
            )
        elif action == "comment":
            comment = store.groups.comment_record(group.id, payload["comment_id"])
            if comment is None:
                return
            result = self.host.hook.sync_comment_outbound(
                **call,
                comment=comment,
                external_comment_id=store.groups.comment_link(comment.id, issue.id),
            )
        else:
            raise ValueError(f"Unknown outbound action {action!r}")
        if result is None:
            raise LookupError(
                f"No plugin handles {action} sync for provider {integration.provider!r}"
            )
        echo = result.echo or result.external_comment_id
        with store.transaction():
            if result.external_comment_id:
                store.groups.link_comment(
                    payload["comment_id"], issue.id, result.external_comment_id
                )
            if result.applied and action in ("assignee", "status"):
                # Our write is now the field's newest change: a delivery
                # about it made in Jira before the write, arriving late, is
                # stale (before our write's own webhook comes, or if it never
                # does), not applied over what Jira now has.
                store.integrations.lock_issue(issue.id)
                store.integrations.set_last_event_at(
                    issue.id, action, iso_time(self.host.clock())
                )
            if result.applied and echo is not None:
                store.integrations.add_echo(
                    issue.id,
                    action,
                    echo.lower(),
                    now=self.host.clock(),
                    ttl=ECHO_WINDOW,
                )
            if result.applied:
                kind = "sync_outbound"
            elif result.issue_gone:
                kind = "unlinked"
                store.integrations.unlink(group.id, issue.id)
                self.host.events.link_changed(
                    group, issue, "link.removed", reason="deleted_in_tracker"
                )
            else:
                kind = "sync_outbound_failed"
            self._sync_event(
                group, issue, action, None if result.applied else result.message
            )
            store.groups.add_activity(
                group.id,
                kind,
                {
                    "action": action,
                    "external_issue": issue.key,
                    "provider": self.host.providers[integration.provider].name,
                    "message": result.message,
                },
                source="integration",
                source_integration_id=integration.id,
            )
