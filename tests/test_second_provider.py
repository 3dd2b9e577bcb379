"""A second provider, installed as its own distribution, beside Jira Server.

It is discovered through its entry point (``importlib.metadata``), never
``pm.register``; the host routes its webhook URLs and jobs to it, and Jira's
URLs never reach it.
"""

import json
import os
import sys

import falcon.testing
import pytest

from host.core import Host
from host.jobs import Worker
from host.plugins import describe_plugins
from tests.conftest import run_cli
from tests.contract import checked_app
from tests.distributions import install_tiny_distribution


@pytest.fixture
def tiny_dist(tmp_path, monkeypatch):
    directory = install_tiny_distribution(tmp_path / "site")
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    sys.modules.pop("tiny_tracker", None)


@pytest.fixture
def both(config, tiny_dist):
    host = Host.from_config(config)  # the real factory: entry points only
    yield host, sys.modules["tiny_tracker"]
    host.close()


def test_both_providers_load_from_their_entry_points(both):
    host, _ = both
    assert set(host.providers) == {"jira", "jira_server", "tiny"}
    plugins = {p.name: p for p in describe_plugins(host.pm)}
    assert (plugins["tiny"].distribution, plugins["tiny"].version) == (
        "tiny-tracker",
        "0.1.0",
    )
    assert plugins["jira_server"].distribution == "trackbridge"
    assert plugins["jira"].distribution == "trackbridge"
    assert "tiny_notes" in host.store.db.table_names()  # its migrations ran
    assert "jira_tenants" in host.store.db.table_names()


def test_webhooks_and_jobs_go_to_their_own_provider(both):
    host, tiny = both
    client = falcon.testing.TestClient(checked_app(host))
    org = host.organizations.create("acme")
    headers = {"Authorization": f"Bearer {host.organizations.create_token(org)}"}
    api = "/api/0/organizations/acme"
    begun = client.simulate_post(
        f"{api}/setup", json={"provider": "tiny"}, headers=headers
    )
    done = client.simulate_post(
        f"{api}/setup/{begun.json['pipeline']}",
        json={"url": "https://tiny.example", "secret": "tiny-secret"},
        headers=headers,
    ).json
    integration_id = done["integration_id"]
    group_id = client.simulate_post(
        f"{api}/groups", json={"title": "x"}, headers=headers
    ).json["id"]
    client.simulate_post(
        f"{api}/groups/{group_id}/links",
        json={"integration_id": integration_id, "key": "T-1"},
        headers=headers,
    )
    client.simulate_put(
        f"{api}/integrations/{integration_id}",
        json={"sync_status_reverse": True, "sync_comments": True},
        headers=headers,
    )
    tiny.CALLS.clear()

    # Jira's URL is not tiny's: tiny declines it, nothing is stored.
    jira = client.simulate_post(
        "/extensions/jira-server/issue-updated/abc/", body=b"{}"
    )
    assert jira.status_code >= 400
    assert tiny.CALLS == [] and host.store.deliveries.recent() == []

    # tiny's URL goes to tiny, and so do the jobs it causes.
    delivered = client.simulate_post(
        "/extensions/tiny/hook/tiny.example",
        body=json.dumps(
            {"events": [{"type": "status", "issue_key": "T-1", "resolved": True}]}
        ),
        headers={"X-Tiny-Secret": "tiny-secret"},
    )
    assert delivered.json == {"received": True}
    client.simulate_post(
        f"{api}/groups/{group_id}/comments", json={"text": "hi"}, headers=headers
    )
    worker = Worker(host)
    while worker.run_once():
        pass
    assert [c["hook"] for c in tiny.CALLS] == ["parse_webhook", "sync_comment_outbound"]
    assert (
        client.simulate_get(f"{api}/groups/{group_id}", headers=headers).json["status"]
        == "resolved"
    )
    assert {j["state"] for j in host.store.jobs.list()} == {"done"}


def test_the_cli_lists_the_installed_distribution(tiny_dist, tmp_path):
    env = {
        "PYTHONPATH": os.pathsep.join(
            [str(tiny_dist), os.environ.get("PYTHONPATH", "")]
        ),
        "TRACKBRIDGE_DATABASE": str(tmp_path / "t.db"),
    }
    output = run_cli(env, "plugins", "--json")
    listed = {p["name"]: p for p in json.loads(output)}
    assert listed["tiny"]["distribution"] == "tiny-tracker"
    assert "authenticate_webhook" in listed["tiny"]["hooks"]
    assert listed["jira_server"]["distribution"] == "trackbridge"
