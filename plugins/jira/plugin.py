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
from plugins.jira import api_token, claim, lifecycle, setup, webhooks
from plugins.jira.descriptor import PATHS
from plugins.jira.dialect import CLOUD
from plugins.jira.install_keys import InstallKeys
from plugins.jira.tenants import TenantStore, migrations
from plugins.jira_core import create, hooks

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


# ---- removal, and the webhook's secret and URL ----


@hookimpl
def uninstall(host, integration, credentials):
    if integration.provider != KEY:
        return None
    if integration.metadata.get("auth") == api_token.MODE:
        return api_token.delete_webhook(host, integration, credentials)
    return True  # the app's webhooks belong to its descriptor: nothing to delete


@hookimpl
def rotate_webhook_secret(host, integration, shared_credentials):
    if integration.provider != KEY:
        return None
    if integration.metadata.get("auth") != api_token.MODE:
        return None  # the app's webhooks are signed with the site's own secret
    return api_token.rotate_webhook_secret(host, integration)


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


# Parsing, reconciliation, outbound sync, issues, create and settings: the
# Jira core's, in Cloud's dialect; the install pipeline's hooks, handing
# each call to this plugin's setup module.
globals().update(hooks.for_provider(KEY, CLOUD))
globals().update(hooks.for_setup(KEY, setup))
