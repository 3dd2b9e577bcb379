"""Authenticating Jira's webhook requests.

The URL is ``/extensions/jira-server/issue-updated/{token}/`` where the token
is a JWT ``{"id": external_id}`` signed HS256 with the integration's webhook
secret. The checks run in a fixed order and each failure has its own
message; the token itself is never logged or echoed.
"""

from __future__ import annotations

import functools
import logging

import jwt

from host.errors import WebhookRejected
from host.types import WebhookRequest, WebhookVerdict
from plugins.jira_core import events as core

log = logging.getLogger(__name__)

PREFIX = "issue-updated/"


def authenticate(host, request: WebhookRequest) -> WebhookVerdict:
    if request.method != "POST" or not request.path.startswith(PREFIX):
        raise WebhookRejected("Unknown Jira Server URL.")
    token = request.path[len(PREFIX) :].strip("/").strip()
    return core.accept(host, integration_for_token(host, token), request.body)


def integration_for_token(host, token: str):
    """The integration a webhook token names, checked in Sentry's order."""
    if not token:
        raise _rejected("Token was empty")
    try:
        claims = _claims(token)
    except jwt.InvalidTokenError:
        raise _rejected("Could not decode JWT token") from None
    external_id = claims.get("id") if isinstance(claims, dict) else None
    if not isinstance(external_id, str) or not external_id:
        raise _rejected("Token did not contain `id`")
    integration = host.integrations.by_external_id("jira_server", external_id)
    if integration is None:
        raise _rejected("Could not find integration for token")
    secret = (
        host.integrations.shared_credentials(integration).get("webhook_secret") or ""
    )
    if not secret:  # no token can be valid (PyJWT refuses an empty key)
        raise _rejected("Could not validate JWT. Got no webhook secret", integration.id)
    timeless = not TIME_CLAIMS & claims.keys()
    problem = (_signature_problem if timeless else _check)(token, secret)
    if problem:
        raise _rejected(f"Could not validate JWT. Got {problem}", integration.id)
    return integration


#: Claims that make a token's validity depend on the time of the check.
TIME_CLAIMS = frozenset({"exp", "nbf", "iat"})


@functools.lru_cache(maxsize=4096)
def _claims(token: str) -> dict:
    """The token's claims, unverified (only to find the integration).

    Jira sends the same token with every delivery, so both this and the
    signature check are kept per token: the check is pure when the claims
    say nothing about time, and the secret is part of its key.
    """
    return jwt.decode(token, options={"verify_signature": False})


def _check(token: str, secret: str) -> str | None:
    """The name of what is wrong with the token's HS256 signature, if anything."""
    try:
        jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.InvalidTokenError as ex:
        return type(ex).__name__
    return None


_signature_problem = functools.lru_cache(maxsize=4096)(_check)


def _rejected(message: str, integration_id: int | None = None) -> WebhookRejected:
    log.warning(
        "jira_server webhook token rejected: %s (integration %s)",
        message,
        integration_id,
    )
    return WebhookRejected(message)
