"""Signing in to the console: a one-time link (``trackbridge console``) or
the organization's API token, then an HttpOnly session cookie, as for the
settings page (its sessions are the same rows), and what the overview
shows of each integration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.errors import NotFound
from host.services import links, sync_flags
from host.types import Integration, Organization, OrganizationIntegration

if TYPE_CHECKING:
    from host.core import Host

PURPOSE = "console"


@dataclass(frozen=True)
class IntegrationHealth:
    """One integration as the console's overview shows it."""

    integration: Integration
    org_integration: OrganizationIntegration
    provider_name: str
    #: ``created``, ``waiting for first webhook``, ``receiving``, or None.
    webhook_status: str | None
    #: The newest delivery to it: ``received_at``, ``status``, ``error``.
    last_delivery: dict[str, Any] | None
    #: How its tracker has been failing (:meth:`host.breakers.Breakers.status`).
    tracker_trouble: dict[str, Any] | None
    #: (label, on) for each sync toggle, in the settings' order.
    toggles: list[tuple[str, bool]]


class ConsoleService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def create_link(self, organization: Organization) -> str:
        """A one-time token that opens the console, signed in."""
        return links.create_link(self.host, organization.id, PURPOSE)

    def redeem_link(self, token: str) -> Organization:
        organization_id = links.redeem_link(self.host, token, PURPOSE)
        if organization_id is None:
            raise NotFound("This console link has expired or was already used.")
        return self.store.organizations.get(organization_id)

    def overview(self, organization: Organization) -> list[IntegrationHealth]:
        found = []
        for integration, org_integration in self.host.integrations.list(organization):
            provider = self.host.providers.get(integration.provider)
            found.append(
                IntegrationHealth(
                    integration=integration,
                    org_integration=org_integration,
                    provider_name=provider.name if provider else integration.provider,
                    webhook_status=integration.metadata.get("webhook_status"),
                    last_delivery=self.store.deliveries.latest(integration.id),
                    tracker_trouble=self.host.breakers.status(integration),
                    toggles=[
                        (label, sync_flags.enabled(org_integration.config, flag))
                        for flag, label in sync_flags.LABELS.items()
                    ],
                )
            )
        return found
