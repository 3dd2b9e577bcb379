"""Jira Cloud without the app: a site URL, an Atlassian account's email and
API token (HTTP basic auth), and an admin webhook signed with a secret.

The credentials are checked with ``GET /rest/api/3/myself``. Jira signs
each delivery of a webhook created with a ``secret`` with ``X-Hub-Signature:
sha256=<hex HMAC-SHA256 of the raw body>``; the webhook is created through
``POST /rest/webhooks/1.0/webhook`` when the account is a site
administrator, or a Jira administrator adds it by hand with the URL and
secret the setup shows (manual mode, as for Jira Server).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from host.errors import IntegrationError, SetupError, ValidationError, WebhookRejected
from host.types import (
    WEBHOOK_WAITING,
    FormField,
    IntegrationSpec,
    RotatedSecret,
    SetupStep,
    StepResult,
    StepView,
    WebhookVerdict,
)
from plugins.jira.site_url import acceptable as site_url_acceptable
from plugins.jira_core import events as core
from plugins.jira_core import webhook_mode
from plugins.jira_core.client import BasicCredentials, JiraClient, JiraError, jira_path
from plugins.jira_core.setup_failures import setup_failure

MODE = "api_token"
WEBHOOK_STEP = SetupStep(name="webhook", title="Receive Jira's updates")
WEBHOOKS_API = "/rest/webhooks/1.0/webhook"
WEBHOOK_EVENTS = (
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
)
#: The webhook URL's path under /extensions/jira/.
PATH_PREFIX = "webhook/"
SIGNATURE = "x-hub-signature"


def fields() -> tuple[FormField, ...]:
    """The first step's fields for this path (shown when it is chosen)."""
    shown = ("auth_mode", MODE)
    return (
        FormField(
            name="site_url",
            label="Site URL",
            type="url",
            placeholder="https://your-site.atlassian.net",
            show_if=shown,
        ),
        FormField(
            name="email",
            label="Atlassian account email",
            show_if=shown,
            help="The account trackbridge acts as in Jira.",
        ),
        FormField(
            name="api_token",
            label="API token",
            type="password",
            secret=True,
            show_if=shown,
            help="Made at id.atlassian.com → Security → API tokens.",
        ),
    )


def client(base_url: str, email: str, token: str, session) -> JiraClient:
    return JiraClient(base_url, BasicCredentials(email, token), session=session)


def integration_client(
    host, integration, credentials: Mapping[str, Any] | None = None, session=None
) -> JiraClient:
    """The account's client for an installed API-token integration (its
    stored credentials unless the caller read them already)."""
    credentials = credentials or host.integrations.credentials(integration)
    return client(
        integration.metadata["base_url"],
        credentials["email"],
        credentials["api_token"],
        session or host.outbound_session(integration=integration),
    )


def _webhook_request(host, integration_external_id: str, secret: str) -> dict:
    """The body that creates our signed webhook in Jira."""
    return {
        "name": "trackbridge",
        "url": webhook_url(host, integration_external_id),
        "events": list(WEBHOOK_EVENTS),
        "excludeBody": False,
        "secret": secret,
    }


def submit(host, data: Mapping[str, Any]) -> StepResult:
    """Check the site and the account; the state for the next step.

    :raises ValidationError: a field is missing or not a site URL.
    :raises SetupError: Jira refused the credentials or did not answer.
    """
    site_url = str(data.get("site_url", "")).strip().rstrip("/")
    email = str(data.get("email", "")).strip()
    token = str(data.get("api_token", "")).strip()
    errors = {}
    parts = urlsplit(site_url)
    if not site_url_acceptable(host, site_url):
        errors["site_url"] = ["Enter the site's https:// URL."]
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        errors["site_url"] = [
            "Enter the site's address alone, such as https://acme.atlassian.net."
        ]
    if "@" not in email:
        errors["email"] = ["Enter the Atlassian account's email."]
    if not token:
        errors["api_token"] = ["Paste an API token of that account."]
    if errors:
        raise ValidationError(errors)
    jira = client(site_url, email, token, host.outbound_session())
    try:
        me = jira.request("GET", "/rest/api/3/myself")
    except JiraError as ex:
        raise SetupError(
            setup_failure(
                jira,
                ex,
                "email and API token",
                "Check both: an API token belongs to one account.",
            )
        ) from None
    account_id = me.get("accountId")
    if not isinstance(account_id, str) or not account_id:
        raise SetupError("Jira's answer did not name the account (no accountId).")
    return StepResult(
        state={
            "site_url": site_url,
            "email": email,
            "api_token": token,
            "account_id": account_id,
            "webhook_secret": secrets.token_urlsafe(32),
        }
    )


def external_id(state: Mapping[str, Any]) -> str:
    """The site and the account: the same pair installed again is the same
    integration (its credentials replaced)."""
    return f"{urlsplit(state['site_url']).netloc}:{state['account_id']}"


def webhook_url(host, integration_external_id: str) -> str:
    return (
        f"{host.config.public_url.rstrip('/')}/extensions/jira/{PATH_PREFIX}"
        f"{quote(integration_external_id, safe='')}/"
    )


def webhook_view(host, state: Mapping[str, Any]) -> StepView:
    return StepView(
        intro="trackbridge creates a webhook in Jira for issue changes, signed with"
        " a secret; that needs a site administrator. Otherwise choose manual and have"
        " an administrator add it (Settings → System → WebHooks) with this URL,"
        " secret and events.",
        fields=(webhook_mode.FIELD,),
        instructions=(
            ("Webhook URL", webhook_url(host, external_id(state))),
            ("Secret", state["webhook_secret"]),
            ("Events", ", ".join(WEBHOOK_EVENTS)),
        ),
    )


def build(state: Mapping[str, Any]) -> IntegrationSpec:
    netloc = urlsplit(state["site_url"]).netloc
    return IntegrationSpec(
        external_id=external_id(state),
        name=f"Jira Cloud ({netloc})",
        metadata={
            "base_url": state["site_url"],
            "domain_name": netloc,
            "auth": MODE,
            "account_id": state["account_id"],
            "webhook_mode": state.get("webhook_mode", "automatic"),
        },
        credentials={"email": state["email"], "api_token": state["api_token"]},
        shared_credentials={"webhook_secret": state["webhook_secret"]},
    )


def create_webhook(host, spec: IntegrationSpec, state: Mapping[str, Any]) -> dict:
    """Create the signed webhook (automatic), or wait for the manual one."""
    if state.get("webhook_mode") == "manual":
        return {"webhook_status": WEBHOOK_WAITING}
    jira = client(
        state["site_url"], state["email"], state["api_token"], host.outbound_session()
    )
    body = _webhook_request(
        host, spec.external_id, spec.shared_credentials["webhook_secret"]
    )
    try:
        created = jira.request("POST", WEBHOOKS_API, json_body=body)
    except JiraError as ex:
        if ex.http_status in (401, 403):
            raise SetupError(
                "Jira did not let this account create webhooks: it is not a site"
                " administrator. Choose “A Jira administrator adds it” instead."
            ) from None
        raise SetupError(f"Could not create the webhook in Jira: {ex}") from None
    return {"webhook_id": _webhook_id(created), "webhook_status": "created"}


def rotate_webhook_secret(host, integration) -> RotatedSecret:
    """A new secret: a new signed webhook made first, then the old one
    deleted (so a refusal changes nothing). A webhook an administrator
    added by hand gets its new secret from running the setup again, which
    shows it.

    :raises ValidationError: a webhook added by hand.
    :raises IntegrationError: Jira refused the new webhook.
    """
    if not integration.metadata.get("webhook_id"):
        raise ValidationError(
            {},
            "This webhook was added by hand in Jira: install again (trackbridge"
            " install jira) to get a new secret and enter it there.",
        )
    credentials = host.integrations.credentials(integration)
    secret = secrets.token_urlsafe(32)
    jira = integration_client(host, integration, credentials)
    try:
        created = jira.request(
            "POST",
            WEBHOOKS_API,
            json_body=_webhook_request(host, integration.external_id, secret),
        )
    except JiraError as ex:
        raise IntegrationError(f"Jira refused the new webhook: {ex}") from None
    delete_webhook(host, integration, credentials)
    return RotatedSecret(
        shared_credentials={"webhook_secret": secret},
        metadata={"webhook_id": _webhook_id(created)},
        message="Jira's webhook now uses the new secret.",
    )


def _webhook_id(created: Mapping[str, Any]) -> str | None:
    webhook_self = created.get("self") if isinstance(created.get("self"), str) else ""
    return webhook_self.rstrip("/").rsplit("/", 1)[-1] or None


def delete_webhook(host, integration, credentials: Mapping[str, Any]) -> bool:
    webhook_id = integration.metadata.get("webhook_id")
    if not webhook_id:
        return True  # manual: nothing of ours to delete
    jira = integration_client(host, integration, credentials)
    try:
        jira.request("DELETE", jira_path(WEBHOOKS_API + "/{}", webhook_id))
    except JiraError as ex:
        return ex.http_status == 404
    return True


def authenticate(host, request) -> WebhookVerdict:
    """A signed admin webhook: the integration its URL names, if the body's
    signature is that integration's secret's."""
    wanted = unquote(request.path[len(PATH_PREFIX) :].strip("/"))
    integration = host.integrations.by_external_id("jira", wanted) if wanted else None
    if integration is None or integration.metadata.get("auth") != MODE:
        raise WebhookRejected("Unknown Jira Cloud webhook URL.")
    secret = host.integrations.shared_credentials(integration).get("webhook_secret")
    given = request.headers.get(SIGNATURE, "")
    expected = (
        "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    )
    if not given:
        raise WebhookRejected("The webhook is not signed (no X-Hub-Signature header).")
    if not hmac.compare_digest(given.strip().lower(), expected):
        raise WebhookRejected("The webhook's signature does not match its secret.")
    return core.accept(host, integration, request.body)
