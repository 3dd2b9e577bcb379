"""The Jira Server setup steps, driven by the host's setup pipeline.

OAuth (an Application Link): ``installation_config`` → ``authorize`` (show
what to enter in Jira, get a request token, send the user to Jira, take the
callback or a pasted verifier) → ``webhook``. A personal access token skips
``authorize``: it is checked with ``GET /rest/api/2/myself`` right away.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from host.destinations import parse_allowed_hosts
from host.errors import SetupError
from host.types import (
    WEBHOOK_WAITING,
    Choice,
    FormField,
    IntegrationSpec,
    RotatedSecret,
    SetupStep,
    StepResult,
    StepView,
)
from plugins.jira_core import cache, webhook_mode
from plugins.jira_core.client import (
    JiraClient,
    JiraError,
    OAuthCredentials,
    TokenCredentials,
)
from plugins.jira_core.setup_failures import setup_failure
from plugins.jira_server import install

OAUTH = "/plugins/servlet/oauth"

CONFIG = SetupStep(name="installation_config", title="Connect to Jira Server")
AUTHORIZE = SetupStep(name="authorize", title="Create the Application Link and approve")
WEBHOOK = SetupStep(name="webhook", title="Receive Jira's updates")


def steps(state: Mapping[str, Any]) -> list[SetupStep]:
    if state.get("auth_mode") == "token":
        return [CONFIG, WEBHOOK]
    return [CONFIG, AUTHORIZE, WEBHOOK]


def callback_url(host) -> str:
    """Where Jira sends the user back; also what the Application Link needs."""
    return f"{host.config.public_url}/extensions/jira-server/setup/"


def view(host, step: str, state: Mapping[str, Any]) -> StepView:
    if step == CONFIG.name:
        return config_view(host)
    if step == AUTHORIZE.name:
        return authorize_view(host, state)
    return webhook_view(host, state)


def submit(host, step: str, state: Mapping[str, Any], data: Mapping[str, Any]):
    if step == CONFIG.name:
        return submit_config(host, data)
    if step == AUTHORIZE.name:
        return submit_authorize(host, state, data)
    return webhook_mode.submit(data)


# ---- installation_config ----


def config_view(host) -> StepView:
    return StepView(
        intro="Enter your Jira Server or Data Center's address and how trackbridge"
        " signs in: an Application Link (OAuth 1.0a) or a personal access token"
        " (Jira 8.14 and later).",
        fields=(
            FormField(
                name="url",
                label="Jira URL",
                type="url",
                required=True,
                placeholder="https://jira.example.com",
                help="The base URL of your Jira, including http:// or https://.",
            ),
            FormField(
                name="verify_ssl",
                label="Verify SSL",
                type="boolean",
                default=True,
                help="Check Jira's TLS certificate (recommended).",
            ),
            FormField(
                name="ca_bundle",
                label="CA certificate (PEM)",
                type="textarea",
                help="For a Jira with a self-signed or private certificate authority:"
                " paste its CA certificate instead of turning off verification.",
            ),
            FormField(
                name="auth_mode",
                label="Sign in with",
                type="select",
                default="oauth",
                choices=(
                    Choice(value="oauth", label="Application Link (OAuth 1.0a)"),
                    Choice(value="token", label="Personal access token"),
                ),
            ),
            FormField(
                name="consumer_key",
                label="Consumer key",
                show_if=("auth_mode", "oauth"),
                placeholder="trackbridge",
                help="The consumer key you will enter in Jira's Application Link.",
            ),
            FormField(
                name="private_key",
                label="Private key (PEM)",
                show_if=("auth_mode", "oauth"),
                type="textarea",
                placeholder="-----BEGIN RSA PRIVATE KEY-----",
                secret=True,
                help="An unencrypted RSA private key; its public key is shown next.",
            ),
            FormField(
                name="personal_access_token",
                label="Personal access token",
                show_if=("auth_mode", "token"),
                type="password",
                secret=True,
                help="Created in Jira under Profile → Personal Access Tokens.",
            ),
        ),
        # The callback URL is shown with the Application Link's other values
        # on the next step, in OAuth mode only.
    )


def allowed_hosts(host) -> tuple[str, ...]:
    """``[jira_server] allowed_hosts``: the only Jira hosts this host calls."""
    return parse_allowed_hosts(
        host.plugin_config("jira_server").get("allowed_hosts", "")
    )


def submit_config(host, data: Mapping[str, Any]) -> StepResult:
    config = install.validate_installation(dict(data), allowed_hosts(host))
    state: dict[str, Any] = {
        "url": config.url,
        "verify_ssl": config.verify_ssl,
        "ca_bundle": config.ca_bundle,
        "auth_mode": config.auth_mode,
        "webhook_secret": install.new_webhook_secret(),
    }
    if config.auth_mode == "token":
        state["personal_access_token"] = config.personal_access_token
        state.update(
            authenticated_user(client_for(host, state), "personal access token")
        )
    else:
        state["consumer_key"] = config.consumer_key
        state["private_key"] = config.private_key
    return StepResult(state=state)


# ---- authorize (OAuth only) ----


def authorize_view(host, state: Mapping[str, Any]) -> StepView:
    return StepView(
        intro="In Jira, go to Administration → Applications → Application links,"
        " create a link to this server, and under Incoming Authentication enter"
        " exactly these values. Then continue: Jira asks you to allow access.",
        instructions=(
            ("Consumer key", state["consumer_key"]),
            ("Consumer name", "trackbridge"),
            ("Public key", install.public_key_pem(state["private_key"])),
            ("Consumer callback URL", callback_url(host)),
        ),
        fields=(
            FormField(
                name="oauth_verifier",
                label="Verification code",
                help="Only if Jira showed you a code instead of sending you back here.",
            ),
        ),
    )


def submit_authorize(
    host, state: Mapping[str, Any], data: Mapping[str, Any]
) -> StepResult:
    # Jira's callback brings oauth_verifier; Sentry-era links send the token.
    verifier = str(data.get("oauth_verifier") or data.get("oauth_token") or "").strip()
    if state.get("request_token") and verifier:
        return exchange_verifier(host, state, verifier)
    return request_authorization(host, state)


def request_authorization(host, state: Mapping[str, Any]) -> StepResult:
    client = client_for(host, state, token=False)
    try:
        answer = client.request(
            "POST",
            f"{OAUTH}/request-token",
            form=True,
            oauth={"callback_uri": callback_url(host)},
        )
    except JiraError as ex:
        raise SetupError(
            f"Could not fetch a request token from Jira. {ex.detail}"
        ) from None
    if not answer.get("oauth_token") or not answer.get("oauth_token_secret"):
        raise SetupError(
            "Missing oauth_token: Jira answered the request-token call without a token."
        )
    query = urlencode({"oauth_token": answer["oauth_token"]})
    return StepResult(
        state={
            "request_token": answer["oauth_token"],
            "request_token_secret": answer["oauth_token_secret"],
        },
        redirect_url=f"{state['url']}{OAUTH}/authorize?{query}",
    )


def exchange_verifier(host, state: Mapping[str, Any], verifier: str) -> StepResult:
    client = client_for(
        host,
        {
            **state,
            "access_token": state["request_token"],
            "access_token_secret": state["request_token_secret"],
        },
    )
    try:
        answer = client.request(
            "POST", f"{OAUTH}/access-token", form=True, oauth={"verifier": verifier}
        )
    except JiraError as ex:
        raise SetupError(
            f"Could not fetch an access token from Jira. {ex.detail}"
        ) from None
    if not answer.get("oauth_token"):
        raise SetupError(
            "Could not fetch an access token from Jira: none was returned."
        )
    tokens = {
        "access_token": answer["oauth_token"],
        "access_token_secret": answer.get("oauth_token_secret", ""),
    }
    user = authenticated_user(client_for(host, {**state, **tokens}), "access token")
    return StepResult(
        state={**tokens, **user, "request_token": None, "request_token_secret": None}
    )


def authenticated_user(client: JiraClient, what: str) -> dict[str, str]:
    """Who Jira says these credentials belong to (``/myself``): the identity
    an integration is known by, so it cannot be borrowed.

    :raises SetupError: naming the class of failure (DNS, unreachable,
        timeout, TLS, refused destination, not Jira, credentials refused),
        never echoing what a server that is not Jira answered.
    """
    try:
        me = client.request("GET", "/rest/api/2/myself")
    except JiraError as ex:
        raise SetupError(setup_failure(client, ex, what)) from None
    key = me.get("key") or me.get("name")
    if not isinstance(key, str) or not key:
        raise SetupError(
            f"{client.netloc} did not answer like Jira: /rest/api/2/myself named"
            " no user. Check that the URL is your Jira's base URL."
        )
    name = me.get("name")
    return {"jira_user_key": key, "jira_user": name if isinstance(name, str) else key}


# ---- webhook ----


def integration_external_id(state: Mapping[str, Any]) -> str:
    """What Jira authenticated at this base URL: the token's user, or the
    Application Link's consumer key with the user who approved it."""
    if state["auth_mode"] == "oauth":
        return install.external_id(
            state["url"], "oauth", state["consumer_key"], state["jira_user_key"]
        )
    return install.external_id(state["url"], "token", state["jira_user_key"])


def webhook_view(host, state: Mapping[str, Any]) -> StepView:
    token = install.webhook_token(
        integration_external_id(state), webhook_secret(host, state)
    )
    return StepView(
        intro="trackbridge creates a webhook in Jira for issue changes; that needs"
        " a Jira administrator. Without one, choose manual and have an administrator"
        " add a webhook with this URL and these events (System → WebHooks).",
        fields=(webhook_mode.FIELD,),
        instructions=(
            ("Webhook URL", install.webhook_url(host.config.public_url, token)),
            ("Events", ", ".join(install.WEBHOOK_EVENTS)),
            ("In Jira", ADMIN_STEPS),
        ),
    )


#: What a Jira administrator does with the webhook URL in manual mode.
ADMIN_STEPS = (
    "System → WebHooks → Create a WebHook: paste the URL, tick the events"
    " above (Issue: created, updated, deleted; Comment: created, updated),"
    " leave “Exclude body” unticked and the JQL filter empty, and save."
)


# ---- building and finishing ----


def webhook_secret(host, state: Mapping[str, Any]) -> str:
    """The secret the webhook URL is signed with.

    Installing the same Jira again (re-authentication, or another
    organization) keeps the secret its existing webhook was made with.
    """
    existing = host.integrations.by_external_id(
        "jira_server", integration_external_id(state)
    )
    if existing is not None:
        stored = host.integrations.shared_credentials(existing).get("webhook_secret")
        if stored:
            return stored
    return state["webhook_secret"]


def build(host, state: Mapping[str, Any]) -> IntegrationSpec:
    credentials: dict[str, Any] = {}
    if state["auth_mode"] == "oauth":
        credentials.update(
            consumer_key=state["consumer_key"],
            private_key=state["private_key"],
            access_token=state["access_token"],
            access_token_secret=state["access_token_secret"],
        )
    else:
        credentials["personal_access_token"] = state["personal_access_token"]
    client = client_for(host, state)
    info: dict = {}
    with contextlib.suppress(JiraError):
        found = client.request("GET", "/rest/api/2/serverInfo")
        info = found if isinstance(found, dict) else {}
    version = info.get("version") if isinstance(info.get("version"), str) else None
    return IntegrationSpec(
        external_id=integration_external_id(state),
        name=integration_name(info.get("serverTitle"), state["url"]),
        metadata={
            "base_url": state["url"],
            "domain_name": urlsplit(state["url"]).netloc,
            "verify_ssl": state["verify_ssl"],
            "ca_bundle": state.get("ca_bundle"),
            "auth_mode": state["auth_mode"],
            "server_version": version,
            "webhook_mode": state.get("webhook_mode", "automatic"),
        },
        credentials=credentials,
        shared_credentials={"webhook_secret": webhook_secret(host, state)},
    )


WEBHOOK_KEYS = ("webhook_id", "webhook_self", "webhook_api", "webhook_status")


def post_install(host, spec: IntegrationSpec, state: Mapping[str, Any]) -> dict:
    """Create the Jira webhook (automatic mode), or wait for a manual one.

    An integration that already has its webhook (installed again) keeps it.
    """
    existing = host.integrations.by_external_id("jira_server", spec.external_id)
    if existing is not None and existing.metadata.get("webhook_status"):
        return {k: existing.metadata[k] for k in WEBHOOK_KEYS if k in existing.metadata}
    if state.get("webhook_mode") == "manual":
        return {"webhook_status": WEBHOOK_WAITING}
    client = client_for(host, state)
    install.require_admin(client, spec.name)
    token = install.webhook_token(
        spec.external_id, spec.shared_credentials["webhook_secret"]
    )
    created = install.create_webhook(
        client, install.webhook_url(host.config.public_url, token)
    )
    return {**created, "webhook_status": "created"}


def integration_name(server_title, url: str) -> str:
    """What people see an integration as: Jira's own title for itself and
    its host ("Acme Jira (jira.acme.com)"), never the account it uses."""
    netloc = urlsplit(url).netloc
    if isinstance(server_title, str) and server_title.strip():
        return f"{server_title.strip()[:100]} ({netloc})"
    return netloc


def client_for(
    host, state: Mapping[str, Any], *, token: bool = True, session=None
) -> JiraClient:
    """A client from pipeline state (or an integration's metadata + credentials)."""
    config = install.InstallationConfig(
        url=state["url"] if "url" in state else state["base_url"],
        verify_ssl=state.get("verify_ssl", True),
        ca_bundle=state.get("ca_bundle"),
        auth_mode=state.get("auth_mode", "oauth"),
    )
    verify = install.verify_option(config, host.config.data_dir / "ca")
    if config.auth_mode == "token":
        credentials = TokenCredentials(state["personal_access_token"])
    else:
        credentials = OAuthCredentials(
            state["consumer_key"],
            state["private_key"],
            token=state.get("access_token") if token else None,
            token_secret=state.get("access_token_secret") if token else None,
        )
    if session is None:
        session = host.outbound_session(allowed_hosts(host))
    client = JiraClient(config.url, credentials, verify=verify, session=session)
    client.observer = functools.partial(_observed, host)
    return client


def _observed(host, method: str, endpoint: str, status: str, seconds: float) -> None:
    labels = {"provider": "jira_server", "method": method, "endpoint": endpoint}
    host.metrics.count("trackbridge_tracker_requests_total", **labels, status=status)
    host.metrics.observe(
        "trackbridge_tracker_request_duration_seconds", seconds, **labels
    )


def integration_client(host, integration) -> JiraClient:
    """A client with the integration's stored credentials.

    A 401 from Jira marks the integration as needing re-authentication.
    """
    credentials = host.integrations.credentials(integration)
    session = cache.session_for(
        host,
        integration.id,
        lambda: host.outbound_session(allowed_hosts(host), integration=integration),
    )
    client = client_for(host, {**integration.metadata, **credentials}, session=session)
    client.on_unauthorized = lambda: host.integrations.mark_needs_reauth(integration)
    return client


def remove_webhook(host, integration, credentials: Mapping[str, Any]) -> bool:
    """Delete our webhook in Jira when the integration is removed."""
    client = client_for(host, {**integration.metadata, **credentials})
    return install.delete_webhook(client, dict(integration.metadata))


def current_webhook_url(host, integration, shared_credentials) -> str:
    """The URL Jira's webhook must call, with today's secret."""
    return install.webhook_url(
        host.config.public_url,
        install.webhook_token(
            integration.external_id, shared_credentials["webhook_secret"]
        ),
    )


def rotate_webhook_secret(host, integration) -> RotatedSecret:
    """A new webhook secret, and Jira's webhook moved to the URL it signs.

    Automatic mode creates the new webhook first and then deletes the old
    one, so an answer Jira refuses changes nothing; manual mode hands back
    the URL an administrator must enter.
    """
    secret = install.new_webhook_secret()
    url = install.webhook_url(
        host.config.public_url, install.webhook_token(integration.external_id, secret)
    )
    shared = {"webhook_secret": secret}
    metadata = dict(integration.metadata)
    if metadata.get("webhook_mode") == "manual" or not metadata.get("webhook_api"):
        return RotatedSecret(
            shared_credentials=shared,
            metadata={"webhook_status": WEBHOOK_WAITING},
            webhook_url=url,
            message="In Jira (System → WebHooks), replace the webhook's URL with"
            " the new one: the old URL no longer works.",
        )
    client = integration_client(host, integration)
    install.require_admin(client, integration.name)
    created = install.create_webhook(client, url)
    if install.delete_webhook(client, metadata):
        message = "Jira's webhook now uses the new secret."
    else:
        message = (
            "A new webhook was created in Jira, but the old one could not be"
            " deleted: delete it in Jira (System → WebHooks). It no longer works."
        )
    return RotatedSecret(
        shared_credentials=shared,
        metadata={**created, "webhook_status": "created"},
        message=message,
    )
