"""A control node routes Jira's webhooks to regions (in process, falcon.testing).

Status codes at the control node follow Sentry's parser: bad token 200 (not
forwarded), no active organization 400, nothing to apply 200, forwarded 202.
Real forwarding between processes is in ``test_regions_e2e.py``.
"""

import json

import falcon.testing
import pytest

from host import signing
from host.types import IntegrationSpec
from plugins.jira_server import plugin
from tests.conftest import host_in, shared_fixture
from tests.contract import checked_app
from tests.jira_server.conftest import (
    EXTERNAL_ID,
    WEBHOOK_SECRET,
    link_payload_issue,
    webhook_token,
)

ROUTING_SECRET = "routing secret shared by all hosts"
ASSIGNEE = "jira-webhooks/real-server-issue-updated-assignee.json"
SPEC = IntegrationSpec(
    external_id=EXTERNAL_ID,
    name="svc",
    metadata={"base_url": "https://jira.example.org", "auth_mode": "token"},
    credentials={"personal_access_token": "p"},
    shared_credentials={"webhook_secret": WEBHOOK_SECRET},
)


def make_host(directory, clock, text=""):
    return host_in(directory, clock, text, jira_server=plugin)


@pytest.fixture
def control(tmp_path, clock):
    host = make_host(
        tmp_path / "control",
        clock,
        f"""
        [regions]
        eu = http://127.0.0.1:9
        us = http://127.0.0.1:9/us
        [routing]
        secret = {ROUTING_SECRET}
        """,
    )
    yield host
    host.close()


@pytest.fixture
def region(tmp_path, clock):
    host = make_host(
        tmp_path / "region", clock, f"[routing]\nsecret = {ROUTING_SECRET}\n"
    )
    yield host
    host.close()


def post(host, body, token=None, headers=None):
    client = falcon.testing.TestClient(checked_app(host))
    return client.simulate_post(
        f"/extensions/jira-server/issue-updated/{token or webhook_token()}/",
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def forward_jobs(host):
    return [j for j in host.store.jobs.list() if j["kind"] == "delivery.forward"]


def install(host, *orgs):
    for slug, region in orgs:
        organization = host.organizations.create(slug, region=region)
        host.integrations.install(organization, "jira_server", SPEC)


def test_a_valid_delivery_is_forwarded_to_each_region_once(control):
    install(control, ("acme", "eu"), ("beta", "eu"), ("zeta", "us"))
    body = shared_fixture(ASSIGNEE)
    response = post(control, body)
    assert response.status_code == 202
    jobs = forward_jobs(control)
    assert sorted(j["payload"]["region"] for j in jobs) == ["eu", "us"]
    forward = control.store.deliveries.forward(jobs[0]["payload"]["forward_id"])
    assert forward["body"] == body
    assert forward["headers"]["content-type"] == "application/json"
    assert forward["provider_slug"] == "jira-server"
    # The token in the path stays out of job payloads (they are listed).
    assert all(set(j["payload"]) == {"forward_id", "region"} for j in jobs)
    assert control.store.deliveries.recent() == []  # no local organization


def test_organizations_without_a_region_are_served_by_the_control_node(control):
    install(control, ("acme", None), ("zeta", "us"))
    assert post(control, shared_fixture(ASSIGNEE)).status_code == 202
    assert len(control.store.deliveries.recent()) == 1
    assert [j["payload"]["region"] for j in forward_jobs(control)] == ["us"]


@pytest.mark.parametrize(
    "token",
    [
        " ",
        "not-a-jwt",
        webhook_token({"no": "id"}),
        webhook_token({"id": "someone-else"}),
        webhook_token(secret="bad-secret" * 4),
    ],
)
def test_a_bad_token_is_200_and_not_forwarded(control, token):
    install(control, ("acme", "eu"))
    response = post(control, shared_fixture(ASSIGNEE), token=token)
    assert response.status_code == 200
    assert forward_jobs(control) == []


def test_an_integration_no_organization_uses_actively_is_400(control):
    install(control, ("acme", "eu"))
    control.store.db.execute("UPDATE organization_integrations SET status = 'disabled'")
    response = post(control, shared_fixture(ASSIGNEE))
    assert response.status_code == 400
    assert response.json == {
        "detail": "No organization actively uses this integration."
    }


def test_nothing_to_apply_is_200_and_not_forwarded(control):
    install(control, ("acme", "eu"))
    assert post(control, b"{}").status_code == 200
    assert forward_jobs(control) == []


def test_a_region_down_keeps_the_job_for_a_retry(control):
    install(control, ("acme", "eu"))
    post(control, shared_fixture(ASSIGNEE))
    from host.jobs import Worker

    worker = Worker(control, name="test")
    while worker.run_once():
        pass
    jobs = control.store.jobs.list()
    assert {j["state"] for j in jobs} == {"queued"}  # forward and replicate wait
    assert all(
        "eu (http://127.0.0.1:9) is unreachable" in j["last_error"] for j in jobs
    )


# ---- at the region ----


def signed(body, path="/extensions/jira-server/issue-updated/" + "x", when=None):
    return {signing.HEADER: signing.sign(ROUTING_SECRET, "POST", path, body, when)}


def test_a_region_stores_a_correctly_signed_forwarded_delivery(region, clock):
    install(region, ("acme", None))
    body = shared_fixture(ASSIGNEE)
    [(_, oi)] = region.integrations.list(region.organizations.get("acme"))
    link_payload_issue(
        region, region.organizations.get("acme"), oi.integration_id, body
    )
    token = webhook_token()
    path = f"/extensions/jira-server/issue-updated/{token}"
    response = post(region, body, token=token, headers=signed(body, path, clock()))
    assert (response.status_code, response.json) == (200, {"received": True})


@pytest.mark.parametrize("problem", ["wrong body", "old", "garbage", "other path"])
def test_a_region_refuses_a_bad_forwarding_signature(region, clock, problem):
    install(region, ("acme", None))
    body = shared_fixture(ASSIGNEE)
    token = webhook_token()
    path = f"/extensions/jira-server/issue-updated/{token}"
    headers = {
        "wrong body": signed(b"{}", path, clock()),
        "old": signed(body, path, clock() - signing.MAX_AGE - 1),
        "garbage": {signing.HEADER: "t=x,v1=y"},
        "other path": signed(body, "/extensions/tiny/hook/x", clock()),
    }[problem]
    response = post(region, body, token=token, headers=headers)
    assert response.status_code == 401
    assert region.store.deliveries.recent() == []


def replicate(host, message, when):
    body = json.dumps(message).encode()
    client = falcon.testing.TestClient(checked_app(host))
    headers = {
        signing.HEADER: signing.sign(
            ROUTING_SECRET, "POST", "/internal/replicate", body, when
        )
    }
    return client.simulate_post("/internal/replicate", body=body, headers=headers)


def test_an_install_replica_creates_the_organization_and_integration(region, clock):
    message = {
        "organization": {"slug": "acme", "name": "Acme"},
        "provider": "jira_server",
        "external_id": EXTERNAL_ID,
        "removed": False,
        "name": "svc",
        "metadata": dict(SPEC.metadata),
        "credentials": dict(SPEC.credentials),
    }
    assert replicate(region, message, clock()).json == {"replicated": True}
    organization = region.organizations.get("acme")
    [(integration, _)] = region.integrations.list(organization)
    assert region.integrations.credentials(integration) == SPEC.credentials
    replicate(region, {**message, "removed": True}, clock())
    assert region.integrations.list(organization) == []


def test_replicas_need_the_shared_secret(region, clock):
    client = falcon.testing.TestClient(checked_app(region))
    response = client.simulate_post("/internal/replicate", body=b"{}")
    assert response.status_code == 401
    bad = replicate(region, {"organization": {}, "provider": "nope"}, clock())
    assert bad.status_code == 400


def test_a_host_without_a_routing_secret_refuses_forwarded_requests(tmp_path, clock):
    host = make_host(tmp_path / "plain", clock)
    try:
        response = replicate(host, {}, clock())
        assert response.status_code == 401
        assert "[routing] secret is unset" in response.json["detail"]
    finally:
        host.close()


def test_an_install_at_the_control_node_is_replicated_to_the_region(control):
    install(control, ("acme", "eu"), ("local", None))
    [job] = [
        j for j in control.store.jobs.list() if j["kind"] == "integration.replicate"
    ]
    assert job["payload"] == {
        "organization_id": control.organizations.get("acme").id,
        "provider": "jira_server",
        "external_id": EXTERNAL_ID,
    }


def test_regions_must_be_configured_to_be_assigned(control, region):
    from host.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        control.organizations.create("x", region="mars")
    assert caught.value.errors == {
        "region": ["Unknown region 'mars' (configured: eu, us)."]
    }
    with pytest.raises(ValidationError):
        region.organizations.create("y", region="eu")
