"""Authenticating Jira's webhooks (the token in the URL), over falcon.testing.

The token checks run in order, each with its own 400; the token never
reaches a log line. Parsing the events is the inbound issue's work; here an
accepted delivery is stored and a manual-mode integration stops "waiting".
"""

import json

import jwt
import pytest

from host.types import IntegrationSpec
from tests.conftest import shared_fixture
from tests.jira_server.conftest import EXTERNAL_ID, WEBHOOK_SECRET
from tests.jira_server.conftest import webhook_token as token

ASSIGNEE = "jira-webhooks/real-server-issue-updated-assignee.json"
COMMENTED = "jira-webhooks/real-server-issue-updated-commented.json"


@pytest.fixture
def integration(jira_host, org):
    integration, _ = jira_host.integrations.install(
        org,
        "jira_server",
        IntegrationSpec(
            external_id=EXTERNAL_ID,
            name="trackbridge",
            metadata={
                "base_url": "https://jira.example.org",
                "webhook_status": "waiting for first webhook",
            },
            credentials={"webhook_secret": WEBHOOK_SECRET},
        ),
    )
    return integration


@pytest.fixture
def post(client):
    def send(token_text, body=b'{"changelog": {"items": [{"field": "status"}]}}'):
        return client.simulate_post(
            f"/extensions/jira-server/issue-updated/{token_text}/",
            body=body,
            headers={"Content-Type": "application/json"},
        )

    return send


def test_a_real_payload_with_a_valid_token_is_stored(post, integration, jira_host):
    response = post(token(), shared_fixture(ASSIGNEE))
    assert (response.status_code, response.json) == (200, {"received": True})
    [delivery] = jira_host.store.deliveries.recent()
    assert delivery["integration_id"] == integration.id
    assert jira_host.store.jobs.list()[0]["kind"] == "delivery.process"


def test_the_first_authenticated_delivery_ends_waiting(post, integration, jira_host):
    post("garbage")
    assert (
        jira_host.store.integrations.get(integration.id).metadata["webhook_status"]
        == "waiting for first webhook"
    )
    post(token(), b"{}")
    metadata = jira_host.store.integrations.get(integration.id).metadata
    assert metadata["webhook_status"] == "receiving"
    assert metadata["base_url"] == "https://jira.example.org"  # merged, not replaced


def test_comment_events_need_no_changelog(post, integration, jira_host):
    response = post(token(), shared_fixture(COMMENTED))
    assert response.json == {"received": True}


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"changelog": {"items": []}}', b'{"webhookEvent": "jira:issue_created"}'],
)
def test_no_changelog_is_acknowledged_and_not_stored(
    post, integration, jira_host, body
):
    response = post(token(), body)
    assert (response.status_code, response.json) == (200, {"received": False})
    assert jira_host.store.deliveries.recent() == []


@pytest.mark.parametrize("body", [b"{bad", b"[1, 2]", b'"text"'])
def test_bad_bodies_are_400(post, integration, jira_host, body):
    response = post(token(), body)
    assert response.status_code == 400
    assert jira_host.store.deliveries.recent() == []


def unsigned(claims):
    return jwt.encode(claims, None, algorithm="none")


@pytest.mark.parametrize(
    "make_token, detail",
    [
        (lambda: " ", "Token was empty"),
        (lambda: "not-a-jwt", "Could not decode JWT token"),
        (lambda: token({"no": "id"}), "Token did not contain `id`"),
        (
            lambda: token({"id": "jira.example.org:someone-else"}),
            "Could not find integration for token",
        ),
        (
            lambda: token(
                secret="a bad secret that is as long as the real one, or longer"
            ),
            "Could not validate JWT. Got InvalidSignatureError",
        ),
        (
            lambda: unsigned({"id": "jira.example.org:trackbridge"}),
            "Could not validate JWT. Got InvalidAlgorithmError",
        ),
        (
            lambda: token(algorithm="HS512"),
            "Could not validate JWT. Got InvalidAlgorithmError",
        ),
    ],
)
def test_each_token_check_has_its_own_answer(
    post, integration, jira_host, caplog, make_token, detail
):
    bad = make_token()
    response = post(bad)
    assert (response.status_code, response.json) == (400, {"detail": detail})
    assert jira_host.store.deliveries.recent() == []
    assert detail in caplog.text
    if bad.strip():
        assert bad not in caplog.text


def test_tampered_claims_fail(post, integration):
    header, _, signature = token().split(".")
    forged = jwt.utils.base64url_encode(
        json.dumps({"id": "jira.example.org:trackbridge", "x": 1}).encode()
    ).decode()
    response = post(f"{header}.{forged}.{signature}")
    assert response.json == {
        "detail": "Could not validate JWT. Got InvalidSignatureError"
    }


def test_a_token_for_one_integration_never_opens_another(
    post, integration, jira_host, org
):
    jira_host.integrations.install(
        org,
        "jira_server",
        IntegrationSpec(
            external_id="other.example:bot",
            name="bot",
            metadata={},
            credentials={"webhook_secret": "the other integration secret, 32+ bytes"},
        ),
    )
    # signed with our secret, naming the other integration
    response = post(token({"id": "other.example:bot"}))
    assert response.json == {
        "detail": "Could not validate JWT. Got InvalidSignatureError"
    }
    assert jira_host.store.deliveries.recent() == []
