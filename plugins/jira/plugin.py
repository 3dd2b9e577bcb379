"""Jira Cloud's hook implementations (provider key ``jira``).

The Connect app's descriptor and lifecycle endpoints fill the table of
tenants; an organization claims one with the code the app's configure page
shows (:mod:`plugins.jira.claim`); its webhooks then reach the claimed
integration as the same events Jira Server's do, and the host's changes go
out through the same sync in Cloud's dialect (:mod:`plugins.jira_core`).
"""

from __future__ import annotations

from hookspecs import hookimpl
from host.types import Provider, Route
from plugins.jira import api_token, claim, lifecycle, setup, site, webhooks
from plugins.jira.descriptor import PATHS
from plugins.jira.install_keys import InstallKeys
from plugins.jira.sync import CLOUD
from plugins.jira.tenants import TenantStore, migrations
from plugins.jira_core import create, issues, org_config, reconcile, sync
from plugins.jira_core import events as core

KEY = webhooks.KEY
PROVIDER = Provider(
    key=KEY,
    name="Jira Cloud",
    features=frozenset({"issue_sync"}),
    description="Jira Cloud sites, through the trackbridge app or an API token.",
    remembered_create_fields=create.REMEMBERED,
)


@hookimpl
def register_providers(host):
    return [PROVIDER]


@hookimpl
def register_migrations(host):
    return migrations


@hookimpl
def register_routes(host):
    keys, tenants = InstallKeys(host), TenantStore(host)
    return [
        Route(PATHS["descriptor"].rstrip("/"), lifecycle.Descriptor(host)),
        Route(PATHS["installed"].rstrip("/"), lifecycle.Installed(host, keys, tenants)),
        Route(
            PATHS["uninstalled"].rstrip("/"),
            lifecycle.Uninstalled(host, keys, tenants),
        ),
        Route(PATHS["configure"].rstrip("/"), claim.ConfigurePage(host, tenants)),
    ]


# ---- install: claiming a tenant, or an API token ----


@hookimpl
def setup_steps(host, provider, state):
    return setup.steps(state) if provider == KEY else None


@hookimpl
def setup_step_view(host, provider, step, state):
    return setup.view(host, step, state) if provider == KEY else None


@hookimpl
def setup_step_submit(host, provider, step, state, data):
    return setup.submit(host, step, data) if provider == KEY else None


@hookimpl
def build_integration(host, provider, state):
    return setup.build(host, state) if provider == KEY else None


@hookimpl
def post_install(host, provider, spec, state):
    return setup.post_install(host, spec, state) if provider == KEY else None


@hookimpl
def uninstall(host, integration, credentials):
    if integration.provider != KEY:
        return None
    if integration.metadata.get("auth") == api_token.MODE:
        return api_token.delete_webhook(host, integration, credentials)
    return True  # the app's webhooks belong to its descriptor: nothing to delete


@hookimpl
def webhook_url(host, integration, shared_credentials):
    if (
        integration.provider != KEY
        or integration.metadata.get("auth") != api_token.MODE
    ):
        return None  # the app's webhook URL is the descriptor's, with no secret in it
    return api_token.webhook_url(host, integration.external_id)


# ---- webhooks ----


@hookimpl
def authenticate_webhook(host, request):
    if request.provider != KEY:
        return None
    if request.path.startswith(api_token.PATH_PREFIX):
        return api_token.authenticate(host, request)
    return webhooks.authenticate(host, request)


@hookimpl
def parse_webhook(host, integration, delivery):
    if integration.provider != KEY:
        return None
    body = core.read_body(host, delivery)
    return core.parse(site.CloudQuestions(host, integration), body)


@hookimpl
def poll_changes(host, integration, since, linked, check):
    if integration.provider != KEY:
        return None
    return reconcile.poll(CLOUD, host, integration, since, linked, check)


# ---- outbound ----


@hookimpl
def sync_assignee_outbound(
    host, integration, org_integration, external_issue, assignee
):
    if integration.provider != KEY:
        return None
    return sync.assignee(
        CLOUD, host, integration, org_integration, external_issue, assignee
    )


@hookimpl
def sync_status_outbound(host, integration, org_integration, external_issue, resolved):
    if integration.provider != KEY:
        return None
    return sync.status(
        CLOUD, host, integration, org_integration, external_issue, resolved
    )


@hookimpl
def sync_comment_outbound(
    host, integration, org_integration, external_issue, comment, external_comment_id
):
    if integration.provider != KEY:
        return None
    return sync.comment(
        CLOUD,
        host,
        integration,
        org_integration,
        external_issue,
        comment,
        external_comment_id,
    )


# ---- issues: linking, searching ----


@hookimpl
def get_issue(host, integration, key):
    return (
        issues.get(CLOUD, host, integration, key)
        if integration.provider == KEY
        else None
    )


@hookimpl
def after_link_issue(host, integration, org_integration, external_issue, data):
    if integration.provider != KEY:
        return None
    return issues.after_link(CLOUD, host, integration, external_issue, data)


@hookimpl
def search_issues(host, integration, query):
    if integration.provider != KEY:
        return None
    return issues.search(CLOUD, host, integration, query)


@hookimpl
def search_field_values(host, integration, field, query):
    if integration.provider != KEY:
        return None
    return issues.field_values(CLOUD, host, integration, field, query)


@hookimpl
def search_users(host, integration, query, project):
    if integration.provider != KEY:
        return None
    return issues.search_users(CLOUD, host, integration, query, project)


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


# ---- organization settings ----


@hookimpl
def organization_config_fields(host, integration, org_integration):
    return org_config.fields() if integration.provider == KEY else None


@hookimpl
def validate_organization_config(host, integration, org_integration, config):
    if integration.provider != KEY:
        return None
    return org_config.validate(host, integration, config)


@hookimpl
def list_projects(host, integration):
    return issues.projects(host, integration) if integration.provider == KEY else None


@hookimpl
def list_statuses(host, integration, project):
    if integration.provider != KEY:
        return None
    return issues.statuses(host, integration, project)
