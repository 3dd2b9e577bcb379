"""Tracker issues from a group: create one, link one, unlink, search.

The provider talks to the tracker; the host keeps the links, the activity
entries and the create form's remembered choices, so every provider gets
them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.errors import IntegrationError, NotFound, ValidationError
from host.types import (
    CREATE_DEFAULTS,
    Choice,
    ExternalIssue,
    FormField,
    Group,
    Integration,
    Organization,
    OrganizationIntegration,
    TrackerIssue,
)

if TYPE_CHECKING:
    from host.core import Host

ISSUE_FIELDS = ("externalIssue", "parent")
USER_FIELDS = ("assignee", "reporter")
#: Choices a picker shows at most.
MAX_CHOICES = 50


REQUIRED = "This parameter is required."


class TrackerIssueService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    # ---- create ----

    def create_form(
        self,
        organization: Organization,
        group_id: int,
        integration_id: int,
        params: Mapping[str, str],
    ) -> list[FormField]:
        """The provider's create form for ``group``, given the choices so far."""
        group = self.host.groups.get(organization, group_id)
        return self.form_for(organization, group, integration_id, params)

    def form_for(
        self,
        organization: Organization,
        group: Group,
        integration_id: int,
        params: Mapping[str, str],
    ) -> list[FormField]:
        """The create form for a group object (a ticket rule checks its
        fields with a sample group no one has made)."""
        integration, org_integration = self.host.integrations.get(
            organization, integration_id
        )
        fields = self.host.hook.get_create_issue_config(
            host=self.host,
            integration=integration,
            org_integration=org_integration,
            group=group,
            params=params,
        )
        if fields is None:
            raise NotFound(_cannot(integration, "create issues"))
        return fields

    def create(
        self,
        organization: Organization,
        group_id: int,
        integration_id: int,
        data: Any,
    ) -> ExternalIssue:
        """Create a tracker issue from the submitted form and link it.

        The choices the provider asks to remember become the next form's
        defaults for the organization.
        """
        if not isinstance(data, Mapping):
            raise ValidationError({}, "Request body must be a JSON object.")
        integration, org_integration, group = self._context(
            organization, group_id, integration_id
        )
        issue = self.host.hook.create_issue(
            host=self.host,
            integration=integration,
            org_integration=org_integration,
            group=group,
            data=data,
        )
        if issue is None:
            raise NotFound(_cannot(integration, "create issues"))
        remembered = self.host.provider(integration.provider).remembered_create_fields
        defaults = {
            name: data[name]
            for name in remembered
            if isinstance(data.get(name), str | int) and str(data[name]).strip()
        }
        with self.store.transaction():
            external_issue_id = self._link(group, integration, issue, created=True)
            # Read again inside the write: the config may have changed while
            # the tracker was creating the issue.
            current = self.store.integrations.org_integration(
                organization.id, integration_id
            )
            self.store.integrations.set_config(
                current.id,
                {
                    **current.config,
                    CREATE_DEFAULTS: {**current.create_defaults, **defaults},
                },
            )
        return self.store.integrations.external_issue_by_id(external_issue_id)

    # ---- link ----

    def link(
        self,
        organization: Organization,
        group_id: int,
        integration_id: int,
        key: str,
        data: Mapping[str, Any],
    ) -> ExternalIssue:
        """Link an existing tracker issue (checked with the tracker) to a group."""
        integration, org_integration, group = self._context(
            organization, group_id, integration_id
        )
        issue = self.host.hook.get_issue(
            host=self.host, integration=integration, key=key
        )
        if issue is None:
            raise NotFound(_cannot(integration, "look up issues"))
        with self.store.transaction():
            external_issue_id = self._link(group, integration, issue, created=False)
        external_issue = self.store.integrations.external_issue_by_id(external_issue_id)
        self.host.hook.after_link_issue(
            host=self.host,
            integration=integration,
            org_integration=org_integration,
            external_issue=external_issue,
            data=data,
        )
        return external_issue

    def _context(
        self, organization: Organization, group_id: int, integration_id: int
    ) -> tuple[Integration, OrganizationIntegration, Group]:
        """The organization's integration and group (404 for another's)."""
        integration, org_integration = self.host.integrations.get(
            organization, integration_id
        )
        return (
            integration,
            org_integration,
            self.host.groups.get(organization, group_id),
        )

    def _link(
        self, group: Group, integration: Integration, issue: TrackerIssue, created: bool
    ) -> int:
        """Store the issue and link it (inside the caller's transaction)."""
        external_issue_id = self.store.integrations.upsert_external_issue(
            integration.id, issue
        )
        self.store.integrations.link(group.id, external_issue_id)
        self.host.events.link_changed(
            group,
            self.store.integrations.external_issue_by_id(external_issue_id),
            "link.created",
        )
        self.store.groups.add_activity(
            group.id,
            "linked",
            {"external_issue": issue.key, "url": issue.url, "created": created},
            source="user",
            source_integration_id=integration.id,
        )
        return external_issue_id

    def unlink(
        self, organization: Organization, group_id: int, external_issue_id: int
    ) -> None:
        group = self.host.groups.get(organization, group_id)
        issue = self.store.integrations.external_issue_by_id(external_issue_id)
        with self.store.transaction():
            if issue is None or not self.store.integrations.unlink(group.id, issue.id):
                raise NotFound("This group is not linked to that issue.")
            self.host.events.link_changed(
                group, issue, "link.removed", reason="unlinked"
            )
            self.store.groups.add_activity(
                group.id,
                "unlinked",
                {"external_issue": issue.key},
                source="user",
                source_integration_id=issue.integration_id,
            )

    # ---- search ----

    def search(
        self,
        organization: Organization,
        integration_id: int,
        field: str | None,
        query: str | None,
        project: str | None = None,
    ) -> list[Choice]:
        """Choices for a picker: issues, users, projects or a field's values."""
        integration, _ = self.host.integrations.get(organization, integration_id)
        if not field:
            raise ValidationError(
                {"field": [REQUIRED]}, "field is a required parameter"
            )
        if not query or not query.strip():
            raise ValidationError(
                {"query": [REQUIRED]}, "query is a required parameter"
            )
        try:
            found = self._choices(integration, field, query, project)
        except IntegrationError as ex:
            # A picker's failure is a 400 whatever its cause, as Sentry's
            # frontend expects (reference §4.6); elsewhere a tracker's own
            # failure is a 502.
            raise IntegrationError(ex.detail) from None
        if found is None:
            raise NotFound(_cannot(integration, f"search {field}"))
        return found[:MAX_CHOICES]

    def _choices(self, integration, field, query, project) -> list[Choice] | None:
        hook = self.host.hook
        if field == "project":
            found = hook.list_projects(host=self.host, integration=integration)
            if found is None:
                return None
            words = query.casefold().split()
            return [c for c in found if all(w in c.label.casefold() for w in words)]
        if field in ISSUE_FIELDS:
            return hook.search_issues(
                host=self.host, integration=integration, query=query
            )
        if field in USER_FIELDS:
            return hook.search_users(
                host=self.host, integration=integration, query=query, project=project
            )
        return hook.search_field_values(
            host=self.host, integration=integration, field=field, query=query
        )


def _cannot(integration: Integration, what: str) -> str:
    return f"Provider {integration.provider!r} cannot {what}."
