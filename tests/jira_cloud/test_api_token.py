"""Jira Cloud without the app: an account's API token (basic auth) and an
admin webhook signed with a secret (X-Hub-Signature), created for a site
administrator or added by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote

import pytest

from host.errors import SetupError, ValidationError
from tests.conftest import linked_group

EMAIL = "bot@acme.example"
TOKEN = "an-atlassian-api-token"


@pytest.fixture
def account(site):
    site.api_tokens[EMAIL] = TOKEN
    return site


def install(host, org, site, mode="automatic", **changes):
    status = host.setup.start(org, "jira")
    step = host.setup.submit(
        org,
        status.pipeline_id,
        {
            "auth_mode": "api_token",
            "site_url": site.url,
            "email": EMAIL,
            "api_token": TOKEN,
            **changes,
        },
    )
    assert step.step.name == "webhook"
    shown = dict(step.view.instructions)
    done = host.setup.submit(org, status.pipeline_id, {"webhook_mode": mode})
    assert done.complete
    integration, _ = host.integrations.get(org, done.integration_id)
    return integration, shown


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_an_administrator_gets_the_signed_webhook_made(cloud_host, org, account):
    account.admins.add(EMAIL)
    integration, _ = install(cloud_host, org, account)
    assert integration.metadata["auth"] == "api_token"
    assert integration.metadata["webhook_status"] == "created"
    [webhook] = account.webhooks.values()
    secret = cloud_host.integrations.shared_credentials(integration)["webhook_secret"]
    assert webhook["secret"] == secret and webhook["excludeBody"] is False
    assert webhook["url"] == (
        "http://tb.example/extensions/jira/webhook/"
        + quote(integration.external_id, safe="")
        + "/"
    )
    assert cloud_host.integrations.webhook_url(integration) == webhook["url"]
    # Removing the integration deletes it in Jira.
    cloud_host.integrations.remove(org, integration.id)
    assert account.webhooks == {}


def test_an_account_that_is_not_an_administrator_is_told_to_go_manual(
    cloud_host, org, account
):
    with pytest.raises(SetupError, match="not a site administrator"):
        install(cloud_host, org, account)
    integration, shown = install(cloud_host, org, account, mode="manual")
    assert integration.metadata["webhook_status"] == "waiting for first webhook"
    assert (
        shown["Secret"]
        == (cloud_host.integrations.shared_credentials(integration)["webhook_secret"])
    )
    assert account.webhooks == {}


def test_refused_credentials_and_bad_fields_say_so(cloud_host, org, account):
    status = cloud_host.setup.start(org, "jira")
    with pytest.raises(SetupError, match="refused the email and API token"):
        cloud_host.setup.submit(
            org,
            status.pipeline_id,
            {
                "auth_mode": "api_token",
                "site_url": account.url,
                "email": EMAIL,
                "api_token": "wrong",
            },
        )
    with pytest.raises(ValidationError) as refused:
        cloud_host.setup.submit(
            org,
            status.pipeline_id,
            {
                "auth_mode": "api_token",
                "site_url": "ftp://x",
                "email": "x",
                "api_token": "",
            },
        )
    assert set(refused.value.errors) == {"site_url", "email", "api_token"}
    account.refused.clear()  # the wrong token was refused on purpose


def test_signed_deliveries_are_applied_and_others_refused(
    cloud_host, cloud_client, org, account, run_jobs
):
    integration, shown = install(cloud_host, org, account, mode="manual")
    cloud_host.integrations.update_config(
        org, integration.id, {"sync_status_reverse": True}
    )
    group = linked_group(cloud_host, org, integration.id, "APP-1", "10100")
    path = shown["Webhook URL"].removeprefix("http://tb.example")
    body = json.dumps(
        {
            "webhookEvent": "jira:issue_updated",
            "timestamp": 1_764_600_000_000,
            "issue": {"id": "10100", "key": "APP-1", "fields": {}},
            "changelog": {"items": [{"field": "status", "from": "1", "to": "10001"}]},
        }
    ).encode()

    def post(signature=None, url=path):
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        return cloud_client.simulate_post(url, body=body, headers=headers)

    assert post().status_code == 400  # unsigned
    assert post(signed("another secret", body)).status_code == 400
    assert (
        post(
            signed(shown["Secret"], body), "/extensions/jira/webhook/nope/"
        ).status_code
        == 400
    )
    accepted = post(signed(shown["Secret"], body))
    assert accepted.status_code == 200 and accepted.json == {"received": True}
    run_jobs()
    assert cloud_host.groups.get(org, group.id).status == "resolved"
    refreshed = cloud_host.store.integrations.get(integration.id)
    assert refreshed.metadata["webhook_status"] == "receiving"
    # Outbound calls use the account's API token.
    assert any(r[3] == {"basic": EMAIL} for r in account.requests)


def test_a_new_webhook_secret_replaces_the_webhook_in_jira(
    cloud_host, cloud_client, org, account
):
    account.admins.add(EMAIL)
    integration, _ = install(cloud_host, org, account)
    [old_id] = account.webhooks
    old_secret = cloud_host.integrations.shared_credentials(integration)[
        "webhook_secret"
    ]
    rotated = cloud_host.integrations.rotate_webhook_secret(integration)
    assert rotated.message == "Jira's webhook now uses the new secret."
    [(new_id, webhook)] = account.webhooks.items()
    assert new_id != old_id
    new_secret = cloud_host.integrations.shared_credentials(integration)[
        "webhook_secret"
    ]
    assert webhook["secret"] == new_secret != old_secret
    assert (
        cloud_host.store.integrations.get(integration.id).metadata["webhook_id"]
        == new_id
    )
    # A delivery signed with the old secret is refused now.
    body = b'{"issue": {"key": "APP-1"}, "changelog": {"items": [1]}}'
    path = webhook["url"].removeprefix("http://tb.example")
    stale = cloud_client.simulate_post(
        path, body=body, headers={"X-Hub-Signature": signed(old_secret, body)}
    )
    assert stale.status_code == 400


def test_a_hand_made_webhook_is_told_to_install_again(cloud_host, org, account):
    integration, _ = install(cloud_host, org, account, mode="manual")
    with pytest.raises(ValidationError, match="added by hand"):
        cloud_host.integrations.rotate_webhook_secret(integration)
