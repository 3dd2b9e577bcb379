"""Hook implementations of the Jira Server provider.

Only ``@hookimpl`` functions live here; each checks the provider is its own
and delegates to the modules beside it.
"""

from __future__ import annotations

from host import hookimpl
from host.types import Provider

KEY = "jira_server"

PROVIDER = Provider(
    key=KEY,
    name="Jira Server",
    features=frozenset({"issue_basic", "issue_sync", "user_mapping"}),
    description="Jira Server and Data Center, through OAuth 1.0a or a personal"
    " access token.",
)


@hookimpl
def register_providers(host):
    return [PROVIDER]
