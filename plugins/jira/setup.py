"""Installing Jira Cloud: one step to connect the site, either through the
app (the claim code of :mod:`plugins.jira.claim`) or with an account's API
token (:mod:`plugins.jira.api_token`, which adds a webhook step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import SetupError, ValidationError
from host.types import Choice, FormField, SetupStep, StepView
from plugins.jira import api_token, claim, site
from plugins.jira_core import webhook_mode
from plugins.jira_core.client import JiraError

CONNECT = SetupStep(name="connect", title="Connect a Jira Cloud site")
APP = "app"
MODES = (
    Choice(value=APP, label="The trackbridge app (a claim code from Jira)"),
    Choice(value=api_token.MODE, label="An Atlassian account's API token"),
)


def steps(state: Mapping[str, Any]) -> list[SetupStep]:
    if state.get("auth_mode") == api_token.MODE:
        return [CONNECT, api_token.WEBHOOK_STEP]
    return [CONNECT]


def view(host, step: str, state: Mapping[str, Any]) -> StepView:
    if step == api_token.WEBHOOK_STEP.name:
        return api_token.webhook_view(host, state)
    return StepView(
        intro="Connect through the trackbridge app installed in Jira Cloud (it"
        " needs nothing else), or with an Atlassian account's API token and a"
        " webhook (no app).",
        fields=(
            FormField(
                name="auth_mode",
                label="Connect with",
                type="select",
                default=APP,
                choices=MODES,
            ),
            claim.field(),
            *api_token.fields(),
        ),
    )


def submit(host, step: str, state: Mapping[str, Any], data: Mapping[str, Any]):
    # A step's answer depends on its own data only (``state`` is unused).
    if step == api_token.WEBHOOK_STEP.name:
        return webhook_mode.submit(data)
    mode = str(data.get("auth_mode") or APP)
    if mode == APP:
        return claim.submit(host, data)
    if mode == api_token.MODE:
        result = api_token.submit(host, data)
        return type(result)(state={"auth_mode": mode, **result.state})
    raise ValidationError({"auth_mode": ["Choose the app or an API token."]})


def build(host, state: Mapping[str, Any]):
    if state.get("auth_mode") == api_token.MODE:
        return api_token.build(state)
    return claim.build(host, state)


def post_install(host, spec, state: Mapping[str, Any]) -> dict:
    if state.get("auth_mode") == api_token.MODE:
        return api_token.create_webhook(host, spec, state)
    # Through the app: ask the site who the app is (its own changes come
    # back as webhooks and must be told apart).
    client = site.site_client(host, spec.metadata["base_url"], spec.external_id)
    try:
        me = client.request("GET", "/rest/api/3/myself")
    except JiraError as ex:
        raise SetupError(f"The Jira Cloud site did not answer the app: {ex}") from None
    account_id = me.get("accountId")
    return {"account_id": account_id} if isinstance(account_id, str) else {}
