"""Calling one Jira Cloud site, and what parsing asks it.

A claimed site is called through the Connect app: each request carries a
fresh JWT signed with the site's shared secret (kept in the tenant's row,
which a re-install updates). The questions of :mod:`plugins.jira_core.events`
get Cloud's answers: users are accountIds; an email the webhook hid is
asked of ``/rest/api/3/user/email`` only where ``[jira] use_email_scope``
says Atlassian granted the app that scope; comments are ADF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import IntegrationError, RetryLater
from plugins.jira import adf, api_token, connect
from plugins.jira.descriptor import app_key
from plugins.jira.tenants import TenantStore
from plugins.jira_core import cache
from plugins.jira_core.client import (
    ConnectCredentials,
    JiraClient,
    JiraError,
    dicts,
)
from plugins.jira_core.events import Questions


def client_for(host, integration) -> JiraClient:
    """A client for a connected site: signing as the Connect app, or with
    the account's API token."""
    session = cache.session_for(
        host, integration.id, lambda: host.outbound_session(integration=integration)
    )
    if integration.metadata.get("auth") == api_token.MODE:
        jira = api_token.integration_client(host, integration, session=session)
        jira.on_unauthorized = lambda: host.integrations.mark_needs_reauth(integration)
        return jira
    return site_client(
        host, integration.metadata["base_url"], integration.external_id, session
    )


def site_client(host, base_url: str, client_key: str, session=None) -> JiraClient:
    """A client for the site of tenant ``client_key`` at ``base_url``."""
    secret = TenantStore(host).shared_secret(client_key)
    if secret is None:
        raise IntegrationError("This Jira Cloud site no longer has the app installed.")
    key = app_key(host)
    return JiraClient(
        base_url,
        ConnectCredentials(
            app_key=key,
            shared_secret=secret,
            sign=lambda method, url: connect.sign_request(
                key, secret, method, url, base_url
            ),
        ),
        session=session or host.outbound_session(),
    )


class CloudQuestions(Questions):
    def __init__(self, host, integration) -> None:
        self.host = host
        self.integration = integration

    def email_of(self, user: Mapping[str, Any]) -> str | None:
        account_id = user.get("accountId")
        scope = self.host.plugin_config("jira").get("use_email_scope", "")
        if not account_id or scope.strip().lower() not in ("1", "true", "yes", "on"):
            return None  # an assignee no member can be matched to
        try:
            found = client_for(self.host, self.integration).request(
                "GET", "/rest/api/3/user/email", params={"accountId": account_id}
            )
        except JiraError as ex:
            if ex.http_status in (403, 404):
                return None
            raise RetryLater(f"Looking up a Jira user's email: {ex}") from None
        email = found.get("email")
        return email if isinstance(email, str) and email else None

    def done_status_ids(self) -> frozenset[str]:
        def load() -> frozenset[str]:
            statuses = client_for(self.host, self.integration).request(
                "GET", "/rest/api/3/status", expect=list
            )
            return frozenset(
                str(s["id"])
                for s in dicts(statuses)
                if s.get("id") is not None
                and isinstance(s.get("statusCategory"), dict)
                and s["statusCategory"].get("key") == "done"
            )

        try:
            return cache.for_host(self.host).get_or_load(
                (cache.scope(self.integration), "statuses:done"), load
            )
        except JiraError as ex:
            raise RetryLater(f"Reading Jira's statuses: {ex}", ex.retry_after) from None

    def made_by_integration(self, user: Any) -> bool | None:
        ours = self.integration.metadata.get("account_id")
        if not ours or not isinstance(user, dict) or not user.get("accountId"):
            return None
        return user["accountId"] == ours

    def comment_text(self, body: Any) -> str:
        return adf.to_text(body)
