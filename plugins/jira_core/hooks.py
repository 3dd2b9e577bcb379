"""The hooks both Jira providers implement the same way, bound to one
provider's key and dialect.

A provider's plugin module takes them with
``globals().update(hooks.for_provider(KEY, DIALECT))`` (pluggy finds hook
implementations among a module's attributes), and keeps as its own only
the hooks that differ: registration and webhook authentication. Its setup
hooks come from :func:`for_setup`, bound to its own setup module.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from hookspecs import hookimpl
from plugins.jira_core import create, events, issues, org_config, reconcile, sync
from plugins.jira_core.dialect import Dialect


def for_provider(key: str, dialect: Dialect) -> dict[str, Callable]:
    """The shared hook implementations for provider ``key``; each answers
    ``None`` for another provider's integration."""

    def mine(integration) -> bool:
        return integration.provider == key

    @hookimpl
    def parse_webhook(host, integration, delivery):
        if not mine(integration):
            return None
        body = events.read_body(host, delivery)
        return events.parse(dialect.questions(host, integration), body)

    @hookimpl
    def poll_changes(host, integration, since, linked, check):
        if not mine(integration):
            return None
        return reconcile.poll(dialect, host, integration, since, linked, check)

    @hookimpl
    def sync_assignee_outbound(
        host, integration, org_integration, external_issue, assignee
    ):
        if not mine(integration):
            return None
        return sync.assignee(
            dialect, host, integration, org_integration, external_issue, assignee
        )

    @hookimpl
    def sync_status_outbound(
        host, integration, org_integration, external_issue, resolved
    ):
        if not mine(integration):
            return None
        return sync.status(
            dialect, host, integration, org_integration, external_issue, resolved
        )

    @hookimpl
    def sync_comment_outbound(
        host, integration, org_integration, external_issue, comment, external_comment_id
    ):
        if not mine(integration):
            return None
        return sync.comment(
            dialect,
            host,
            integration,
            org_integration,
            external_issue,
            comment,
            external_comment_id,
        )

    @hookimpl
    def get_issue(host, integration, key):
        return (
            issues.get(dialect, host, integration, key) if mine(integration) else None
        )

    @hookimpl
    def after_link_issue(host, integration, org_integration, external_issue, data):
        if not mine(integration):
            return None
        return issues.after_link(dialect, host, integration, external_issue, data)

    @hookimpl
    def search_issues(host, integration, query):
        return (
            issues.search(dialect, host, integration, query)
            if mine(integration)
            else None
        )

    @hookimpl
    def search_users(host, integration, query, project):
        if not mine(integration):
            return None
        return issues.search_users(dialect, host, integration, query, project)

    @hookimpl
    def search_field_values(host, integration, field, query):
        if not mine(integration):
            return None
        return issues.field_values(dialect, host, integration, field, query)

    @hookimpl
    def get_create_issue_config(host, integration, org_integration, group, params):
        if not mine(integration):
            return None
        return create.form(host, integration, org_integration, group, params)

    @hookimpl
    def create_issue(host, integration, org_integration, group, data):
        if not mine(integration):
            return None
        return create.create(host, integration, org_integration, group, data)

    @hookimpl
    def organization_config_fields(host, integration, org_integration):
        return org_config.fields() if mine(integration) else None

    @hookimpl
    def validate_organization_config(host, integration, org_integration, config):
        if not mine(integration):
            return None
        return org_config.validate(host, integration, config)

    @hookimpl
    def list_projects(host, integration):
        return issues.projects(host, integration) if mine(integration) else None

    @hookimpl
    def list_statuses(host, integration, project):
        return (
            issues.statuses(host, integration, project) if mine(integration) else None
        )

    return {
        hook.__name__: hook
        for hook in (
            parse_webhook,
            poll_changes,
            sync_assignee_outbound,
            sync_status_outbound,
            sync_comment_outbound,
            get_issue,
            after_link_issue,
            search_issues,
            search_users,
            search_field_values,
            get_create_issue_config,
            create_issue,
            organization_config_fields,
            validate_organization_config,
            list_projects,
            list_statuses,
        )
    }


def for_setup(key: str, setup: ModuleType) -> dict[str, Callable]:
    """The install pipeline's five hooks for provider ``key``, each handing
    its call to ``setup``, which defines ``steps(state)``, ``view(host,
    step, state)``, ``submit(host, step, state, data)``, ``build(host,
    state)`` and ``post_install(host, spec, state)``; each answers ``None``
    for another provider."""

    @hookimpl
    def setup_steps(host, provider, state):
        return setup.steps(state) if provider == key else None

    @hookimpl
    def setup_step_view(host, provider, step, state):
        return setup.view(host, step, state) if provider == key else None

    @hookimpl
    def setup_step_submit(host, provider, step, state, data):
        return setup.submit(host, step, state, data) if provider == key else None

    @hookimpl
    def build_integration(host, provider, state):
        return setup.build(host, state) if provider == key else None

    @hookimpl
    def post_install(host, provider, spec, state):
        return setup.post_install(host, spec, state) if provider == key else None

    return {
        hook.__name__: hook
        for hook in (
            setup_steps,
            setup_step_view,
            setup_step_submit,
            build_integration,
            post_install,
        )
    }
