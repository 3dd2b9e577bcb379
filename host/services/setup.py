"""The setup pipeline: a provider's install steps, with state kept server-side.

A pipeline is started for one organization and provider and named by an
unguessable id; only its SHA-256 is stored, so a copy of the database cannot
resume anyone's setup. It expires (``[host] setup_ttl_seconds``) and is
deleted when it completes: it is single-use. Nothing about the integration is
written until every step, and the provider's post-install work, succeeded.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from host.errors import NotFound, PluginError, SetupError, ValidationError
from host.services import links
from host.services.links import hash_secret
from host.types import Organization, SetupStep, StepView

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from host.core import Host


@dataclass(frozen=True)
class PipelineStatus:
    """Where a pipeline stands, for the API and the setup pages."""

    pipeline_id: str
    provider: str
    step: SetupStep | None
    step_index: int
    total_steps: int
    view: StepView | None = None
    redirect_url: str | None = None
    data: Mapping[str, Any] | None = None
    integration_id: int | None = None

    @property
    def complete(self) -> bool:
        return self.integration_id is not None


class SetupService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def start(self, organization: Organization, provider: str) -> PipelineStatus:
        self.host.provider(provider)
        steps = self._steps(provider, {})
        pipeline_id = secrets.token_urlsafe(32)
        now = self.host.clock()
        expires_at = now + self.host.config.setup_ttl_seconds
        with self.store.transaction():
            self.store.pipelines.create(
                hash_secret(pipeline_id), provider, organization.id, expires_at, now=now
            )
        return self._status(pipeline_id, provider, steps, 0, {})

    def create_link(self, organization: Organization, provider: str) -> str:
        """A one-time token that opens the setup page for ``organization``."""
        self.host.provider(provider)
        return links.create_link(self.host, organization.id, provider)

    def redeem_link(self, token: str, provider: str) -> Organization:
        """Use up a one-time link; its organization, or NotFound."""
        organization_id = links.redeem_link(self.host, token, provider)
        if organization_id is None:
            raise NotFound("This setup link has expired or was already used.")
        return self.store.organizations.get(organization_id)

    def organization_of(self, pipeline_id: str) -> Organization:
        """The organization a pipeline belongs to (for the browser pages)."""
        organization_id = self.store.pipelines.organization_of(
            hash_secret(pipeline_id), now=self.host.clock()
        )
        if organization_id is None:
            raise NotFound("This setup session has expired or does not exist.")
        return self.store.organizations.get(organization_id)

    def status(self, organization: Organization, pipeline_id: str) -> PipelineStatus:
        pipeline = self._load(organization, pipeline_id)
        steps = self._steps(pipeline["provider"], pipeline["state"])
        return self._status(
            pipeline_id,
            pipeline["provider"],
            steps,
            pipeline["step_index"],
            pipeline["state"],
        )

    def submit(
        self, organization: Organization, pipeline_id: str, data: Mapping[str, Any]
    ) -> PipelineStatus:
        """Submit the current step (or a callback to it) and move on."""
        if not isinstance(data, Mapping):
            raise ValidationError({}, "Request body must be a JSON object.")
        pipeline = self._load(organization, pipeline_id)
        provider, index = pipeline["provider"], pipeline["step_index"]
        steps = self._steps(provider, pipeline["state"])
        try:
            result = self.host.hook.setup_step_submit(
                host=self.host,
                provider=provider,
                step=steps[index].name,
                state=pipeline["state"],
                data=data,
            )
        except SetupError as ex:
            # Its message is the provider's (never a secret): why the
            # tracker refused or could not be reached.
            log.warning(
                "setup of %s for %s: step %s failed: %s",
                provider,
                organization.slug,
                steps[index].name,
                ex.detail,
            )
            raise
        if result is None:
            raise PluginError(f"No plugin handles setup of {provider!r}")
        state = {**pipeline["state"], **result.state}
        steps = self._steps(provider, state)  # may depend on what was answered
        if result.redirect_url is None:
            index += 1
        if index >= len(steps):
            integration_id = self._finish(organization, provider, state)
            with self.store.transaction():
                self.store.pipelines.delete(hash_secret(pipeline_id))
            return PipelineStatus(
                pipeline_id=pipeline_id,
                provider=provider,
                step=None,
                step_index=index,
                total_steps=len(steps),
                # The last step's view: what to copy into the tracker is
                # shown again on the page that ends the install.
                view=self._status(pipeline_id, provider, steps, index - 1, state).view,
                integration_id=integration_id,
            )
        with self.store.transaction():
            self.store.pipelines.update(hash_secret(pipeline_id), index, state)
        return replace(
            self._status(pipeline_id, provider, steps, index, state),
            redirect_url=result.redirect_url,
            data=result.data,
        )

    def _finish(
        self, organization: Organization, provider: str, state: Mapping[str, Any]
    ) -> int:
        spec = self.host.hook.build_integration(
            host=self.host, provider=provider, state=state
        )
        if spec is None:
            raise PluginError(f"No plugin builds {provider!r} integrations")
        extra = self.host.hook.post_install(
            host=self.host, provider=provider, spec=spec, state=state
        )
        if extra:
            spec = replace(spec, metadata={**spec.metadata, **extra})
        integration, _ = self.host.integrations.install(organization, provider, spec)
        return integration.id

    def _load(self, organization: Organization, pipeline_id: str) -> dict[str, Any]:
        pipeline = self.store.pipelines.get(
            hash_secret(pipeline_id), now=self.host.clock()
        )
        if pipeline is None or pipeline["organization_id"] != organization.id:
            raise NotFound("This setup session has expired or does not exist.")
        return pipeline

    def _steps(self, provider: str, state: Mapping[str, Any]) -> list[SetupStep]:
        steps = self.host.hook.setup_steps(
            host=self.host, provider=provider, state=state
        )
        if not steps:
            raise NotFound(f"Provider {provider!r} cannot be set up here.")
        return steps

    def _status(self, pipeline_id, provider, steps, index, state) -> PipelineStatus:
        step = steps[index]
        view = self.host.hook.setup_step_view(
            host=self.host, provider=provider, step=step.name, state=state
        )
        return PipelineStatus(
            pipeline_id=pipeline_id,
            provider=provider,
            step=step,
            step_index=index,
            total_steps=len(steps),
            view=view or StepView(),
        )
