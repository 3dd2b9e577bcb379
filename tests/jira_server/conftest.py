"""Fixtures for the Jira Server provider: RSA keys and the fake Jira."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.types import IntegrationSpec
from tests.conftest import linked_group
from tests.fake_jira import FakeJira


def make_key_pair() -> tuple[str, str]:
    """An unencrypted RSA private key (PEM) and its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def key_pair():
    return make_key_pair()


@pytest.fixture
def jira(key_pair):
    """A fake Jira 9 with the consumer ``trackbridge`` registered."""
    with FakeJira() as fake:
        fake.consumers["trackbridge"] = key_pair[1]
        yield fake
    assert fake.spec_violations == [], "requests the Jira DC 10.3 spec does not allow"


@pytest.fixture
def jira_host(host):
    """The test host with the Jira Server plugin registered too."""
    from plugins.jira_server import plugin

    host.pm.register(plugin, name="jira_server")
    host.providers["jira_server"] = plugin.PROVIDER
    return host


WEBHOOK_SECRET = "a long webhook secret for the tests, long enough for HS512 as well"
EXTERNAL_ID = "jira.example.org:trackbridge"


def webhook_token(claims=None, secret=WEBHOOK_SECRET, algorithm="HS256") -> str:
    """The token in a webhook URL: ``{"id": external_id}`` signed with ``secret``."""
    import jwt

    claims = {"id": EXTERNAL_ID} if claims is None else claims
    return jwt.encode(claims, secret, algorithm=algorithm)


def install_svc(host, organization, jira, external_id: str = EXTERNAL_ID):
    """Install the fake Jira for ``organization``, acting as Jira user
    ``svc`` (a personal access token); the integration."""
    jira.personal_tokens["pat-svc"] = "svc"
    integration, _ = host.integrations.install(
        organization,
        "jira_server",
        IntegrationSpec(
            external_id=external_id,
            name="svc",
            metadata={"base_url": jira.url, "auth_mode": "token"},
            credentials={"personal_access_token": "pat-svc"},
            shared_credentials={"webhook_secret": WEBHOOK_SECRET},
        ),
    )
    return integration


@pytest.fixture
def jira_integration(jira_host, org, jira):
    """A Jira Server integration installed for ``org``, talking to the fake
    Jira with a personal access token."""
    integration = install_svc(jira_host, org, jira)
    return integration


@pytest.fixture
def token(jira_host, org):
    """An API token of ``org``."""
    return jira_host.organizations.create_token(org)


@pytest.fixture
def configure(jira_host, org, jira_integration):
    def update(**changes):
        jira_host.integrations.update_config(org, jira_integration.id, changes)

    return update


@pytest.fixture
def link(jira_host, org, jira_integration):
    """A new group linked to the Jira issue ``key`` (Jira id ``issue_id``)."""

    def make(key, issue_id, title="KeyError"):
        return linked_group(
            jira_host, org, jira_integration.id, key, issue_id, title=title,
            url=f"https://jira.example.org/browse/{key}",
        )  # fmt: skip

    return make


@pytest.fixture
def member(jira_host, org):
    def add(email, name="Member"):
        member_id, _ = jira_host.store.organizations.add_member(org.id, email, name)
        return jira_host.store.organizations.member(org.id, member_id)

    return add


def link_payload_issue(host, organization, integration_id, body: bytes) -> None:
    """Link the Jira issue a webhook body is about to a new group, so the
    host stores deliveries about it (it skips issues nobody links)."""
    issue = json.loads(body)["issue"]
    linked_group(
        host, organization, integration_id, issue["key"], issue["id"], title="Linked"
    )
