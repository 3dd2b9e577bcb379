"""The Atlassian Connect descriptor: what Jira Cloud (or a Forge manifest's
Connect modules) learns about the app, and the paths it calls.

``baseUrl`` is ``[host] public_url`` without a trailing slash, and the
signed-install check compares the token's ``aud`` with exactly this
string, so both come from :func:`app_base_url`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

PREFIX = "/extensions/jira"
#: Every path the descriptor names, relative to ``baseUrl``.
PATHS = {
    "descriptor": f"{PREFIX}/descriptor/",
    "installed": f"{PREFIX}/installed/",
    "uninstalled": f"{PREFIX}/uninstalled/",
    "issue_updated": f"{PREFIX}/issue-updated/",
    "configure": f"{PREFIX}/configure/",
}
#: The webhooks the app subscribes to: issue changes, deletes and comments
#: (all to one URL; the body's ``webhookEvent`` says which).
WEBHOOK_EVENTS = (
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
)


def app_base_url(host) -> str:
    return host.config.public_url.rstrip("/")


def app_key(host) -> str:
    """``[jira] app_key``, else ``{public_url's host}.trackbridge`` (a
    Connect key is unique per app: two hosts must not share one)."""
    configured = host.plugin_config("jira").get("app_key", "").strip()
    return configured or f"{urlsplit(host.config.public_url).hostname}.trackbridge"


def descriptor(host) -> dict:
    return {
        "key": app_key(host),
        "name": "trackbridge",
        "description": "Two-way sync between your application's issues and Jira.",
        "vendor": {"name": "trackbridge", "url": app_base_url(host)},
        "baseUrl": app_base_url(host),
        "authentication": {"type": "jwt"},
        "apiVersion": 1,
        "lifecycle": {
            "installed": PATHS["installed"],
            "uninstalled": PATHS["uninstalled"],
        },
        "apiMigrations": {"gdpr": True, "context-qsh": True, "signed-install": True},
        "scopes": ["read", "write", "act_as_user"],
        "modules": {
            # Where a Jira administrator gets the code that claims the site.
            "configurePage": {
                "key": "trackbridge-configure",
                "name": {"value": "Connect to trackbridge"},
                "url": PATHS["configure"],
            },
            "webhooks": [
                {"event": event, "url": PATHS["issue_updated"], "excludeBody": False}
                for event in WEBHOOK_EVENTS
            ],
        },
    }
