"""Hook implementations of the Jira Server provider.

Only ``@hookimpl`` functions live here; each checks the provider is its own
(returning ``None`` otherwise) and delegates to the modules beside it.
"""

from __future__ import annotations

from host import hookimpl
from host.types import Provider
from plugins.jira_core import create, org_config, reconcile
from plugins.jira_server import (
    events,
    issues,
    setup,
    sync,
    webhooks,
)

KEY = "jira_server"

PROVIDER = Provider(
    key=KEY,
    name="Jira Server",
    features=frozenset({"issue_basic", "issue_sync", "user_mapping"}),
    description="Jira Server and Data Center, through OAuth 1.0a or a personal"
    " access token.",
    remembered_create_fields=create.REMEMBERED,
)


@hookimpl
def register_providers(host):
    return [PROVIDER]


# ---- install ----


@hookimpl
def setup_steps(host, provider, state):
    return setup.steps(state) if provider == KEY else None


@hookimpl
def setup_step_view(host, provider, step, state):
    return setup.view(host, step, state) if provider == KEY else None


@hookimpl
def setup_step_submit(host, provider, step, state, data):
    return setup.submit(host, step, state, data) if provider == KEY else None


@hookimpl
def build_integration(host, provider, state):
    return setup.build(host, state) if provider == KEY else None


@hookimpl
def post_install(host, provider, spec, state):
    return setup.create_webhook(host, spec, state) if provider == KEY else None


@hookimpl
def uninstall(host, integration, credentials):
    if integration.provider != KEY:
        return None
    return setup.remove_webhook(host, integration, credentials)


@hookimpl
def rotate_webhook_secret(host, integration, shared_credentials):
    if integration.provider != KEY:
        return None
    return setup.rotate_webhook_secret(host, integration)


@hookimpl
def webhook_url(host, integration, shared_credentials):
    if integration.provider != KEY:
        return None
    return setup.current_webhook_url(host, integration, shared_credentials)


# ---- webhooks ----


@hookimpl
def authenticate_webhook(host, request):
    return webhooks.authenticate(host, request) if request.provider == KEY else None


@hookimpl
def parse_webhook(host, integration, delivery):
    if integration.provider != KEY:
        return None
    return events.parse(host, integration, delivery)


@hookimpl
def poll_changes(host, integration, since, linked, check):
    if integration.provider != KEY:
        return None
    return reconcile.poll(sync.SERVER, host, integration, since, linked, check)


# ---- organization settings ----


@hookimpl
def organization_config_fields(host, integration, org_integration):
    return org_config.fields() if integration.provider == KEY else None


@hookimpl
def validate_organization_config(host, integration, org_integration, config):
    if integration.provider != KEY:
        return None
    return org_config.validate(host, integration, config)


# ---- outbound sync ----


@hookimpl
def sync_assignee_outbound(
    host, integration, org_integration, external_issue, assignee
):
    if integration.provider != KEY:
        return None
    return sync.assignee(host, integration, org_integration, external_issue, assignee)


@hookimpl
def sync_status_outbound(host, integration, org_integration, external_issue, resolved):
    if integration.provider != KEY:
        return None
    return sync.status(host, integration, org_integration, external_issue, resolved)


@hookimpl
def sync_comment_outbound(
    host, integration, org_integration, external_issue, comment, external_comment_id
):
    if integration.provider != KEY:
        return None
    return sync.comment(
        host, integration, org_integration, external_issue, comment, external_comment_id
    )


# ---- issues ----


@hookimpl
def get_issue(host, integration, key):
    return issues.get(host, integration, key) if integration.provider == KEY else None


@hookimpl
def after_link_issue(host, integration, org_integration, external_issue, data):
    if integration.provider != KEY:
        return None
    return issues.after_link(host, integration, external_issue, data)


@hookimpl
def search_issues(host, integration, query):
    if integration.provider != KEY:
        return None
    return issues.search(host, integration, query)


@hookimpl
def search_users(host, integration, query, project):
    if integration.provider != KEY:
        return None
    return issues.search_users(host, integration, query, project)


@hookimpl
def search_field_values(host, integration, field, query):
    if integration.provider != KEY:
        return None
    return issues.field_values(host, integration, field, query)


@hookimpl
def get_create_issue_config(host, integration, org_integration, group, params):
    if integration.provider != KEY:
        return None
    return create.form(host, integration, org_integration, group, params)


@hookimpl
def create_issue(host, integration, org_integration, group, data):
    if integration.provider != KEY:
        return None
    return create.create(host, integration, org_integration, group, data)


# ---- organization settings: choices ----


@hookimpl
def list_projects(host, integration):
    return issues.projects(host, integration) if integration.provider == KEY else None


@hookimpl
def list_statuses(host, integration, project):
    if integration.provider != KEY:
        return None
    return issues.statuses(host, integration, project)
