"""No Jira Cloud secret in any output: the site's shared secret, the tokens
Jira and Atlassian sign, a claim code once used, an API token and an admin
webhook's secret never appear in logs, API answers or error answers."""

from __future__ import annotations

import json
import logging

from tests.jira_cloud.conftest import (
    SHARED_SECRET,
    claim_code,
    install_token,
    lifecycle_body,
    site_token,
)
from tests.jira_cloud.test_api_token import EMAIL, TOKEN, install


def test_no_cloud_secret_reaches_any_output(
    cloud_host, cloud_client, org, installed, atlassian_key, caplog, auth
):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    secrets = [SHARED_SECRET, TOKEN]

    # The app: an install again (a refused one too), the configure page,
    # the claim, webhooks good and forged.
    good = install_token(atlassian_key[0])
    secrets.append(good)
    for authorization in (good, good + "x", "garbage"):
        outputs.append(
            cloud_client.simulate_post(
                "/extensions/jira/installed/",
                json=lifecycle_body(baseUrl=installed.url, sharedSecret=SHARED_SECRET),
                headers={"Authorization": f"JWT {authorization}"},
            ).text
        )
    code = claim_code(cloud_client)
    secrets.append(code)
    status = cloud_host.setup.start(org, "jira")
    cloud_host.setup.submit(org, status.pipeline_id, {"claim_code": code})
    hook = site_token("POST", "/extensions/jira/issue-updated")
    secrets.append(hook)
    for authorization in (hook, hook + "x"):
        outputs.append(
            cloud_client.simulate_post(
                "/extensions/jira/issue-updated/",
                body=json.dumps(
                    {"issue": {"key": "APP-1"}, "changelog": {"items": [1]}}
                ),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"JWT {authorization}",
                },
            ).text
        )

    # The API token path, with its webhook secret.
    installed.api_tokens[EMAIL] = TOKEN
    api_integration, shown = install(cloud_host, org, installed, mode="manual")
    secrets.append(shown["Secret"])
    for path in (
        "/integrations",
        *(f"/integrations/{i}" for i in (1, api_integration.id)),
    ):
        outputs.append(
            cloud_client.simulate_get(
                f"/api/0/organizations/acme{path}", headers=auth
            ).text
        )
    outputs.append(cloud_client.simulate_get("/extensions/jira/descriptor/").text)

    outputs.extend(record.getMessage() for record in caplog.records)
    outputs.extend(str(record.args) for record in caplog.records)
    leaked = [s[:12] for s in secrets for text in outputs if s in text]
    assert leaked == [], f"secrets in output: {leaked}"
    # A used code is not kept, even hashed: it cannot claim again.
    stored = cloud_host.store.db.execute(
        "SELECT claim_hash FROM jira_tenants"
    ).fetchone()
    assert stored[0] is None


def test_another_organization_cannot_use_a_claimed_sites_code_or_objects(
    cloud_host, cloud_client, org, claimed
):
    from tests.html_forms import ConsoleBrowser

    beta = cloud_host.organizations.create("beta")
    token = cloud_host.organizations.create_token(beta)
    answer = cloud_client.simulate_get(
        f"/api/0/organizations/beta/integrations/{claimed.id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 404
    theirs = ConsoleBrowser(cloud_client)
    theirs.get("/console/beta", link=cloud_host.console.create_link(beta))
    for action in ("settings", "webhook-url", "remove"):
        path = f"/console/beta/integrations/{claimed.id}/{action}"
        assert theirs.post(path, {}).status_code == 404
    assert cloud_host.integrations.list(org)
