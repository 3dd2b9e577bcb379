"""An organization's settings for one integration: the form, and sign-in.

The form is the host's sync toggles plus the provider's own fields, with the
choices they need from the tracker: its projects, and the statuses of each
project a status mapping names. The JSON API and the HTML settings page both
read it from here; saving goes through
:meth:`host.services.integrations.IntegrationService.update_config`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from host.errors import NotFound, TrackbridgeError
from host.services import links, sync_flags
from host.services.links import hash_secret
from host.types import (
    Choice,
    FormField,
    Integration,
    Organization,
    OrganizationIntegration,
)

if TYPE_CHECKING:
    from host.core import Host

#: How long a signed-in settings page stays signed in.
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class SettingsForm:
    integration: Integration
    org_integration: OrganizationIntegration
    fields: list[FormField]
    #: The tracker's projects, for the rows of ``mapping`` fields.
    projects: list[Choice] = field(default_factory=list)
    #: Project id -> its statuses, for each project a mapping row names.
    statuses: dict[str, list[Choice]] = field(default_factory=dict)
    #: What could not be read from the tracker (the form still works).
    problems: list[str] = field(default_factory=list)


class SettingsService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def fields(
        self, organization: Organization, integration_id: int
    ) -> list[FormField]:
        """The form's fields alone: reading a posted form asks the tracker
        for nothing."""
        return self._fields(*self.host.integrations.get(organization, integration_id))

    def _fields(
        self, integration: Integration, org_integration: OrganizationIntegration
    ) -> list[FormField]:
        provider_fields = self.host.hook.organization_config_fields(
            host=self.host, integration=integration, org_integration=org_integration
        )
        return [
            FormField(
                name=name,
                label=label,
                type="boolean",
                default=False,
                help=sync_flags.HELP[name],
            )
            for name, label in sync_flags.LABELS.items()
        ] + list(provider_fields or ())

    def form(
        self,
        organization: Organization,
        integration_id: int,
        projects: Iterable[str] = (),
    ) -> SettingsForm:
        """The settings form, with rows for mapped projects and ``projects``."""
        integration, org_integration = self.host.integrations.get(
            organization, integration_id
        )
        hook = self.host.hook
        fields = self._fields(integration, org_integration)
        mappings = [f for f in fields if f.type == "mapping"]
        if not mappings:
            return SettingsForm(integration, org_integration, fields)
        problems: list[str] = []
        try:
            choices = hook.list_projects(host=self.host, integration=integration)
        except TrackbridgeError as ex:
            choices, problems = [], [f"Could not list the projects: {ex.detail}"]
        wanted = dict.fromkeys(
            [
                str(project)
                for f in mappings
                for project in (org_integration.config.get(f.name) or {})
            ]
            + [str(p) for p in projects if str(p).strip()]
        )
        statuses: dict[str, list[Choice]] = {}
        for project in wanted:
            try:
                found = hook.list_statuses(
                    host=self.host, integration=integration, project=project
                )
            except TrackbridgeError as ex:
                problems.append(f"Could not list the statuses of {project}: {ex}")
                continue
            statuses[project] = list(found or ())
        return SettingsForm(
            integration,
            org_integration,
            fields,
            list(choices or ()),
            statuses,
            problems,
        )

    # ---- signing in to the settings page ----

    def create_link(self, organization: Organization, integration_id: int) -> str:
        """A one-time token that opens the settings page, signed in."""
        self.host.integrations.get(organization, integration_id)
        return links.create_link(self.host, organization.id, _purpose(integration_id))

    def redeem_link(self, token: str, integration_id: int) -> Organization:
        organization_id = links.redeem_link(self.host, token, _purpose(integration_id))
        if organization_id is None:
            raise NotFound("This settings link has expired or was already used.")
        return self.store.organizations.get(organization_id)

    def start_session(self, organization: Organization) -> str:
        """A new signed-in session; its id goes in an HttpOnly cookie only."""
        session_id = secrets.token_urlsafe(32)
        now = self.host.clock()
        with self.store.transaction():
            self.store.pipelines.add_session(
                hash_secret(session_id), organization.id, now + SESSION_SECONDS, now=now
            )
        return session_id

    def session_organization(self, session_id: str) -> Organization | None:
        organization_id = self.store.pipelines.session_organization(
            hash_secret(session_id), now=self.host.clock()
        )
        if organization_id is None:
            return None
        return self.store.organizations.get(organization_id)


def _purpose(integration_id: int) -> str:
    """What a one-time link opens (setup links name a provider instead)."""
    return f"settings:{integration_id}"
