"""Jira Cloud's webhooks to the Connect app: ``POST
/extensions/jira/issue-updated/`` with ``Authorization: JWT <token>``, HS256
with the site's shared secret and a qsh over this request.

Token problems are 409 (as Atlassian's own apps and Sentry answer), each
with its detail; a body that is not a JSON object is 400. An authentic
webhook from a site no organization has claimed yet names no integration
(acknowledged, not stored).
"""

from __future__ import annotations

from host.errors import WebhookRejected
from host.types import WebhookRequest, WebhookVerdict
from plugins.jira import connect
from plugins.jira.connect import TokenRefused
from plugins.jira.descriptor import PATHS
from plugins.jira.tenants import INSTALLED, TenantStore
from plugins.jira_core import events as core

KEY = "jira"
PATH = "issue-updated"


class TokenConflict(WebhookRejected):
    """A Connect token that is missing, not this site's, or for another
    request."""

    status = 409
    #: At a control node, as Sentry's Jira Cloud parser answers.
    routed_status = 400


def authenticate(host, request: WebhookRequest) -> WebhookVerdict:
    if request.method != "POST" or request.path.strip("/") != PATH:
        raise WebhookRejected("Unknown Jira Cloud URL.")
    try:
        token = connect.token_from_header(request.headers.get("authorization"))
        tenants = TenantStore(host)
        tenant = tenants.get(connect.unverified_issuer(token))
        if tenant is None:
            raise TokenRefused("No site installed the app with this token's issuer.")
        if tenant.status != INSTALLED:
            raise TokenRefused("This site uninstalled the app.")
        expected = connect.query_hash(
            "POST", PATHS["issue_updated"], _all_values(request.query)
        )
        connect.verify_shared_secret(
            token, tenants.shared_secret(tenant.client_key), expected
        )
    except TokenRefused as ex:
        raise TokenConflict(ex.detail) from None
    integration = host.integrations.by_external_id(KEY, tenant.client_key)
    return core.accept(host, integration, request.body)


def _all_values(query) -> dict[str, list[str]]:
    return {
        k: [str(x) for x in v] if isinstance(v, list) else [str(v)]
        for k, v in query.items()
    }
