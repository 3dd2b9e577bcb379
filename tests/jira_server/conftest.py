"""Fixtures for the Jira Server provider: RSA keys and the fake Jira."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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


@pytest.fixture
def jira_host(host):
    """The test host with the Jira Server plugin registered too."""
    from plugins.jira_server import plugin

    host.pm.register(plugin, name="jira_server")
    host.providers["jira_server"] = plugin.PROVIDER
    return host
