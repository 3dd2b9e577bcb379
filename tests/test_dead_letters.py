"""Dead-lettered jobs through the API: each organization sees and retries
the jobs that concern it, and no other organization's."""

import pytest

from tests.conftest import install_tiny


@pytest.fixture
def setup(host, org, clock):
    """Dead jobs of every shape that can concern an organization, plus one of
    another organization and one that is not dead."""
    other = host.organizations.create("other", "Other")
    integration = install_tiny(host, org)
    foreign = install_tiny(host, other, external_id="foreign.example")
    with host.store.transaction():
        delivery = host.store.deliveries.add(integration.id, "tiny", {}, b"{}")
        foreign_delivery = host.store.deliveries.add(foreign.id, "tiny", {}, b"{}")
    payloads = {
        "group": {"organization_id": org.id, "group_id": 1, "action": "status"},
        "delivery": {"delivery_id": delivery},
        "integration": {"integration_id": integration.id},
        "other": {"organization_id": other.id, "group_id": 2, "action": "status"},
        "other delivery": {"delivery_id": foreign_delivery},
    }
    lanes = {"delivery": integration.id, "other delivery": foreign.id}
    ids = {}
    with host.store.transaction():
        for name, payload in payloads.items():
            if name in lanes:  # as a webhook queues it
                ids[name] = host.jobs.enqueue(
                    "delivery.process",
                    payload,
                    integration_id=lanes[name],
                    inbound=True,
                )
            else:
                ids[name] = host.jobs.enqueue("sync.outbound", payload)
        # Not due yet: it stays queued while the others are claimed.
        ids["queued"] = host.jobs.enqueue("sync.outbound", payloads["group"], 3600)
    for _ in payloads:
        host.store.jobs.claim("w", now=clock(), lease_seconds=60)
    for name, job_id in ids.items():
        if name != "queued":
            assert host.store.jobs.bury(job_id, "w", 1, f"Jira said no to {name}")
    return ids, other


def test_an_organization_lists_the_dead_jobs_that_concern_it(api, setup):
    ids, _ = setup
    listed = api("get", "/jobs/dead").json
    assert [j["id"] for j in listed] == [
        ids["integration"],
        ids["delivery"],
        ids["group"],
    ]
    assert listed[0]["last_error"] == "Jira said no to integration"
    assert set(listed[0]) == {
        "id",
        "kind",
        "payload",
        "state",
        "attempts",
        "max_attempts",
        "last_error",
        "created_at",
        "updated_at",
    }
    page = api("get", f"/jobs/dead?limit=1&before={ids['integration']}").json
    assert [j["id"] for j in page] == [ids["delivery"]]


def test_a_dead_job_is_retried_once(api, setup, host):
    ids, _ = setup
    answer = api("post", f"/jobs/{ids['group']}/retry")
    assert answer.status_code == 202
    assert (answer.json["state"], answer.json["attempts"]) == ("queued", 0)
    assert ids["group"] not in [j["id"] for j in api("get", "/jobs/dead").json]
    again = api("post", f"/jobs/{ids['group']}/retry")
    assert (again.status_code, again.json) == (
        409,
        {"detail": f"Job {ids['group']} is queued, not dead-lettered."},
    )


def test_another_organizations_jobs_are_not_found(api, setup, host, client):
    ids, other = setup
    for name in ("other", "other delivery"):
        answer = api("post", f"/jobs/{ids[name]}/retry")
        assert (answer.status_code, answer.json) == (
            404,
            {"detail": f"Job {ids[name]} not found."},
        )
        assert host.store.jobs.get(ids[name])["state"] == "dead"
    token = host.organizations.create_token(other)
    theirs = client.simulate_get(
        "/api/0/organizations/other/jobs/dead",
        headers={"Authorization": f"Bearer {token}"},
    ).json
    assert [j["id"] for j in theirs] == [ids["other delivery"], ids["other"]]
    missing = api("post", "/jobs/999999/retry")
    assert missing.status_code == 404
