"""Authenticating Jira's webhooks (the token in the URL), over falcon.testing.

The token checks run in order, each with its own 400; the token never
reaches a log line. Parsing the events is the inbound issue's work; here an
accepted delivery is stored and a manual-mode integration stops "waiting".
"""

import json
import secrets

import jwt
import pytest

from host.types import IntegrationSpec
from tests.conftest import shared_fixture
from tests.jira_server.conftest import EXTERNAL_ID, WEBHOOK_SECRET, link_payload_issue
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
            credentials={},
            shared_credentials={"webhook_secret": WEBHOOK_SECRET},
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


def test_a_real_payload_with_a_valid_token_is_stored(post, integration, jira_host, org):
    link_payload_issue(jira_host, org, integration.id, shared_fixture(ASSIGNEE))
    response = post(token(), shared_fixture(ASSIGNEE))
    assert (response.status_code, response.json) == (200, {"received": True})
    [delivery] = jira_host.store.deliveries.recent()
    assert [j["kind"] for j in jira_host.store.jobs.list()] == ["delivery.process"]
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


def test_comment_events_need_no_changelog(post, integration, jira_host, org):
    link_payload_issue(jira_host, org, integration.id, shared_fixture(COMMENTED))
    response = post(token(), shared_fixture(COMMENTED))
    assert response.json == {"received": True}


def test_a_delivery_about_an_issue_nobody_links_is_acknowledged_not_stored(
    post, integration, jira_host
):
    # 50 large webhooks about an unlinked issue: none of them is kept.
    body = json.loads(shared_fixture(ASSIGNEE))
    body["issue"]["fields"]["description"] = "x" * 100_000
    for n in range(50):
        body["timestamp"] = n
        response = post(token(), json.dumps(body).encode())
        assert (response.status_code, response.json) == (200, {"received": False})
    assert jira_host.store.deliveries.recent() == []
    assert jira_host.store.jobs.list() == []


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
            credentials={},
            shared_credentials={
                "webhook_secret": "the other integration secret, 32+ bytes"
            },
        ),
    )
    # signed with our secret, naming the other integration
    response = post(token({"id": "other.example:bot"}))
    assert response.json == {
        "detail": "Could not validate JWT. Got InvalidSignatureError"
    }
    assert jira_host.store.deliveries.recent() == []


def _rsa_private_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_an_rs256_token_is_refused_whatever_its_signature(post, integration):
    """Only HS256 is accepted: an asymmetric token is not even verified."""
    response = post(token(secret=_rsa_private_pem(), algorithm="RS256"))
    assert response.json == {
        "detail": "Could not validate JWT. Got InvalidAlgorithmError"
    }


def test_hs256_signed_with_a_public_key_is_refused(post, integration):
    """RS/HS confusion: a public key (the OAuth one Jira is shown, say) used
    as the HMAC secret is just a wrong secret."""
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(_rsa_private_pem(), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    response = post(_hs256(public_pem))
    assert response.json == {
        "detail": "Could not validate JWT. Got InvalidSignatureError"
    }


def _hs256(secret: bytes) -> str:
    """An HS256 token signed by hand: PyJWT refuses PEM text as an HMAC key."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps({"id": EXTERNAL_ID}).encode())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_signatures_are_compared_in_constant_time(post, integration, monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append(True)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    # A token never seen in this process (verdicts are cached by content).
    fresh = token({"id": EXTERNAL_ID, "nonce": secrets.token_hex(8)})
    assert post(fresh).status_code == 200
    assert compared
