"""Issue 14's attacks on a shared host, as another organization would try them.

Through real HTTP where it matters: the fake Jira on loopback, recorders on
other loopback ports, and the setup and API of the test host.
"""

from __future__ import annotations

import http.server
import threading

import jwt
import pytest

from host.config import load_config
from host.core import Host
from host.plugins import get_plugin_manager
from host.store import Store
from tests.conftest import write_config
from tests.contract import checked_app


@pytest.fixture
def org_api(jira_host, client):
    """``org_api("beta")("post", "/setup", json=...)``: another organization."""

    def for_slug(slug):
        org = jira_host.organizations.get(slug) if _exists(jira_host, slug) else None
        org = org or jira_host.organizations.create(slug)
        headers = {
            "Authorization": f"Bearer {jira_host.organizations.create_token(org)}"
        }

        def call(method, path, **kwargs):
            return getattr(client, f"simulate_{method}")(
                f"/api/0/organizations/{slug}{path}", headers=headers, **kwargs
            )

        return call

    return for_slug


def _exists(host, slug):
    return host.store.organizations.get_by_slug(slug) is not None


def token_setup(call, url, token, mode="manual"):
    """Run the personal-access-token setup; the last answer."""
    begun = call("post", "/setup", json={"provider": "jira_server"}).json
    path = f"/setup/{begun['pipeline']}"
    step = call(
        "post",
        path,
        json={"url": url, "auth_mode": "token", "personal_access_token": token},
    )
    if step.status_code != 200:
        return step
    return call("post", path, json={"webhook_mode": mode})


@pytest.mark.parametrize(
    "tail",
    [
        "/rest/api/2/user?username=admin#",
        "?",
        "#",
        "/./rest",
        "/jira/../rest",
        "\\@evil.example",
    ],
)
def test_a_jira_url_with_a_query_fragment_or_dot_segments_is_refused(
    jira, org_api, jira_host, tail
):
    jira.personal_tokens["pat-low"] = "mallory"
    answer = token_setup(org_api("beta"), jira.url + tail, "pat-low")
    assert answer.status_code == 400
    assert list(answer.json["errors"]) == ["url"]
    assert jira.seen("/rest/api/2/myself") == []  # nothing was asked of Jira


def test_another_user_of_the_same_jira_gets_its_own_integration(
    jira, org_api, jira_host
):
    jira.personal_tokens["pat-admin"] = "admin"
    jira.personal_tokens["pat-low"] = "mallory"
    victim = token_setup(org_api("acme"), jira.url, "pat-admin").json
    attacker = token_setup(org_api("beta"), jira.url, "pat-low").json
    assert victim["integration_id"] != attacker["integration_id"]
    victim_integration = jira_host.store.integrations.get(victim["integration_id"])
    # the victim's calls still go out with the victim's token
    creds = jira_host.integrations.credentials(
        jira_host.store.integrations.get(
            victim["integration_id"], jira_host.organizations.get("acme").id
        )
    )
    assert creds["personal_access_token"] == "pat-admin"
    assert victim_integration.metadata["base_url"] == jira.url


def test_joining_a_shared_jira_never_changes_what_the_first_organization_uses(
    jira, org_api, jira_host
):
    # Two tokens of the same Jira user: one identity, so one shared integration.
    jira.personal_tokens["pat-a"] = "svc"
    jira.personal_tokens["pat-b"] = "svc"
    first = token_setup(org_api("acme"), jira.url, "pat-a").json["integration_id"]
    before = jira_host.store.integrations.get(first)
    secret = jira_host.store.integrations.credentials(first)["webhook_secret"]
    second = token_setup(org_api("beta"), jira.url + "/", "pat-b").json
    assert second["integration_id"] == first
    assert jira_host.store.integrations.get(first).metadata == before.metadata
    assert jira_host.store.integrations.credentials(first)["webhook_secret"] == secret
    acme, beta = (jira_host.organizations.get(s) for s in ("acme", "beta"))
    tokens = [
        jira_host.integrations.credentials(
            jira_host.store.integrations.get(first, org.id)
        )["personal_access_token"]
        for org in (acme, beta)
    ]
    assert tokens == ["pat-a", "pat-b"]
    # Beta's token is revoked in Jira: only Beta needs to set up again.
    del jira.personal_tokens["pat-b"]
    beta_api = org_api("beta")
    answer = beta_api("get", f"/integrations/{first}/config?project=PRJ")
    assert answer.status_code == 200
    assert beta_api("get", f"/integrations/{first}").json["status"] == "needs_reauth"
    assert org_api("acme")("get", f"/integrations/{first}").json["status"] == "active"
    # Beta leaves: Acme keeps its integration, credentials and webhook.
    assert beta_api("delete", f"/integrations/{first}").status_code == 204
    assert (
        jira_host.integrations.credentials(
            jira_host.store.integrations.get(first, acme.id)
        )["personal_access_token"]
        == "pat-a"
    )


class Recorder(http.server.ThreadingHTTPServer):
    """A loopback server that records every request and answers ``answer``."""

    def __init__(self, answer=(200, {}, b"{}")):
        self.requests: list[tuple[str, str, str | None]] = []
        self.answer = answer
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_any(self):
                recorder.requests.append(
                    (self.command, self.path, self.headers.get("Authorization"))
                )
                status, headers, body = recorder.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_any

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def strict_client(tmp_path):
    """A host with the default outbound policy: loopback refused."""
    import falcon.testing

    from plugins.jira_server import plugin

    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("allow_loopback_destinations = true", ""))
    config = load_config(path, env={})
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(plugin, name="jira_server")
    host = Host(config, Store.for_config(config), pm)
    host.migrate()
    org = host.organizations.create("acme")
    headers = {"Authorization": f"Bearer {host.organizations.create_token(org)}"}
    client = falcon.testing.TestClient(checked_app(host))

    def call(method, path, **kwargs):
        return getattr(client, f"simulate_{method}")(
            f"/api/0/organizations/acme{path}", headers=headers, **kwargs
        )

    yield call
    host.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "127.1"])
def test_by_default_setup_cannot_reach_the_hosts_own_loopback(
    strict_client, recorder, address
):
    url = recorder.url.replace("127.0.0.1", address)
    answer = token_setup(strict_client, url, "pat")
    assert answer.status_code == 400
    assert "refused to connect to a loopback address" in answer.json["detail"]
    assert recorder.requests == []


@pytest.mark.parametrize("address", ["169.254.169.254", "0.0.0.0", "224.0.0.1"])
def test_link_local_unspecified_and_multicast_are_refused(strict_client, address):
    answer = token_setup(strict_client, f"http://{address}", "pat")
    assert answer.status_code == 400
    assert "refused to connect to a" in answer.json["detail"]


def test_a_redirect_is_not_followed_and_says_where_it_pointed(org_api, recorder):
    target = Recorder()
    try:
        recorder.answer = (302, {"Location": f"{target.url}/admin?token=x"}, b"")
        answer = token_setup(org_api("beta"), recorder.url, "pat-low")
        assert answer.status_code == 400
        assert answer.json["detail"] == (
            "Jira answered /rest/api/2/myself with a redirect (HTTP 302) to"
            f" {target.url}/admin: enter the URL Jira is served at, which"
            " trackbridge calls without following redirects."
        )
        assert target.requests == []
    finally:
        target.close()


def test_a_server_that_is_not_jira_is_named_so_without_echoing_it(org_api, recorder):
    recorder.answer = (
        404,
        {"Content-Type": "application/json"},
        b'{"errorMessages": ["internal admin page: secret=42"]}',
    )
    answer = token_setup(org_api("beta"), recorder.url, "pat-low")
    assert answer.status_code == 400
    assert "did not answer like Jira" in answer.json["detail"]
    assert "secret" not in answer.json["detail"]
    recorder.answer = (401, {}, b"internal: secret=42")
    answer = token_setup(org_api("beta"), recorder.url, "pat-low")
    assert answer.json["detail"] == "Jira refused the personal access token (HTTP 401)."


def test_allowed_hosts_applies_to_every_request_not_only_the_form(
    jira_host, jira_integration, org
):
    # The integration was installed before the allowlist existed.
    from plugins.jira_server import setup

    jira_host.config.sections["jira_server"] = {"allowed_hosts": "jira.example.com"}
    client = setup.integration_client(
        jira_host, jira_host.store.integrations.get(jira_integration.id, org.id)
    )
    from plugins.jira_core.client import JiraError

    with pytest.raises(JiraError) as raised:
        client.request("GET", "/rest/api/2/myself")
    assert raised.value.kind == "refused"
    assert "is not one of the hosts" in raised.value.detail


@pytest.mark.parametrize(
    "project",
    [
        "../../plugins/servlet/oauth/request-token",
        "..%2F..%2Fplugins%2Fservlet%2Foauth%2Frequest-token",
        "..",
        "PRJ/../../../plugins",
    ],
)
def test_a_path_parameter_cannot_leave_the_rest_api(
    api, jira, jira_integration, project
):
    before = len(jira.state.requests)
    answer = api(
        "get",
        f"/integrations/{jira_integration.id}/config",
        params={"project": project},
    )
    assert answer.status_code in (200, 400), answer.json
    for seen in jira.state.requests[before:]:
        assert seen.path.startswith("/rest/api/2/"), seen.path
        assert "/plugins/" not in seen.path


def test_rotating_the_webhook_secret_moves_jiras_webhook_and_kills_the_old_url(
    jira, org_api, jira_host, client
):
    jira.personal_tokens["pat-a"] = "svc"
    done = token_setup(org_api("acme"), jira.url, "pat-a", mode="automatic").json
    [old] = jira.webhooks.values()
    answer = org_api("acme")(
        "post", f"/integrations/{done['integration_id']}/rotate-webhook-secret"
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["message"] == "Jira's webhook now uses the new secret."
    assert answer.json["webhook_url"] is None
    [new] = jira.webhooks.values()
    assert new["url"] != old["url"]
    # What the console shows on its "Show the webhook URL" button: Jira's.
    integration = jira_host.store.integrations.get(done["integration_id"])
    assert jira_host.integrations.webhook_url(integration) == new["url"]
    secret = jira_host.store.integrations.credentials(done["integration_id"])
    token = new["url"].split("/")[-2]
    assert jwt.decode(token, secret["webhook_secret"], algorithms=["HS256"])
    body = b'{"webhookEvent": "jira:issue_updated", "changelog": {"items": [1]}}'
    stale = client.simulate_post(
        old["url"].replace("http://tb.example", ""),
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert stale.status_code == 400
    assert stale.json["detail"].startswith("Could not validate JWT")
    fresh = client.simulate_post(
        new["url"].replace("http://tb.example", ""),
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert fresh.status_code == 200
    # Another organization cannot rotate it.
    other = org_api("beta")(
        "post", f"/integrations/{done['integration_id']}/rotate-webhook-secret"
    )
    assert other.status_code == 404


def test_rotating_in_manual_mode_hands_back_the_new_url(jira, org_api, jira_host):
    jira.personal_tokens["pat-a"] = "svc"
    done = token_setup(org_api("acme"), jira.url, "pat-a").json
    answer = org_api("acme")(
        "post", f"/integrations/{done['integration_id']}/rotate-webhook-secret"
    ).json
    assert answer["webhook_url"].startswith(
        "http://tb.example/extensions/jira-server/issue-updated/"
    )
    assert "replace the webhook's URL" in answer["message"]
    assert jira.webhooks == {}
