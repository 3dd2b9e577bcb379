"""The Connect app's descriptor and lifecycle calls, through the app, with
Atlassian's keys from the fake install-key server over real HTTP."""

from __future__ import annotations

import json

import jwt
import pytest

from plugins.jira import install_keys as key_fetching
from tests.jira_cloud.conftest import (
    CLIENT_KEY,
    KID,
    SHARED_SECRET,
    SITE,
    host_of,
    install_token,
    lifecycle_body,
)
from tests.jira_server.conftest import make_key_pair

INSTALLED = "/extensions/jira/installed/"
UNINSTALLED = "/extensions/jira/uninstalled/"


@pytest.fixture
def call(cloud_client):
    def post(path, body=None, token=None, *, raw=None):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = token
        return cloud_client.simulate_post(
            path,
            body=raw if raw is not None else (json.dumps(body) if body else ""),
            headers=headers,
        )

    return post


def tenants(host):
    from plugins.jira.tenants import TenantStore

    return TenantStore(host)


def test_the_descriptor_names_what_the_host_serves(cloud_client, cloud_host):
    answer = cloud_client.simulate_get("/extensions/jira/descriptor/")
    assert answer.status_code == 200
    found = answer.json
    assert found["baseUrl"] == "http://tb.example"  # public_url, no slash
    assert found["key"] == "tb.example.trackbridge"
    assert found["authentication"] == {"type": "jwt"}
    assert found["apiMigrations"] == {
        "gdpr": True,
        "context-qsh": True,
        "signed-install": True,
    }
    assert {w["event"] for w in found["modules"]["webhooks"]} >= {"jira:issue_updated"}
    assert all(not w["excludeBody"] for w in found["modules"]["webhooks"])
    # Each lifecycle URL is one this host answers (unsigned: 409, not 404).
    for path in found["lifecycle"].values():
        assert cloud_client.simulate_post(path).status_code == 409, path


def test_an_install_is_a_tenant_with_its_secret_sealed(
    call, cloud_host, atlassian_key, install_keys
):
    body = lifecycle_body()
    answer = call(INSTALLED, body, "JWT " + install_token(atlassian_key[0]))
    assert answer.status_code == 204, answer.text
    tenant = tenants(cloud_host).get(CLIENT_KEY)
    assert (tenant.base_url, tenant.status) == (SITE, "installed")
    assert tenants(cloud_host).shared_secret(CLIENT_KEY) == body["sharedSecret"]
    stored = cloud_host.store.db.execute(
        "SELECT shared_secret FROM jira_tenants"
    ).fetchone()[0]
    assert body["sharedSecret"] not in stored  # sealed at rest
    assert install_keys.requests == [KID]


def test_reinstall_replaces_the_secret_and_uninstall_keeps_the_tenant(
    call, cloud_host, atlassian_key, install_keys
):
    call(INSTALLED, lifecycle_body(), "JWT " + install_token(atlassian_key[0]))
    gone = call(
        UNINSTALLED,
        lifecycle_body(eventType="uninstalled"),
        "JWT " + install_token(atlassian_key[0], path="/extensions/jira/uninstalled"),
    )
    assert gone.status_code == 204, gone.text
    assert tenants(cloud_host).get(CLIENT_KEY).status == "uninstalled"
    again = call(
        INSTALLED,
        lifecycle_body(sharedSecret="the new secret after a re-install, also long"),
        "JWT " + install_token(atlassian_key[0]),
    )
    assert again.status_code == 204
    tenant = tenants(cloud_host).get(CLIENT_KEY)
    assert tenant.status == "installed"
    assert tenants(cloud_host).shared_secret(CLIENT_KEY).startswith("the new secret")
    count = cloud_host.store.db.execute("SELECT count(*) FROM jira_tenants").fetchone()
    assert count[0] == 1
    assert install_keys.requests == [KID]  # the key was fetched once, then cached


def test_a_claimed_site_reinstalled_from_a_new_url_is_called_there(
    cloud_host, cloud_client, org, claimed, installed, atlassian_key
):
    """A renamed site installs again with its new baseUrl: the integration's
    calls go there, not to the old address."""
    from tests.jira_cloud.fake_cloud import FakeJiraCloud

    with FakeJiraCloud(SHARED_SECRET) as moved:
        answer = call_installed(cloud_client, atlassian_key, baseUrl=moved.url)
        assert answer.status_code == 204, answer.text
        integration, _ = cloud_host.integrations.get(org, claimed.id)
        assert integration.metadata["base_url"] == moved.url
        assert integration.metadata["domain_name"] == host_of(moved.url)
        cloud_host.tracker_issues.search(org, claimed.id, "externalIssue", "crash")
        assert moved.searches and not installed.searches
    assert moved.refused == []


def call_installed(cloud_client, atlassian_key, **changes):
    return cloud_client.simulate_post(
        INSTALLED,
        json=lifecycle_body(sharedSecret=SHARED_SECRET, **changes),
        headers={"Authorization": "JWT " + install_token(atlassian_key[0])},
    )


#: (token, status, what the detail says); every token is for this request
#: unless its name says otherwise.
TOKEN_PROBLEMS = [
    (None, 409, "Authorization header"),
    ("invalid", 409, "Authorization header"),
    ("JWT not-a-token", 400, "Failed to fetch key id."),
    ("no kid", 400, "Missing key id."),
    ("expired", 400, "Expired signature."),
    ("other signer", 400, "Invalid signature."),
    ("wrong audience", 400, "audience"),
    ("audience with a slash", 400, "audience"),
    ("wrong issuer", 400, "Token issuer does not match clientKey."),
    ("other request", 409, "Query hash mismatch"),
    ("unknown kid", 400, "Invalid key id (the key server answered 404)."),
    ("kid with a path", 400, "Invalid key id."),
    ("hs256", 400, "Missing key id."),
]


def test_every_token_problem_is_a_4xx_with_its_detail(
    call, cloud_host, atlassian_key, install_keys
):
    """One host for all the cases (each refused, nothing stored)."""
    private = atlassian_key[0]
    tokens = {
        None: lambda: None,
        "invalid": lambda: "invalid",
        "JWT not-a-token": lambda: "JWT not-a-token",
        "no kid": lambda: "JWT " + install_token(private, kid=None),
        "expired": lambda: "JWT " + install_token(private, expires_in=-30),
        "other signer": lambda: "JWT " + install_token(make_key_pair()[0]),
        "wrong audience": lambda: (
            "JWT " + install_token(private, aud="https://evil.example")
        ),
        "audience with a slash": lambda: (
            "JWT " + install_token(private, aud="http://tb.example/")
        ),
        "wrong issuer": lambda: "JWT " + install_token(private, iss="someone-else"),
        "other request": lambda: (
            "JWT " + install_token(private, path="/extensions/jira/other")
        ),
        "unknown kid": lambda: "JWT " + install_token(private, kid="d0e5-unknown"),
        "kid with a path": lambda: "JWT " + install_token(private, kid="../admin"),
        "hs256": lambda: (
            "JWT "
            + jwt.encode(
                {"iss": CLIENT_KEY, "aud": "http://tb.example", "qsh": "x"},
                "any secret an attacker picks, long enough",
                algorithm="HS256",
            )
        ),
    }
    for token, status, detail in TOKEN_PROBLEMS:
        answer = call(INSTALLED, lifecycle_body(), tokens[token]())
        assert answer.status_code == status, (token, answer.text)
        assert detail in answer.json["detail"], token
    assert tenants(cloud_host).get(CLIENT_KEY) is None
    # The kid with a path never became part of a URL.
    assert "../admin" not in install_keys.requests


def test_a_body_without_what_an_install_needs_is_a_400(call, atlassian_key, cloud_host):
    token = "JWT " + install_token(atlassian_key[0])
    assert call(INSTALLED, None, token).status_code == 400  # no body
    assert call(INSTALLED, raw="[1]", token=token).status_code == 400
    assert call(INSTALLED, raw="{", token=token).status_code == 400
    lacking = call(INSTALLED, lifecycle_body(sharedSecret=""), token)
    assert lacking.status_code == 400
    assert "sharedSecret" in lacking.json["detail"]
    plain = call(INSTALLED, lifecycle_body(baseUrl="http://acme.example"), token)
    assert plain.status_code == 400 and "https" in plain.json["detail"]
    # The site's URL goes into its configure page's frame-ancestors: nothing
    # that would add a directive or split the header.
    for url in (
        "https://acme.atlassian.net; script-src *",
        "https://acme.atlassian.net,https://evil.example",
        "https://acme atlassian.net",
        "https://acme.atlassian.net:port",
        "https://-acme.atlassian.net",
    ):
        odd = call(INSTALLED, lifecycle_body(baseUrl=url), token)
        assert odd.status_code == 400 and "https" in odd.json["detail"], url
    assert tenants(cloud_host).get(CLIENT_KEY) is None


def test_a_key_server_that_misbehaves_refuses_the_install(
    call, atlassian_key, install_keys, monkeypatch, cloud_host
):
    install_keys.answers[KID] = (200, "<html>not a key</html>")
    token = "JWT " + install_token(atlassian_key[0])
    answer = call(INSTALLED, lifecycle_body(), token)
    assert answer.status_code == 400
    assert (
        answer.json["detail"] == "Invalid key id (the key server sent no public key)."
    )
    # Slow: a short wait, then a clear refusal (never a hung request).
    del install_keys.answers[KID]
    install_keys.delay = 1.0
    monkeypatch.setattr(key_fetching, "TIMEOUT", (0.3, 0.3))
    slow = call(INSTALLED, lifecycle_body(), token)
    assert slow.status_code == 400
    assert slow.json["detail"].startswith("Could not fetch the install key")
    assert tenants(cloud_host).get(CLIENT_KEY) is None


def test_uninstalling_an_unknown_tenant_is_refused(call, atlassian_key, cloud_host):
    answer = call(
        UNINSTALLED,
        lifecycle_body(eventType="uninstalled"),
        "JWT " + install_token(atlassian_key[0], path="/extensions/jira/uninstalled"),
    )
    assert answer.status_code == 409
    assert "No tenant" in answer.json["detail"]


def test_a_key_rotation_reseals_the_tenants_secret(
    call, cloud_host, atlassian_key, install_keys
):
    call(INSTALLED, lifecycle_body(), "JWT " + install_token(atlassian_key[0]))

    def stored():
        return cloud_host.store.db.execute(
            "SELECT shared_secret FROM jira_tenants"
        ).fetchone()[0]

    before = stored()
    # The host's own secrets and the plugin's declared column.
    assert cloud_host.seal_secrets(again=True) >= 1
    assert stored() != before
    assert (
        tenants(cloud_host).shared_secret(CLIENT_KEY)
        == (lifecycle_body()["sharedSecret"])
    )
