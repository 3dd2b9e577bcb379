"""Jira Server and Jira Cloud in one host: each gets only its own webhooks
and jobs, and the console shows both."""

from __future__ import annotations

import json

import pytest

from tests.conftest import linked_group
from tests.html_forms import ConsoleBrowser
from tests.jira_cloud.conftest import site_token
from tests.jira_server.conftest import install_svc, jira, key_pair, webhook_token  # noqa: F401


@pytest.fixture
def both(cloud_host, org, claimed, jira):  # noqa: F811
    from plugins.jira_server import plugin

    cloud_host.pm.register(plugin, name="jira_server")
    cloud_host.providers["jira_server"] = plugin.PROVIDER
    server = install_svc(cloud_host, org, jira)
    for integration in (server, claimed):
        cloud_host.integrations.update_config(
            org, integration.id, {"sync_status_reverse": True}
        )
    return {
        "server": (server, linked_group(cloud_host, org, server.id, "PRJ-1", "10001")),
        "cloud": (claimed, linked_group(cloud_host, org, claimed.id, "APP-1", "10100")),
    }


def status_change(key, issue_id, to):
    return {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1_764_600_000_000,
        "issue": {"id": issue_id, "key": key, "fields": {}},
        "changelog": {"items": [{"field": "status", "from": "1", "to": to}]},
    }


def test_each_provider_gets_only_its_own_webhooks(
    cloud_client,
    cloud_host,
    org,
    both,
    run_jobs,
    jira,  # noqa: F811
):
    (_, server_group), (cloud, cloud_group) = both["server"], both["cloud"]
    to_cloud = cloud_client.simulate_post(
        "/extensions/jira/issue-updated/",
        body=json.dumps(status_change("APP-1", "10100", "10001")),
        headers={
            "Content-Type": "application/json",
            "Authorization": "JWT "
            + site_token("POST", "/extensions/jira/issue-updated"),
        },
    )
    assert to_cloud.json == {"received": True}
    # Cloud's token at Server's URL, and the reverse, are refused.
    assert (
        cloud_client.simulate_post(
            f"/extensions/jira-server/issue-updated/{webhook_token()}/",
            body=json.dumps(status_change("APP-1", "10100", "10001")),
            headers={"Content-Type": "application/json"},
        ).json
        == {"received": False}  # Server's integration links no APP-1
    )
    run_jobs()
    assert cloud_host.groups.get(org, cloud_group.id).status == "resolved"
    assert cloud_host.groups.get(org, server_group.id).status == "unresolved"
    deliveries = cloud_host.store.db.execute(
        "SELECT integration_id FROM webhook_deliveries"
    ).fetchall()
    assert [row[0] for row in deliveries] == [cloud.id]


def test_the_console_shows_both(cloud_client, cloud_host, org, both):
    browser = ConsoleBrowser(cloud_client)
    browser.get("/console/acme", link=cloud_host.console.create_link(org))
    page = browser.get("/console/acme").text
    assert "(Jira Server, integration" in page and "(Jira Cloud, integration" in page
    for integration, _ in both.values():
        settings = browser.post(
            f"/console/acme/integrations/{integration.id}/settings", {}
        )
        assert settings.status_code == 303
    # The app's webhooks go to the descriptor's URL: nothing of its own to show.
    cloud, _ = both["cloud"]
    shown = browser.post(f"/console/acme/integrations/{cloud.id}/webhook-url", {})
    assert shown.status_code == 200
    assert "has no webhook URL of its own to show" in shown.text
    assert "<pre>" not in shown.text
