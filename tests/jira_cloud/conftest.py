"""Fixtures for the Jira Cloud provider: Atlassian's signing key, the fake
install-key server, and a host with the plugin loaded."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import jwt
import pytest

from plugins.jira import connect
from tests.jira_cloud.fake_atlassian import FakeInstallKeys
from tests.jira_server.conftest import make_key_pair

KID = "0e50fccb-239d-4991-a5db-dc850ba3f236"
CLIENT_KEY = "7a2c6c4e-2b6d-3f0a-9b0e-5d2a8c1f4e77"
SITE = "https://acme.atlassian.net"


@pytest.fixture(scope="session")
def atlassian_key():
    """Atlassian's install-signing key pair (private, public PEM)."""
    return make_key_pair()


@pytest.fixture
def install_keys(atlassian_key):
    with FakeInstallKeys() as fake:
        fake.keys[KID] = atlassian_key[1]
        yield fake


@pytest.fixture
def cloud_host(host, install_keys):
    """The test host with the Jira Cloud plugin, its tables, and the fake
    key server as ``[jira] install_keys_url``."""
    from plugins.jira import plugin

    host.pm.register(plugin, name="jira")
    host.providers["jira"] = plugin.PROVIDER
    host.config.sections["jira"] = {"install_keys_url": install_keys.url}
    host.migrate()
    return host


@pytest.fixture
def cloud_client(cloud_host):
    import falcon.testing

    from tests.contract import checked_app

    return falcon.testing.TestClient(checked_app(cloud_host))


def install_token(
    private_pem: str,
    *,
    path: str = "/extensions/jira/installed",
    method: str = "POST",
    iss: str = CLIENT_KEY,
    aud: str = "http://tb.example",
    kid: str | None = KID,
    expires_in: int = 180,
    query: str = "",
    **claims,
) -> str:
    """Atlassian's RS256 token for one lifecycle call."""
    now = int(time.time())
    body = {
        "iss": iss,
        "aud": aud,
        "iat": now,
        "exp": now + expires_in,
        "qsh": connect.query_hash(method, path, connect.query_of(query)),
        **claims,
    }
    headers = {"kid": kid} if kid else {}
    return jwt.encode(body, private_pem, algorithm="RS256", headers=headers)


def lifecycle_body(**changes) -> dict:
    return {
        "key": "tb.example.trackbridge",
        "clientKey": CLIENT_KEY,
        "sharedSecret": "a tenant shared secret, long enough for HS256 use",
        "baseUrl": SITE,
        "displayUrl": SITE,
        "productType": "jira",
        "serverVersion": "100295",
        "eventType": "installed",
        **changes,
    }


def host_of(url: str) -> str:
    return urlsplit(url).netloc


SHARED_SECRET = "the site's shared secret from its installed call, long enough"


@pytest.fixture
def site(cloud_host):
    """A fake Jira Cloud site (its JWT checks on) and its shared secret."""
    from tests.jira_cloud.fake_cloud import FakeJiraCloud

    with FakeJiraCloud(SHARED_SECRET) as fake:
        yield fake
    assert fake.refused == [], "the site refused requests the app signed"


@pytest.fixture
def installed(cloud_client, site, atlassian_key):
    """The site has installed the app (its signed installed call)."""
    answer = cloud_client.simulate_post(
        "/extensions/jira/installed/",
        json=lifecycle_body(baseUrl=site.url, sharedSecret=SHARED_SECRET),
        headers={"Authorization": "JWT " + install_token(atlassian_key[0])},
    )
    assert answer.status_code == 204, answer.text
    return site


def site_token(
    method: str, path: str, query: str = "", *, secret=SHARED_SECRET, **claims
) -> str:
    """A token Jira signs a request to the app with (HS256, the site's secret)."""
    now = int(time.time())
    return jwt.encode(
        {
            "iss": CLIENT_KEY,
            "iat": now,
            "exp": now + 180,
            "qsh": connect.query_hash(method, path, connect.query_of(query)),
            **claims,
        },
        secret,
        algorithm="HS256",
    )


def claim_code(cloud_client) -> str:
    """What a Jira administrator sees on the app's configure page."""
    import re

    query = "xdm_e=https%3A%2F%2Facme.atlassian.net&lic=none"
    token = site_token("GET", "/extensions/jira/configure", query)
    page = cloud_client.simulate_get(
        "/extensions/jira/configure/", query_string=f"{query}&jwt={token}"
    )
    assert page.status_code == 200, page.text
    return re.search(r"<pre>(tbc_[^<]+)</pre>", page.text)[1]


@pytest.fixture
def claimed(cloud_host, cloud_client, installed, org):
    """acme claimed the site: its Jira Cloud integration."""
    code = claim_code(cloud_client)
    status = cloud_host.setup.start(org, "jira")
    done = cloud_host.setup.submit(org, status.pipeline_id, {"claim_code": code})
    assert done.complete
    integration, _ = cloud_host.integrations.get(org, done.integration_id)
    return integration
