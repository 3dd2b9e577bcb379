"""A control node and two regions: three real ``trackbridge serve`` on loopback.

Jira (the fake) is installed at the control node for two organizations, one
in region ``eu`` and one in ``us``; the installs replicate to the regions.
Jira's webhook, posted to the URL the install registered, is answered 202 by
the control node and applied in each region. Region ``us`` is down at first:
its delivery waits in the control node's queue and lands once it is up.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import pytest
import requests

from host.config import load_config
from host.core import Host
from tests.conftest import linked_group, run_cli, shared_fixture
from tests.servers import free_port, serving, wait_for

pytestmark = pytest.mark.e2e

SECRET = "a routing secret shared by the three hosts"
ASSIGNEE = "jira-webhooks/real-server-issue-updated-assignee.json"
EMAIL = "some-instance-test@gmail.com"  # the assignee in that payload
FAST_JOBS = (
    "[jobs]\npoll_interval_seconds = 0.05\nbackoff_base_seconds = 0.2\n"
    "backoff_max_seconds = 0.5\nmax_attempts = 100\n"
)


def write_host(directory, port, extra=""):
    directory.mkdir()
    path = directory / "config.ini"
    path.write_text(
        f"[host]\ndatabase = tb.db\npublic_url = http://127.0.0.1:{port}\n"
        "allow_loopback_destinations = true\n"
        f"[routing]\nsecret = {SECRET}\n{FAST_JOBS}{extra}"
    )
    return {"TRACKBRIDGE_CONFIG": str(path)}, port


@contextlib.contextmanager
def opened(env):
    """The host of ``env`` opened in this process (beside its server)."""
    host = Host.from_config(load_config(env["TRACKBRIDGE_CONFIG"], env={}))
    try:
        yield host
    finally:
        host.close()


def seed_linked_group(env, org_slug):
    """A member with the payload's email and a group linked to PRJA-37."""
    with opened(env) as host:
        organization = host.organizations.get(org_slug)
        [(integration, _)] = host.integrations.list(organization)
        host.integrations.update_config(
            organization, integration.id, {"sync_reverse_assignment": True}
        )
        host.store.organizations.add_member(organization.id, EMAIL, "Ann")
        group = linked_group(host, organization, integration.id, "PRJA-37", "10226")
        return group.id


def assignee(env, org_slug, group_id):
    with opened(env) as host:
        organization = host.organizations.get(org_slug)
        return host.groups.get(organization, group_id).assignee_email


def jobs(env, kind):
    with opened(env) as host:
        return [j for j in host.store.jobs.list() if j["kind"] == kind]


def installed(env, org_slug):
    with opened(env) as host:
        organization = host.store.organizations.get_by_slug(org_slug)
        return organization and host.integrations.list(organization)


def test_control_node_forwards_to_regions_and_waits_for_one_that_is_down(
    tmp_path, jira
):
    jira.personal_tokens["pat-svc"] = "svc"
    eu_env, eu_port = write_host(tmp_path / "eu", free_port())
    us_env, us_port = write_host(tmp_path / "us", free_port())
    control_env, control_port = write_host(
        tmp_path / "control",
        free_port(),
        f"[regions]\neu = http://127.0.0.1:{eu_port}\n"
        f"us = http://127.0.0.1:{us_port}\n",
    )
    run_cli(control_env, "org", "create", "acme", "--region", "eu")
    run_cli(control_env, "org", "create", "zeta", "--region", "us")
    for org_slug in ("acme", "zeta"):
        run_cli(
            control_env,
            "install",
            "jira_server",
            "--org",
            org_slug,
            "--terminal",
            *("--set", f"url={jira.url}", "--set", "auth_mode=token"),
            *("--set", "personal_access_token=pat-svc", "--set", "verify_ssl=true"),
            *("--set", "ca_bundle=", "--set", "webhook_mode=automatic"),
        )
    [webhook] = jira.webhooks.values()  # one Jira, one webhook, at the control
    hook_url = webhook["url"]
    assert hook_url.startswith(f"http://127.0.0.1:{control_port}/extensions/")

    with serving(eu_env, eu_port), serving(control_env, control_port):
        wait_for(lambda: installed(eu_env, "acme"), "the install to reach eu")
        eu_group = seed_linked_group(eu_env, "acme")

        body = shared_fixture(ASSIGNEE)
        response = requests.post(
            hook_url, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 202
        assert (
            wait_for(lambda: assignee(eu_env, "acme", eu_group), "eu to apply it")
            == EMAIL
        )

        # us is down: its delivery waits at the control node, with the reason.
        wait_for(
            lambda: any(
                "is unreachable" in (j["last_error"] or "")
                for j in jobs(control_env, "delivery.forward")
            ),
            "a failed attempt to reach us",
        )
        assert {j["state"] for j in jobs(control_env, "delivery.forward")} >= {"queued"}

        # A forged "forwarded" request to a region is refused.
        forged = requests.post(
            f"http://127.0.0.1:{eu_port}{urlsplit(hook_url).path}",
            data=body,
            headers={"X-Trackbridge-Signature": "t=1,v1=00"},
        )
        assert forged.status_code == 401

        # us comes up with the same integration (replicated when it is up;
        # seeded here first so its group can be linked before delivery).
        with opened(control_env) as control:
            integration = control.integrations.by_external_id(
                "jira_server", webhook_token_id(hook_url)
            )
            credentials = control.integrations.credentials(integration)
            shared = control.integrations.shared_credentials(integration)
        with opened(us_env) as us:
            from host.types import IntegrationSpec

            zeta = us.organizations.create("zeta")
            us.integrations.install(
                zeta,
                "jira_server",
                IntegrationSpec(
                    external_id=integration.external_id,
                    name=integration.name,
                    metadata=dict(integration.metadata),
                    credentials=credentials,
                    shared_credentials=shared,
                ),
            )
        us_group = seed_linked_group(us_env, "zeta")
        with serving(us_env, us_port):
            assert (
                wait_for(
                    lambda: assignee(us_env, "zeta", us_group), "us to apply it late"
                )
                == EMAIL
            )
            wait_for(
                lambda: all(
                    j["state"] == "done"
                    for j in jobs(control_env, "delivery.forward")
                    + jobs(control_env, "integration.replicate")
                ),
                "every forward and replica to land",
            )
    # Applied once in each region, never at the control node.
    with opened(control_env) as control:
        assert control.store.deliveries.recent() == []
        owed = control.store.db.execute("SELECT count(*) FROM forwards").fetchone()[0]
        assert owed == 0  # every forward was handed over, then let go
    for env in (eu_env, us_env):
        with opened(env) as host:
            assert len(host.store.deliveries.recent()) == 1


def webhook_token_id(url: str) -> str:
    import jwt

    token = urlsplit(url).path.rstrip("/").rsplit("/", 1)[1]
    return jwt.decode(token, options={"verify_signature": False})["id"]
