"""The running host: configuration, storage, plugins and domain services.

Everything a request handler, a job or a plugin needs is reached through one
``Host``; nothing is global, so tests build as many as they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

import pluggy
import requests

from host import schema
from host.breakers import Breakers
from host.config import Config
from host.destinations import DestinationPolicy
from host.errors import NotFound, PluginError
from host.metrics import Metrics
from host.plugins import get_plugin_manager
from host.store import Store
from host.types import FEATURES, Group, Integration, Provider


class Host:
    def __init__(
        self,
        config: Config,
        store: Store,
        pm: pluggy.PluginManager,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Imported here: the services import types that name Host.
        from host.jobs import JobQueue
        from host.services.console import ConsoleService
        from host.services.events import EventService
        from host.services.groups import GroupService
        from host.services.hooks import HookService
        from host.services.inbound import InboundService
        from host.services.integrations import IntegrationService
        from host.services.organizations import OrganizationService
        from host.services.outbound import OutboundService
        from host.services.reconcile import ReconcileService
        from host.services.retention import RetentionService
        from host.services.routing import RoutingService
        from host.services.rules import RuleService
        from host.services.settings import SettingsService
        from host.services.setup import SetupService
        from host.services.tracker_issues import TrackerIssueService

        self.config = config
        self.store = store
        self.pm = pm
        self.hook = pm.hook
        self.clock = clock
        self.metrics = Metrics()
        self.breakers = Breakers(self)
        self.providers = self._collect_providers()
        self.jobs = JobQueue(self)
        self.organizations = OrganizationService(self)
        self.events = EventService(self)
        self.hooks = HookService(self)
        self.rules = RuleService(self)
        self.groups = GroupService(self)
        self.integrations = IntegrationService(self)
        self.inbound = InboundService(self)
        self.outbound = OutboundService(self)
        self.routing = RoutingService(self)
        self.reconcile = ReconcileService(self)
        self.setup = SetupService(self)
        self.tracker_issues = TrackerIssueService(self)
        self.settings = SettingsService(self)
        self.console = ConsoleService(self)
        self.retention = RetentionService(self)

    @classmethod
    def from_config(
        cls, config: Config, *, pm: pluggy.PluginManager | None = None
    ) -> Host:
        """Open the configured database, apply migrations, load plugins."""
        if pm is None:
            pm = get_plugin_manager(blocked=config.disabled_plugins)
        host = cls(config, Store.for_config(config), pm)
        host.migrate()
        return host

    def migrate(self) -> list[str]:
        """Apply pending migrations (core, then plugins'); return their names.

        Secrets an older version stored in plaintext are sealed here too, and
        every sealed one is checked to open with the configured key, so a
        wrong key stops the host at start instead of failing a webhook later.
        """
        applied = self.store.migrate(self.plugin_migrations())
        self.seal_secrets()
        return applied

    def seal_secrets(self, *, again: bool = False) -> int:
        """:meth:`host.store.Store.seal_secrets` over the host's and the
        plugins' sealed columns."""
        return self.store.seal_secrets(
            again=again,
            plugin_columns=[
                column for s in self.plugin_migrations() for column in s.sealed_columns
            ],
        )

    def pending_migrations(self) -> list[str]:
        return self.store.pending(self.plugin_migrations())

    def plugin_migrations(self):
        """The plugins' migration sets, as this host's store runs them."""
        returned = self.hook.register_migrations(host=self)
        return schema.plugin_sets(returned)

    def plugin_config(self, name: str) -> dict[str, str]:
        """The ``[name]`` section of the config file, for plugin settings."""
        return self.config.plugin_config(name)

    def outbound_session(
        self,
        allowed_hosts: Sequence[str] = (),
        *,
        integration: Integration | None = None,
    ) -> requests.Session:
        """A requests session for calls to a tracker: it connects only where
        the operator allows (see :mod:`host.destinations`), never follows a
        redirect by itself, and ends each call by its deadline
        (:mod:`host.deadlines`).

        :param allowed_hosts: the plugin's own host allowlist, if any.
        :param integration: whose tracker the session calls: its calls then
            feed, and obey, that integration's circuit breaker
            (:mod:`host.breakers`).
        """
        guard = None
        if integration is not None:
            tracker = self.providers[integration.provider].name
            guard = self.breakers.guard(integration.id, tracker)
        return DestinationPolicy(
            allow_loopback=self.config.allow_loopback_destinations,
            allowed_hosts=tuple(allowed_hosts),
        ).session(guard=guard, deadline=self.config.jobs.tracker_timeout_seconds)

    def group_url(self, group: Group) -> str:
        """Where a tracker links back to a group: ``[host]
        group_url_template`` (a page people can open), else the group in
        this host's API."""
        organization = self.store.organizations.get(group.organization_id)
        fields = {
            "public_url": self.config.public_url,
            "organization": quote(organization.slug, safe=""),
            "group_id": group.id,
        }
        template = self.config.group_url_template or (
            "{public_url}/console/{organization}/groups/{group_id}"
        )
        return template.format(**fields)

    def provider(self, key: str) -> Provider:
        try:
            return self.providers[key]
        except KeyError:
            installed = ", ".join(sorted(self.providers)) or "none"
            raise NotFound(f"Unknown provider {key}; installed: {installed}.") from None

    def provider_by_slug(self, slug: str) -> Provider | None:
        return next((p for p in self.providers.values() if p.slug == slug), None)

    def _collect_providers(self) -> dict[str, Provider]:
        providers: dict[str, Provider] = {}
        for contributed in self.hook.register_providers(host=self):
            for provider in contributed or ():
                if provider.key in providers:
                    raise PluginError(
                        f"Provider {provider.key!r} is registered by two plugins"
                    )
                unknown = set(provider.features) - FEATURES
                if unknown:
                    raise PluginError(
                        f"Provider {provider.key!r} declares unknown features: "
                        + ", ".join(sorted(unknown))
                    )
                providers[provider.key] = provider
        return providers

    def close(self) -> None:
        self.store.close()
