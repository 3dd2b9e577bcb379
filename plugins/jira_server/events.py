"""Jira Server's answers to what reading its webhooks asks
(:mod:`plugins.jira_core.events`): users by name or key, ``GET
/rest/api/2/user`` for a hidden email (where Sentry gives up), the ``done``
statuses (cached), whether a change was the integration's own account's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from host.errors import RetryLater
from host.types import (
    Integration,
)
from plugins.jira_core import cache
from plugins.jira_core.client import JiraError, dicts
from plugins.jira_core.events import Questions, _dict, _text
from plugins.jira_server import install
from plugins.jira_server.setup import integration_client

log = logging.getLogger(__name__)


class ServerQuestions(Questions):
    """Jira Server's answers: users by key or name, through its REST API."""

    def __init__(self, host, integration: Integration) -> None:
        self.host = host
        self.integration = integration

    def made_by_integration(self, user: Any) -> bool | None:
        return made_by_integration(self.integration, user)

    def email_of(self, user: Mapping[str, Any]) -> str | None:
        """Ask Jira for a user's email the webhook did not carry."""
        if user.get("key"):
            params = {"key": user["key"]}
        elif user.get("name"):
            params = {"username": user["name"]}
        else:
            return None
        try:
            found = self._client().request("GET", "/rest/api/2/user", params=params)
        except JiraError as ex:
            if ex.http_status in (403, 404):
                return None  # hidden or gone: the host records "no visible email"
            raise RetryLater(f"Looking up a Jira user: {ex}", ex.retry_after) from None
        return _dict(found).get("emailAddress") or None

    def done_status_ids(self) -> frozenset[str]:
        """Ids of the statuses in Jira's ``done`` category (cached)."""

        def load() -> frozenset[str]:
            statuses = self._client().request("GET", "/rest/api/2/status", expect=list)
            return frozenset(
                str(s["id"])
                for s in dicts(statuses)
                if s.get("id") is not None
                and _dict(s.get("statusCategory")).get("key") == "done"
            )

        try:
            return cache.for_host(self.host).get_or_load(
                (cache.scope(self.integration), "statuses:done"), load
            )
        except JiraError as ex:
            raise RetryLater(f"Reading Jira's statuses: {ex}", ex.retry_after) from None

    def _client(self):
        return integration_client(self.host, self.integration)


def made_by_integration(integration: Integration, user: Any) -> bool | None:
    """Whether the Jira user who made a change (a delivery's ``user``, a
    history's ``author``) is the integration's own account; ``None`` when
    either is unknown."""
    account = install.account_key(integration.external_id)
    if account is None or not isinstance(user, dict):
        return None
    names = {_text(user.get("key")), _text(user.get("name"))} - {None}
    if not names:
        return None
    return account.lower() in {name.lower() for name in names}
