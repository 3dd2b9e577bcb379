"""Hook implementations of the Jira Server provider.

Only ``@hookimpl`` functions live here; each checks the provider is its own
(returning ``None`` otherwise) and delegates to the modules beside it.
"""

from __future__ import annotations

from host import hookimpl
from host.types import Provider
from plugins.jira_core import create, hooks
from plugins.jira_server import setup, webhooks
from plugins.jira_server.dialect import SERVER

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


# ---- removal, and the webhook's secret and URL ----


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


# Parsing, reconciliation, outbound sync, issues, create and settings: the
# Jira core's, in Server's dialect; the install pipeline's hooks, handing
# each call to this plugin's setup module.
globals().update(hooks.for_provider(KEY, SERVER))
globals().update(hooks.for_setup(KEY, setup))
