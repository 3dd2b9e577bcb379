"""Webhooks in: store at once, apply later, exactly once.

``receive`` runs in the HTTP request: the provider authenticates the request,
then the delivery and its job are committed together before the answer goes
out. ``process_delivery`` runs in a job: the provider parses the delivery
into normalized events and the host applies them to the linked groups of each
organization using the integration, as that organization configured, in one
transaction with marking the delivery processed (so a re-run job is a no-op).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from host.errors import (
    DeliveryUnreadable,
    NotFound,
    RetryLater,
    Unavailable,
    ValidationError,
    WebhookRejected,
)
from host.services import sync_flags
from host.services.groups import Source
from host.types import (
    AssigneeChanged,
    CommentAdded,
    ExternalIssue,
    Integration,
    IssueDeleted,
    IssueEvent,
    IssueMoved,
    Organization,
    OrganizationIntegration,
    StatusChanged,
    WebhookRequest,
    WebhookVerdict,
)

if TYPE_CHECKING:
    from host.core import Host

log = logging.getLogger(__name__)

#: Group activity that changes the field an event of that type is about.
CHANGE_TYPES = {
    StatusChanged: ("set_resolved", "set_unresolved", "set_ignored"),
    AssigneeChanged: ("assigned", "unassigned"),
}

#: Request headers never stored with a delivery.
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


#: What a delivery's ``status`` can be, in the order a delivery goes.
DELIVERY_STATUSES = ("received", "processed", "ignored", "failed")


class InboundService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def receive(self, request: WebhookRequest) -> int | None:
        """Authenticate and durably store a delivery; return its id.

        ``None`` means acknowledged without storing: the provider said the
        request carries nothing to apply, or this exact delivery was stored
        before (Jira sent it twice).

        :raises NotFound: no provider answers for this URL.
        :raises WebhookRejected: the provider refused the request.
        """
        try:
            verdict = self.authenticate(request)
        except WebhookRejected:
            self._count(request.provider, "rejected")
            raise
        if not verdict.store or verdict.integration_id is None:
            log.info(
                "delivery for integration %s not stored: %s",
                verdict.integration_id,
                verdict.reason,
            )
            self._count(request.provider, "not_stored")
            return None
        if (verdict.issue_id or verdict.issue_key) and not (
            self.store.integrations.is_tracked(
                verdict.integration_id, key=verdict.issue_key, issue_id=verdict.issue_id
            )
        ):
            log.info(
                "delivery for integration %s not stored: no organization links"
                " that issue",
                verdict.integration_id,
            )
            self._count(request.provider, "not_stored")
            return None
        with self.store.transaction():
            delivery_id = self.store_delivery(verdict.integration_id, request)
        if delivery_id is None:
            self._count(request.provider, "duplicate")
        return delivery_id

    def _count(self, provider: str, outcome: str) -> None:
        self.host.metrics.count(
            "trackbridge_deliveries_total", provider=provider, outcome=outcome
        )

    def authenticate(self, request: WebhookRequest) -> WebhookVerdict:
        """The provider's verdict on a request.

        :raises NotFound: no provider answers for this URL.
        :raises WebhookRejected: the provider refused the request.
        """
        verdict = self.host.hook.authenticate_webhook(host=self.host, request=request)
        if verdict is None:
            raise NotFound("No provider handles this URL.")
        return verdict

    def store_delivery(
        self, integration_id: int, request: WebhookRequest
    ) -> int | None:
        """Store an authenticated delivery and queue its job (in a transaction).

        ``None`` when this exact delivery was stored before.
        """
        delivery_id = self.store.deliveries.add(
            integration_id,
            request.provider,
            private_headers_removed(request),
            request.body,
        )
        if delivery_id is not None:
            self.host.jobs.enqueue(
                "delivery.process",
                {"delivery_id": delivery_id},
                integration_id=integration_id,
                inbound=True,
            )
        return delivery_id

    def recent(
        self,
        organization: Organization,
        limit: int,
        before_id: int | None = None,
        status: str | None = None,
    ) -> list[dict]:
        """The delivery log: recent deliveries to the organization's integrations,
        with their outcome (``received``, ``processed``, ``ignored``, ``failed``;
        only ``status``, if given).

        :raises ValidationError: ``status`` is not one of those.
        """
        if status is not None and status not in DELIVERY_STATUSES:
            raise ValidationError(
                {"status": [f"Must be one of: {', '.join(DELIVERY_STATUSES)}."]}
            )
        return self.store.deliveries.for_organization(
            organization.id, limit, before_id, status
        )

    def reprocess(self, organization: Organization, delivery_id: int) -> dict:
        """Apply a delivery again (its job is queued anew); return it.

        Applying is idempotent: stale changes are dropped and comments are
        kept once by id, so a delivery applied before changes nothing twice.

        :raises NotFound: no such delivery to the organization's integrations.
        """
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None or (
            self.store.integrations.org_integration(
                organization.id, delivery.integration_id
            )
            is None
        ):
            raise NotFound(f"Delivery {delivery_id} not found.")
        with self.store.transaction():
            self.store.deliveries.requeue(delivery_id)
            self.host.jobs.enqueue(
                "delivery.process",
                {"delivery_id": delivery_id},
                integration_id=delivery.integration_id,
                inbound=True,
            )
        return self.store.deliveries.for_organization(
            organization.id, 1, before_id=delivery_id + 1
        )[0]

    def process_delivery(self, delivery_id: int) -> None:
        """Apply a stored delivery (the ``delivery.process`` job).

        One the provider cannot read is marked ``failed`` at once, with the
        reason, and not retried. Any other failure is recorded on the
        delivery (so the log says why it waits) and raised for the job to
        retry; when the job is dead-lettered, :meth:`failed` marks it.
        """
        try:
            self._process(delivery_id)
        except DeliveryUnreadable as ex:
            log.warning("delivery %s cannot be read, not retried: %s", delivery_id, ex)
            self.failed(delivery_id, f"Unreadable: {ex}")
        except Unavailable:
            raise  # the database itself: nothing can be recorded now
        except RetryLater as ex:
            self._note_error(delivery_id, ex.reason)
            raise
        except Exception as ex:
            self._note_error(delivery_id, f"{type(ex).__name__}: {ex}")
            raise

    def failed(self, delivery_id: int, error: str) -> None:
        """Mark a delivery that will not be applied, and count it."""
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None or delivery.status != "received":
            return
        with self.store.transaction():
            self.store.deliveries.mark(delivery_id, "failed", error[:1000])
        self._count(delivery.provider, "failed")

    def _note_error(self, delivery_id: int, error: str) -> None:
        with self.store.transaction():
            self.store.deliveries.note_error(delivery_id, error[:1000])

    def _process(self, delivery_id: int) -> None:
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None or delivery.status != "received":
            return  # gone, or applied by an earlier run of this job
        integration = self.store.integrations.get(delivery.integration_id)
        events = self.host.hook.parse_webhook(
            host=self.host, integration=integration, delivery=delivery
        )
        if events is None:
            raise LookupError(f"No plugin parses {integration.provider!r} deliveries")
        outcome = "processed" if events else "ignored"
        with self.store.transaction():
            for event in events:
                self.apply(integration, event)
            self.store.deliveries.mark(delivery_id, outcome)
        self._count(integration.provider, outcome)

    def apply(
        self, integration: Integration, event: IssueEvent, *, polled: bool = False
    ) -> int:
        """Apply one normalized event to every organization's linked groups;
        return how many groups it changed.

        ``polled``: the event was found by reconciliation, not delivered. Such
        a change may be older than a later webhook about another field of the
        issue, so it is not dropped as stale; instead it yields, group by
        group, to any newer change of the same field made anywhere else
        (see :meth:`_changed_since`).
        """
        issues = self.store.integrations
        issue = issues.external_issue(
            integration.id, key=event.issue_key, issue_id=event.issue_id
        )
        if isinstance(event, IssueMoved) and issue is None:
            issue = issues.external_issue(integration.id, key=event.old_key)
        if issue is None:
            return 0  # not linked to any group
        if polled:
            self._note_event_time(issue, event)
        elif self._is_stale(issue, event):
            log.info("dropped stale %s for %s", type(event).__name__, issue.key)
            return 0
        if self._is_echo(issue, event):
            log.info("%s on %s echoes our own write", type(event).__name__, issue.key)
            return 0
        new_key = event.new_key if isinstance(event, IssueMoved) else event.issue_key
        if new_key != issue.key:
            issue = self._rekey(integration, issue, new_key)
        changed = 0
        for org_integration in issues.org_integrations(integration.id):
            if not org_integration.receives_events:
                continue
            for group_id in issues.linked_group_ids(
                issue.id, org_integration.organization_id
            ):
                if polled and self._changed_since(group_id, integration, event):
                    continue
                changed += self._apply_to_group(
                    integration, org_integration, issue, group_id, event
                )
        return changed

    # ---- per-event rules ----

    def _apply_to_group(
        self,
        integration: Integration,
        org_integration: OrganizationIntegration,
        issue: ExternalIssue,
        group_id: int,
        event: IssueEvent,
    ) -> int:
        """Apply the event's rule to one group; 1 if the group changed, else 0."""
        group = self.store.groups.get(org_integration.organization_id, group_id)
        rule = {
            AssigneeChanged: self._apply_assignee,
            StatusChanged: self._apply_status,
            IssueDeleted: self._apply_deleted,
            CommentAdded: self._apply_comment,
        }.get(type(event))
        if rule is None:
            return 0
        return int(bool(rule(integration, org_integration.config, issue, group, event)))

    def _apply_assignee(self, integration, config, issue, group, event) -> bool:
        """Assign the member with the tracker user's email; nobody (no user
        at all) unassigns. A user whose email cannot be found, or matches no
        member, leaves the group alone and says so in its activity: a missing
        email never unassigns."""
        if not sync_flags.enabled(config, sync_flags.INBOUND["assignee"]):
            return False
        provider = self.host.providers[integration.provider].name
        user = event.display_name or event.user_name or event.email or event.user_id
        if event.email is None and user:
            self._note(
                group.id,
                integration,
                "assignee_unmatched",
                f"{provider} user {user} has no visible email to match a member",
            )
            return False
        member = None
        if event.email:
            member = self.store.organizations.member_by_email(
                group.organization_id, event.email
            )
            if member is None:
                self._note(
                    group.id,
                    integration,
                    "assignee_unmatched",
                    f"{provider} user {user} has no matching member",
                )
                return False
        return self.host.groups.set_assignee(
            group, member, Source(integration_id=integration.id)
        )

    def _apply_status(self, integration, config, issue, group, event) -> bool:
        """Resolve on entering a resolved status; unresolve on leaving it.

        "Resolved" is the organization's own status mapping for the
        tracker project when it has one, else the provider's reading.
        """
        if not sync_flags.enabled(config, sync_flags.INBOUND["status"]):
            return False
        resolved = sync_flags.inbound_resolution(config, event)
        if resolved is None:
            return False
        provider = self.host.providers[integration.provider].name
        source = Source(integration_id=integration.id)
        if resolved:
            strategy = config.get("resolution_strategy", "resolve")
            data = {"provider": provider, "resolution_strategy": strategy}
            return self.host.groups.set_status(group, "resolved", source, data=data)
        if group.status == "resolved":
            data = {"provider": provider}
            return self.host.groups.set_status(group, "unresolved", source, data=data)
        return False

    def _apply_deleted(self, integration, config, issue, group, event) -> bool:
        """Unlink the deleted tracker issue, whatever the sync settings."""
        provider = self.host.providers[integration.provider].name
        with self.store.transaction():
            self.store.integrations.unlink(group.id, issue.id)
            self.host.events.link_changed(
                group, issue, "link.removed", reason="deleted_in_tracker"
            )
            self._note(
                group.id,
                integration,
                "unlinked",
                f"{provider} issue {issue.key} was deleted",
            )
        return True

    def _apply_comment(self, integration, config, issue, group, event) -> bool:
        """Add the tracker comment, or update the one it was added as."""
        if not sync_flags.enabled(config, sync_flags.INBOUND["comment"]):
            return False
        if not event.body.strip():
            return False  # nothing to show: an empty tracker comment is not a note
        source = Source(integration_id=integration.id)
        existing = self.store.groups.comment_by_external_id(
            group.id, issue.id, event.comment_id
        )
        if existing is not None:
            # Only a comment that came from this tracker follows its edits; a
            # host comment mirrored there stays as its author wrote it.
            if existing["source_integration_id"] != integration.id:
                return False
            before = existing["text"]
            edited = self.host.groups.edit_comment(
                group, existing["id"], event.body, source
            )
            return edited["text"] != before
        with self.store.transaction():
            comment = self.host.groups.add_comment(
                group,
                event.body,
                source,
                author_name=event.author_name,
                author_email=event.author_email,
            )
            self.store.groups.link_comment(comment["id"], issue.id, event.comment_id)
        return True

    def _note(self, group_id: int, integration: Integration, type: str, message: str):
        self.store.groups.add_activity(
            group_id,
            type,
            {"message": message},
            source="integration",
            source_integration_id=integration.id,
        )

    def _rekey(
        self, integration: Integration, issue: ExternalIssue, new_key: str
    ) -> ExternalIssue:
        """Point the stored issue (and so every link) at its new key."""
        url = issue.url.replace(issue.key, new_key) if issue.key in issue.url else ""
        taken = self.store.integrations.external_issue(integration.id, key=new_key)
        with self.store.transaction():
            linked = [
                group
                for org_integration in self.store.integrations.org_integrations(
                    integration.id
                )
                for group_id in self.store.integrations.linked_group_ids(
                    issue.id, org_integration.organization_id
                )
                if (group := self.store.groups.get(
                    org_integration.organization_id, group_id
                ))
            ]  # fmt: skip
            if taken is not None and taken.id != issue.id:
                # Already linked under the new key too: merge the links into it.
                for group in linked:
                    self.store.integrations.link(group.id, taken.id)
                    self.store.integrations.unlink(group.id, issue.id)
                moved = taken
            else:
                self.store.integrations.rekey_external_issue(issue.id, new_key, url)
                moved = self.store.integrations.external_issue_by_id(issue.id)
            for group in linked:  # the feed sees the old key go, the new come
                self.host.events.link_changed(
                    group, issue, "link.removed", reason="moved"
                )
                self.host.events.link_changed(group, moved, "link.created")
        return moved

    def _is_echo(self, issue: ExternalIssue, event: IssueEvent) -> bool:
        """True when the event reports a write trackbridge itself made.

        It must match a write we made that has not come back yet (each is
        used once), and, where the tracker says who made the change, have
        been made by the integration's own account: anyone else's change is
        applied, even to a value we wrote earlier. Where it does not say,
        the value alone decides. A matched assignee or status write also
        uses up the older ones of that field (their webhooks may never
        come: manual mode, a lost delivery), so they cannot swallow a later
        change back to their value.
        """
        echo = event.echo_of()
        if echo is None or event.by_integration is False:
            return False
        action, value = echo
        return self.store.integrations.take_echo(
            issue.id,
            action,
            value.lower(),
            self.host.clock(),
            supersedes=action in ("assignee", "status"),
        )

    def _changed_since(
        self, group_id: int, integration: Integration, event: IssueEvent
    ) -> bool:
        """True when the group's field this event is about was changed, at or
        after the event, by anything but this integration: the newer change
        wins (and its own outbound sync carries it to the tracker)."""
        types = CHANGE_TYPES.get(type(event))
        occurred = _instant(event.occurred_at)
        if types is None or occurred is None:
            return False
        last = _instant(
            self.store.groups.last_change_at(group_id, types, integration.id)
        )
        return last is not None and last >= occurred

    def _note_event_time(self, issue: ExternalIssue, event: IssueEvent) -> None:
        """Move the field's last event time forward to a polled change, so a
        webhook about that field older than it that arrives late is dropped
        as stale."""
        field, occurred = _field(event), _instant(event.occurred_at)
        if field is None or occurred is None:
            return
        self.store.integrations.lock_issue(issue.id)
        last = _instant(self.store.integrations.last_event_at(issue.id, field))
        if last is None or occurred > last:
            self.store.integrations.set_last_event_at(
                issue.id, field, occurred.isoformat()
            )

    def _is_stale(self, issue: ExternalIssue, event: IssueEvent) -> bool:
        """True when a newer change of the same field of this issue was
        already applied (see :func:`_field`). A delivery without a time
        is applied in the order it came."""
        field, occurred = _field(event), _instant(event.occurred_at)
        if field is None or occurred is None:
            return False
        self.store.integrations.lock_issue(issue.id)
        last = _instant(self.store.integrations.last_event_at(issue.id, field))
        if last is not None and occurred < last:
            return True
        self.store.integrations.set_last_event_at(issue.id, field, occurred.isoformat())
        return False


def _field(event: IssueEvent) -> str | None:
    """What of an issue an event changes, for ordering changes: its
    assignee, status or key, or one comment's text. ``None``: never stale
    (a new comment adds up rather than replaces; a deletion is final)."""
    if isinstance(event, AssigneeChanged):
        return "assignee"
    if isinstance(event, StatusChanged):
        return "status"
    if isinstance(event, IssueMoved):
        return "key"
    if isinstance(event, CommentAdded) and event.edited:
        return f"comment:{event.comment_id}"
    return None


def private_headers_removed(request: WebhookRequest) -> dict[str, str]:
    return {
        k.lower(): v
        for k, v in request.headers.items()
        if k.lower() not in PRIVATE_HEADERS
    }


def _instant(text: str | None) -> datetime | None:
    """Parse an ISO 8601 time (Jira writes offsets as +0200) into UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
