"""Jira Cloud's hook implementations (provider key ``jira``).

The Connect app's descriptor and lifecycle endpoints fill the table of
tenants; an organization claims one with the code the app's configure page
shows (:mod:`plugins.jira.claim`); its webhooks then reach the claimed
integration as the same events Jira Server's do, and the host's changes go
out through the same sync in Cloud's dialect (:mod:`plugins.jira_core`).
"""

from __future__ import annotations

from hookspecs import hookimpl
from host.errors import SetupError
from host.types import Provider, Route
from plugins.jira import claim, lifecycle, site, webhooks
from plugins.jira.descriptor import PATHS
from plugins.jira.install_keys import InstallKeys
from plugins.jira.sync import CLOUD
from plugins.jira.tenants import TenantStore, migrations
from plugins.jira_core import events as core
from plugins.jira_core import sync
from plugins.jira_core.client import JiraError

KEY = webhooks.KEY
PROVIDER = Provider(
    key=KEY,
    name="Jira Cloud",
    features=frozenset({"issue_sync"}),
    description="Jira Cloud sites, through the trackbridge Connect app.",
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


# ---- install: claiming a tenant ----


@hookimpl
def setup_steps(host, provider, state):
    return [claim.STEP] if provider == KEY else None


@hookimpl
def setup_step_view(host, provider, step, state):
    return claim.step_view() if provider == KEY else None


@hookimpl
def setup_step_submit(host, provider, step, state, data):
    return claim.submit(host, data) if provider == KEY else None


@hookimpl
def build_integration(host, provider, state):
    return claim.build(host, state) if provider == KEY else None


@hookimpl
def post_install(host, provider, spec, state):
    """Ask the site who the app is (its own changes come back as webhooks
    and must be told apart): ``/rest/api/3/myself``, signed as the app."""
    if provider != KEY:
        return None
    client = site.site_client(host, spec.metadata["base_url"], spec.external_id)
    try:
        me = client.request("GET", "/rest/api/3/myself")
    except JiraError as ex:
        raise SetupError(f"The Jira Cloud site did not answer the app: {ex}") from None
    account_id = me.get("accountId")
    return {"account_id": account_id} if isinstance(account_id, str) else {}


@hookimpl
def uninstall(host, integration, credentials):
    # The site's webhooks belong to the app's descriptor: nothing to delete.
    return True if integration.provider == KEY else None


# ---- webhooks ----


@hookimpl
def authenticate_webhook(host, request):
    return webhooks.authenticate(host, request) if request.provider == KEY else None


@hookimpl
def parse_webhook(host, integration, delivery):
    if integration.provider != KEY:
        return None
    body = core.read_body(host, delivery)
    return core.parse(site.CloudQuestions(host, integration), body)


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
