"""Integrations as organizations see them: install, list, configure, remove."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.errors import NotFound, ValidationError
from host.services import sync_flags
from host.types import (
    Integration,
    IntegrationSpec,
    Organization,
    OrganizationIntegration,
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

        The same tracker installed again (same external id) is reused: a
        second organization is added to it, and the same organization
        re-installing refreshes its credentials and metadata.
        """
        self.host.provider(provider)
        with self.store.transaction():
            integration_id = self.store.integrations.upsert(
                provider, spec.external_id, spec.name, spec.metadata
            )
            self.store.integrations.set_credentials(integration_id, spec.credentials)
            self.store.integrations.add_organization(organization.id, integration_id)
            self.host.routing.after_install_change(
                organization, provider, spec.external_id
            )
        return self.get(organization, integration_id)

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
        return self.store.integrations.get(integration_id), org_integration

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
        with self.store.transaction():
            remaining = self.store.integrations.remove_organization(
                organization.id, integration_id
            )
            self.host.routing.after_install_change(
                organization, integration.provider, integration.external_id
            )
        if remaining:
            return
        credentials = self.store.integrations.credentials(integration_id)
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
        """The integration's secrets, for its own provider's calls only."""
        return self.store.integrations.credentials(integration.id)

    def update_metadata(
        self, integration: Integration, changes: Mapping[str, Any]
    ) -> None:
        """Merge ``changes`` into the integration's (non-secret) metadata."""
        with self.store.transaction():
            self.store.integrations.update_metadata(integration.id, changes)

    def mark_needs_reauth(self, integration: Integration) -> None:
        """The tracker refused our credentials: the setup must be run again.

        Links and config are kept; installing the same tracker again for the
        organization replaces the credentials and makes it active.
        """
        log.warning("integration %s needs re-authentication", integration.id)
        with self.store.transaction():
            self.store.integrations.set_status(integration.id, "needs_reauth")
