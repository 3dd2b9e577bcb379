"""Integrations as organizations see them: install, list, configure, remove."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.errors import NotFound, ValidationError
from host.services import events, sync_flags
from host.types import (
    Integration,
    IntegrationSpec,
    Organization,
    OrganizationIntegration,
    RotatedSecret,
)

if TYPE_CHECKING:
    from host.core import Host

log = logging.getLogger(__name__)


class IntegrationService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def install(
        self, organization: Organization, provider: str, spec: IntegrationSpec
    ) -> tuple[Integration, OrganizationIntegration]:
        """Save a built integration for ``organization``, all or nothing.

        The same tracker installed again (same external id, which a provider
        derives from what the tracker authenticated) is shared: another
        organization joining it adds its own credentials and changes nothing
        any existing organization's sync uses (base URL, metadata, the shared
        webhook secret). An organization already using it re-installs: its
        credentials and the integration's metadata are refreshed.
        """
        self.host.provider(provider)
        with self.store.transaction():
            self.store.integrations.hold(provider, spec.external_id)
            existing = self.store.integrations.get_by_external_id(
                provider, spec.external_id
            )
            if existing is None:
                integration_id = self.store.integrations.create(
                    provider, spec.external_id, spec.name, spec.metadata
                )
                self.store.integrations.set_credentials(
                    integration_id, spec.shared_credentials
                )
            else:
                integration_id = existing.id
                if self.store.integrations.org_integration(
                    organization.id, integration_id
                ):
                    self.store.integrations.update(
                        integration_id,
                        spec.name,
                        {**existing.metadata, **spec.metadata},
                    )
            org_integration_id = self.store.integrations.add_organization(
                organization.id, integration_id
            )
            self.store.integrations.set_installation_credentials(
                org_integration_id, spec.credentials
            )
            self.host.routing.after_install_change(
                organization, provider, spec.external_id
            )
            installed = self.get(organization, integration_id)
            self._event(organization.id, "integration.installed", installed[0])
        return installed

    def list(
        self, organization: Organization
    ) -> list[tuple[Integration, OrganizationIntegration]]:
        return self.store.integrations.for_organization(organization.id)

    def get(
        self, organization: Organization, integration_id: int
    ) -> tuple[Integration, OrganizationIntegration]:
        org_integration = self.store.integrations.org_integration(
            organization.id, integration_id
        )
        if org_integration is None:
            raise NotFound("Integration not found.")
        integration = self.store.integrations.get(integration_id, organization.id)
        return integration, org_integration

    def update_config(
        self, organization: Organization, integration_id: int, changes: Any
    ) -> OrganizationIntegration:
        """Merge validated ``changes`` into the organization's config.

        The host checks its own sync toggles (booleans); every other key goes
        to the provider, which refuses what it does not know. Keys not sent
        are left as they were.
        """
        integration, org_integration = self.get(organization, integration_id)
        if not isinstance(changes, Mapping):
            raise ValidationError({}, "Request body must be a JSON object.")
        errors = {
            key: ["Must be a boolean."]
            for key in changes.keys() & sync_flags.ALL
            if not isinstance(changes[key], bool)
        }
        provider_keys = {k: v for k, v in changes.items() if k not in sync_flags.ALL}
        cleaned: Mapping[str, Any] = {}
        if provider_keys:
            try:
                cleaned = self.host.hook.validate_organization_config(
                    host=self.host,
                    integration=integration,
                    org_integration=org_integration,
                    config=provider_keys,
                )
            except ValidationError as ex:
                errors.update(ex.errors)
            if cleaned is None:
                errors.update({key: ["Unknown field."] for key in provider_keys})
        if errors:
            raise ValidationError(errors)
        config = {
            **org_integration.config,
            **{k: v for k, v in changes.items() if k in sync_flags.ALL},
            **(cleaned or {}),
        }
        with self.store.transaction():
            self.store.integrations.set_config(org_integration.id, config)
        return self.store.integrations.org_integration(organization.id, integration_id)

    def remove(self, organization: Organization, integration_id: int) -> None:
        """Remove the organization's use; the last one uninstalls remotely."""
        integration, _ = self.get(organization, integration_id)
        # Read first: the organization's own credentials go with its use.
        credentials = self.credentials(integration)
        with self.store.transaction():
            remaining, unlinked = self.store.integrations.remove_organization(
                organization.id, integration_id
            )
            for group_id, external_issue_id in unlinked:
                self.host.events.link_changed(
                    self.store.groups.get(organization.id, group_id),
                    self.store.integrations.external_issue_by_id(external_issue_id),
                    "link.removed",
                    reason="integration_removed",
                )
            self._event(organization.id, "integration.removed", integration)
            self.host.routing.after_install_change(
                organization, integration.provider, integration.external_id
            )
        if remaining:
            return
        try:
            cleaned = self.host.hook.uninstall(
                host=self.host, integration=integration, credentials=credentials
            )
        except Exception:
            log.exception("uninstall of integration %s failed", integration_id)
            cleaned = False
        if cleaned is False:
            log.warning("integration %s: remote clean-up incomplete", integration_id)
        with self.store.transaction():
            self.store.integrations.delete(integration_id)

    def by_external_id(self, provider: str, external_id: str) -> Integration | None:
        """For providers authenticating a webhook: the integration it names."""
        return self.store.integrations.get_by_external_id(provider, external_id)

    def credentials(self, integration: Integration) -> dict[str, Any]:
        """The integration's secrets, for its own provider's calls only: what
        every organization shares (a webhook secret), and the credentials of
        the organization the call is for (``integration.organization_id``),
        or, for a call about the integration as a whole, of its first
        installation the tracker has not refused."""
        installation = self._installation(integration)
        own = (
            self.store.integrations.installation_credentials(installation.id)
            if installation
            else {}
        )
        return {**own, **self.store.integrations.credentials(integration.id)}

    def shared_credentials(self, integration: Integration) -> dict[str, Any]:
        """Only what every organization using it shares (a webhook secret)."""
        return self.store.integrations.credentials(integration.id)

    def _installation(self, integration: Integration) -> OrganizationIntegration | None:
        if integration.organization_id is not None:
            return self.store.integrations.org_integration(
                integration.organization_id, integration.id
            )
        return self.store.integrations.first_working_installation(integration.id)

    def update_metadata(
        self, integration: Integration, changes: Mapping[str, Any]
    ) -> None:
        """Merge ``changes`` into the integration's (non-secret) metadata.

        ``webhook_status`` is the one key the host reads: a change of it is
        an ``integration.webhook_status_changed`` event for every
        organization using the integration.
        """
        with self.store.transaction():
            before = self.store.integrations.get(integration.id)
            self.store.integrations.update_metadata(integration.id, changes)
            old = before.metadata.get("webhook_status") if before else None
            new = changes.get("webhook_status", old)
            if new != old:
                for use in self.store.integrations.org_integrations(integration.id):
                    self.host.events.record(
                        use.organization_id,
                        "integration.webhook_status_changed",
                        {
                            "integration": events.integration_shape(integration),
                            "webhook_status": {"before": old, "after": new},
                        },
                    )

    def mark_needs_reauth(self, integration: Integration) -> None:
        """The tracker refused the credentials a call went out with: that
        organization must run the setup again (the others are unaffected).

        Links and config are kept; installing the same tracker again for the
        organization replaces its credentials and makes it active.
        """
        installation = self._installation(integration)
        if installation is None:
            return
        log.warning(
            "integration %s: the credentials of organization %s were refused;"
            " it needs re-authentication",
            integration.id,
            installation.organization_id,
        )
        with self.store.transaction():
            self.store.integrations.set_installation_status(
                installation.id, "needs_reauth"
            )
            if installation.status != "needs_reauth":  # said once, not per call
                self._event(
                    installation.organization_id,
                    "integration.needs_reauth",
                    integration,
                )

    def _event(self, organization_id: int, type: str, integration) -> None:
        self.host.events.record(
            organization_id,
            type,
            {"integration": events.integration_shape(integration)},
        )

    def webhook_url(self, integration: Integration) -> str | None:
        """Where the tracker sends its webhooks (it may hold the secret: for
        a person who asked, never in a list)."""
        return self.host.hook.webhook_url(
            host=self.host,
            integration=integration,
            shared_credentials=self.shared_credentials(integration),
        )

    def rotate_webhook_secret(self, integration: Integration) -> RotatedSecret:
        """Issue a new shared webhook secret: the old webhook URL stops
        working at once, and the provider re-registers its webhook with the
        tracker (or, when an administrator adds it by hand, says so).

        Every organization using the integration shares the webhook, so any
        of them may rotate it (the tracker calls go out with the credentials
        of ``integration.organization_id``).
        """
        shared = self.shared_credentials(integration)
        rotated = self.host.hook.rotate_webhook_secret(
            host=self.host, integration=integration, shared_credentials=shared
        )
        if rotated is None:
            raise ValidationError(
                {}, f"{integration.provider} integrations have no webhook secret."
            )
        with self.store.transaction():
            self.store.integrations.set_credentials(
                integration.id, {**shared, **rotated.shared_credentials}
            )
            if rotated.metadata:
                self.store.integrations.update_metadata(
                    integration.id, rotated.metadata
                )
        return rotated
