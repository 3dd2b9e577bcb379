"""Control node: webhooks and installs go to the regions of organizations.

A host with ``[regions]`` configured is a control node. It authenticates a
webhook through the same provider hook as any host, finds the organizations
using that integration and their regions, and forwards the original body and
headers to each region's host, signed with the shared ``[routing] secret``
(see :mod:`host.signing`). Forwarding is a durable job, so a region that is
down gets the delivery later, not never. Organizations without a region are
served by the control node itself.

Jira sees the control node's answers, which follow Sentry's parser rather
than the endpoint: a bad token is 200 (logged, not forwarded, so Jira does
not retry it), an integration no organization actively uses is 400, nothing
to apply is 200, and forwarded is 202.

Installs happen at the control node (Jira's webhook points at it); each one
for an organization in a region is replicated to that region's host, with
the same credentials, so the region can authenticate forwarded webhooks and
call the tracker itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from host import signing
from host.errors import RetryLater, ValidationError, WebhookRejected
from host.services.inbound import private_headers_removed
from host.types import IntegrationSpec, Organization, WebhookRequest

if TYPE_CHECKING:
    from host.core import Host

log = logging.getLogger(__name__)

REPLICATE_PATH = "/internal/replicate"
#: Headers that describe one HTTP hop, not the delivery: never forwarded.
HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}
)
TIMEOUT = (5, 30)


def signed_path(provider_slug: str, path: str) -> str:
    """The path a forwarding signature covers, the same at both ends."""
    return f"/extensions/{provider_slug}/{path.strip('/')}"


class RoutingService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    @property
    def is_control(self) -> bool:
        return bool(self.host.config.regions)

    # ---- webhooks ----

    def route(self, request: WebhookRequest) -> int:
        """Store or forward a webhook at the control node; the HTTP status.

        :raises WebhookRejected: the integration has no active organization,
            or the provider asks a refused request to be answered so.
        """
        try:
            verdict = self.host.inbound.authenticate(request)
        except WebhookRejected as ex:
            log.info("webhook not routed: %s", ex.detail)
            if ex.routed_status == 200:
                return 200
            refused = WebhookRejected(ex.detail)
            refused.status = ex.routed_status  # the provider's choice here
            raise refused from None
        organizations = (
            self._active_organizations(verdict.integration_id)
            if verdict.integration_id is not None
            else []
        )
        if not organizations:
            raise WebhookRejected("No organization actively uses this integration.")
        if not verdict.store:
            return 200
        regions = sorted({o.region for o in organizations if o.region})
        headers = {
            k: v
            for k, v in private_headers_removed(request).items()
            if k not in HOP_HEADERS and k != signing.HEADER
        }
        slug = self.host.providers[request.provider].slug
        with self.store.transaction():
            if any(o.region is None for o in organizations):
                self.host.inbound.store_delivery(verdict.integration_id, request)
            for region in regions:
                forward_id = self.store.deliveries.add_forward(
                    region,
                    slug,
                    request.path,
                    request.query,
                    headers,
                    request.body,
                    integration_id=verdict.integration_id,
                )
                self.host.jobs.enqueue(
                    "delivery.forward", {"forward_id": forward_id, "region": region}
                )
        return 202

    def forward(self, payload: Mapping[str, Any]) -> None:
        """Job: send one delivery to its region's host (retried until it lands)."""
        forward = self.store.deliveries.forward(payload["forward_id"])
        if forward is None:
            return  # delivered by an earlier run of this job
        self._post(
            forward["region"],
            signed_path(forward["provider_slug"], forward["path"]),
            forward["body"],
            headers=forward["headers"],
            params=forward["query"] or None,
        )
        with self.store.transaction():
            self.store.deliveries.delete_forward(forward["id"])

    def verify_signed(self, header: str, path: str, body: bytes) -> None:
        """At a region: accept only what the control node signed for ``path``.

        :raises NotAuthenticated: the signature is missing its secret, wrong or old.
        """
        signing.verify(
            self.host.config.routing_secret,
            header,
            "POST",
            path,
            body,
            self.host.clock(),
        )

    # ---- installs ----

    def after_install_change(
        self, organization: Organization, provider: str, external_id: str
    ) -> None:
        """Queue replicating an organization's install (or its removal) to its
        region; call inside the transaction that made the change."""
        if self.is_control and organization.region:
            self.host.jobs.enqueue(
                "integration.replicate",
                {
                    "organization_id": organization.id,
                    "provider": provider,
                    "external_id": external_id,
                },
            )

    def replicate(self, payload: Mapping[str, Any]) -> None:
        """Job: send the organization's current install state to its region."""
        organization = self.store.organizations.get(payload["organization_id"])
        if organization is None or not organization.region:
            return
        integration = self.store.integrations.get_by_external_id(
            payload["provider"], payload["external_id"]
        )
        in_use = integration is not None and (
            self.store.integrations.org_integration(organization.id, integration.id)
            is not None
        )
        message: dict[str, Any] = {
            "organization": {"slug": organization.slug, "name": organization.name},
            "provider": payload["provider"],
            "external_id": payload["external_id"],
            "removed": not in_use,
        }
        if in_use:
            installation = self.store.integrations.org_integration(
                organization.id, integration.id
            )
            message.update(
                name=integration.name,
                metadata=dict(integration.metadata),
                credentials=self.store.integrations.installation_credentials(
                    installation.id
                ),
                shared_credentials=self.store.integrations.credentials(integration.id),
            )
        self._post(
            organization.region,
            REPLICATE_PATH,
            json.dumps(message).encode(),
            headers={"content-type": "application/json"},
        )

    def receive_replica(self, message: Any) -> None:
        """At a region: apply an install (or removal) the control node made.

        The tracker-side clean-up on removal is the control node's job, so
        no ``uninstall`` hook runs here.
        """
        if not isinstance(message, dict) or not isinstance(
            message.get("organization"), dict
        ):
            raise ValidationError({}, "Not an install replica.")
        provider = message.get("provider")
        if provider not in self.host.providers:
            raise ValidationError(
                {"provider": [f"Provider {provider!r} is not installed on this host."]}
            )
        slug = message["organization"].get("slug", "")
        organization = self.store.organizations.get_by_slug(slug)
        if organization is None:
            organization = self.host.organizations.create(
                slug, message["organization"].get("name")
            )
        integration = self.store.integrations.get_by_external_id(
            provider, message.get("external_id", "")
        )
        if message.get("removed"):
            if integration is not None:
                with self.store.transaction():
                    self.store.integrations.remove_organization(
                        organization.id, integration.id
                    )
            return
        self.host.integrations.install(
            organization,
            provider,
            IntegrationSpec(
                external_id=message["external_id"],
                name=message.get("name") or message["external_id"],
                metadata=message.get("metadata") or {},
                credentials=message.get("credentials") or {},
                shared_credentials=message.get("shared_credentials") or {},
            ),
        )

    # ---- internals ----

    def _active_organizations(self, integration_id: int) -> list[Organization]:
        return [
            self.store.organizations.get(oi.organization_id)
            for oi in self.store.integrations.org_integrations(integration_id)
            if oi.receives_events
        ]

    def _post(
        self,
        region: str,
        path: str,
        body: bytes,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
    ) -> None:
        base = self.host.config.regions.get(region)
        if base is None:
            raise RetryLater(f"Region {region!r} is not in this host's [regions].")
        signature = signing.sign(
            self.host.config.routing_secret, "POST", path, body, self.host.clock()
        )
        try:
            response = requests.post(
                f"{base}{path}",
                data=body,
                params=params,
                headers={**headers, signing.HEADER: signature},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as ex:
            raise RetryLater(
                f"Region {region} ({base}) is unreachable: {type(ex).__name__}"
            ) from None
        if response.status_code >= 300:
            raise RetryLater(
                f"Region {region} answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
