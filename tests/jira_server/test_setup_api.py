"""Installing Jira Server through the JSON setup pipeline, against the fake Jira.

Covers the Sentry install scenarios (reference §8.1) and the failure paths:
each leaves a clear message and nothing saved.
"""

from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests

from tests.jira_server.test_fake_jira import CALLBACK


@pytest.fixture
def setup(api, jira_host):
    """Start a Jira Server pipeline; returns a function to post to it."""
    begun = api("post", "/setup", json={"provider": "jira_server"}).json
    url = f"/setup/{begun['pipeline']}"

    def post(**data):
        return api("post", url, json=data)

    post.begun = begun
    post.status = lambda: api("get", url)
    return post


def config_form(jira, key_pair, **changes):
    return {
        "url": jira.url + "/",
        "consumer_key": "trackbridge",
        "private_key": key_pair[0],
        **changes,
    }


def approve(jira, redirect_url: str) -> dict:
    """What the user's browser does at Jira: click Allow, follow the callback."""
    token = dict(parse_qsl(urlsplit(redirect_url).query))["oauth_token"]
    answer = requests.post(
        f"{jira.url}/plugins/servlet/oauth/authorize?oauth_token={token}",
        allow_redirects=False,
    )
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return dict(parse_qsl(urlsplit(location).query))


def count(host, table):
    return host.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_first_step_shows_the_form_and_no_oauth_values_yet(setup):
    """The callback URL belongs to the Application Link (OAuth's next step):
    shown here it would puzzle someone about to paste a token."""
    begun = setup.begun
    assert begun["step"]["name"] == "installation_config"
    names = [f["name"] for f in begun["fields"]]
    assert names[:4] == ["url", "verify_ssl", "ca_bundle", "auth_mode"]
    assert begun["instructions"] == []


def test_full_oauth_install_on_jira_9(setup, jira, key_pair, jira_host, api):
    advanced = setup(**config_form(jira, key_pair))
    assert advanced.status_code == 200
    assert advanced.json["step"]["name"] == "authorize"
    shown = {i["label"]: i["value"] for i in advanced.json["instructions"]}
    assert shown["Public key"] == key_pair[1]
    assert shown["Consumer key"] == "trackbridge"
    assert shown["Consumer callback URL"] == CALLBACK
    assert jira.requests == []  # nothing reaches Jira before the user continues

    redirect = setup()
    assert redirect.json["status"] == "redirect"
    assert redirect.json["redirect_url"].startswith(
        f"{jira.url}/plugins/servlet/oauth/authorize?oauth_token="
    )
    callback = approve(jira, redirect.json["redirect_url"])

    webhook_step = setup(**callback)
    assert webhook_step.json["step"]["name"] == "webhook"
    done = setup(webhook_mode="automatic")
    assert done.json["status"] == "complete", done.json

    integration = api("get", f"/integrations/{done.json['integration_id']}").json
    netloc = urlsplit(jira.url).netloc
    # the identity: the consumer key and the Jira user who approved it
    assert integration["external_id"] == f"{netloc}#oauth:trackbridge:admin"
    # named by Jira's title for itself and its host, not the consumer key
    assert integration["name"] == f"Fake Jira ({netloc})"
    assert integration["metadata"]["base_url"] == jira.url  # trailing slash gone
    assert integration["metadata"]["webhook_api"] == "/rest/webhooks/1.0/webhook"
    assert integration["metadata"]["server_version"] == "9.12.2"
    assert integration["config"] == {}
    credentials = all_credentials(jira_host, integration["id"])
    assert set(credentials) == {
        "consumer_key",
        "private_key",
        "access_token",
        "access_token_secret",
        "webhook_secret",
    }
    assert credentials["access_token"] in jira.access_tokens
    for name in (
        "private_key",
        "access_token",
        "access_token_secret",
        "webhook_secret",
    ):
        assert credentials[name] not in str(integration)

    [hook] = jira.webhooks.values()
    token = hook["url"].split("/")[-2]
    assert (
        hook["url"]
        == f"http://tb.example/extensions/jira-server/issue-updated/{token}/"
    )
    claims = jwt.decode(token, credentials["webhook_secret"], algorithms=["HS256"])
    assert claims == {"id": integration["external_id"]}
    # the access-token call used the callback's verifier
    [exchange] = jira.seen("/plugins/servlet/oauth/access-token")
    assert (
        f'oauth_verifier="{callback["oauth_verifier"]}"'
        in exchange.headers["Authorization"]
    )


def test_jira_10_gets_the_new_webhook_endpoint(setup, jira, key_pair):
    jira.version = "10.0.1"
    setup(**config_form(jira, key_pair))
    callback = approve(jira, setup().json["redirect_url"])
    setup(**callback)
    assert setup(webhook_mode="automatic").json["status"] == "complete"
    assert jira.seen("/rest/jira-webhook/1.0/webhooks", "POST")
    assert not jira.seen("/rest/webhooks/1.0/webhook")


def test_a_pasted_verifier_works_without_a_callback(setup, jira, key_pair):
    setup(**config_form(jira, key_pair))
    redirect = setup().json["redirect_url"]
    token = dict(parse_qsl(urlsplit(redirect).query))["oauth_token"]
    verifier = jira.approve(token)  # shown to the user by Jira, out of band
    assert setup(oauth_verifier=verifier).json["step"]["name"] == "webhook"


def test_the_callback_token_serves_as_verifier_like_sentry(setup, jira, key_pair):
    setup(**config_form(jira, key_pair))
    token = dict(parse_qsl(urlsplit(setup().json["redirect_url"]).query))["oauth_token"]
    jira.request_tokens[token]["verifier"] = token  # a link that echoes the token
    assert setup(oauth_token=token).json["step"]["name"] == "webhook"


def test_personal_access_token_install(setup, jira, jira_host, api):
    jira.personal_tokens["pat-123"] = "svc-trackbridge"
    step = setup(url=jira.url, auth_mode="token", personal_access_token="pat-123")
    assert step.json["step"]["name"] == "webhook"
    assert step.json["total_steps"] == 2
    done = setup(webhook_mode="automatic").json
    integration = api("get", f"/integrations/{done['integration_id']}").json
    assert integration["external_id"] == (
        f"{urlsplit(jira.url).netloc}#token:svc-trackbridge"
    )
    assert (
        jira.seen("/rest/webhooks/1.0/webhook", "POST")[0].auth
        == "bearer:svc-trackbridge"
    )
    credentials = all_credentials(jira_host, integration["id"])
    assert credentials["personal_access_token"] == "pat-123"


def test_a_refused_personal_access_token_says_so(setup, jira, jira_host):
    response = setup(url=jira.url, auth_mode="token", personal_access_token="wrong")
    assert response.status_code == 400
    assert response.json["detail"] == (
        "Jira refused the personal access token (HTTP 401)."
    )
    assert setup.status().json["step"]["name"] == "installation_config"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"url": "jira.example.com/"}, "url"),
        ({"private_key": "hot-garbage"}, "private_key"),
        ({"consumer_key": "k" * 201}, "consumer_key"),
    ],
)
def test_invalid_forms_never_reach_jira(setup, jira, key_pair, changes, field):
    response = setup(**config_form(jira, key_pair, **changes))
    assert response.status_code == 400
    assert list(response.json["errors"]) == [field]
    assert jira.requests == []


@pytest.mark.parametrize(
    "failure, message",
    [
        ((503, "", "text/plain"), "Could not fetch a request token from Jira."),
        ((200, "no_token=oops&foo=bar", "text/plain"), "Missing oauth_token"),
        ((200, "oauth_token=req-token", "text/plain"), "Missing oauth_token"),
        (
            (401, "oauth_problem=consumer_key_unknown", "text/plain"),
            "Application Link's incoming authentication",
        ),
    ],
)
def test_request_token_failures(setup, jira, key_pair, failure, message):
    jira.failures["/plugins/servlet/oauth/request-token"] = failure
    setup(**config_form(jira, key_pair))
    response = setup()
    assert response.status_code == 400
    assert message in response.json["detail"]


def test_a_request_token_timeout_says_so(setup, jira, key_pair, monkeypatch):
    monkeypatch.setattr("plugins.jira_core.client.READ_TIMEOUT", 0.2)
    jira.delays["/plugins/servlet/oauth/request-token"] = 1
    setup(**config_form(jira, key_pair))
    detail = setup().json["detail"]
    assert detail.startswith("Could not fetch a request token from Jira. Timed out")


@pytest.mark.parametrize(
    "failure",
    [
        (500, "<html>it broke</html>", "text/html"),
        (404, "oauth_error=token+expired", "text/plain"),
    ],
)
def test_access_token_failures(setup, jira, key_pair, jira_host, failure):
    setup(**config_form(jira, key_pair))
    callback = approve(jira, setup().json["redirect_url"])
    jira.failures["/plugins/servlet/oauth/access-token"] = failure
    response = setup(**callback)
    assert response.status_code == 400
    assert response.json["detail"].startswith(
        "Could not fetch an access token from Jira."
    )
    assert count(jira_host, "integrations") == 0


def test_a_webhook_failure_saves_nothing(setup, jira, key_pair, jira_host):
    setup(**config_form(jira, key_pair))
    setup(**approve(jira, setup().json["redirect_url"]))
    jira.failures["/rest/webhooks/1.0/webhook"] = (502, "Bad things", "text/plain")
    response = setup(webhook_mode="automatic")
    assert response.status_code == 400
    assert "Could not create issue webhook in Jira." in response.json["detail"]
    assert [count(jira_host, t) for t in ("integrations", "credentials")] == [0, 0]


def test_a_non_admin_is_told_before_the_webhook_is_tried(
    setup, jira, key_pair, jira_host
):
    jira.admin = False
    setup(**config_form(jira, key_pair))
    setup(**approve(jira, setup().json["redirect_url"]))
    response = setup(webhook_mode="automatic")
    assert "not a Jira administrator" in response.json["detail"]
    assert jira.seen("/rest/webhooks/1.0/webhook") == []
    assert count(jira_host, "integrations") == 0
    # ...and manual mode still installs, waiting for the admin's webhook
    done = setup(webhook_mode="manual").json
    assert done["status"] == "complete"
    integration = jira_host.store.integrations.get(done["integration_id"])
    assert integration.metadata["webhook_status"] == "waiting for first webhook"


def test_the_webhook_step_shows_the_manual_url_and_events(setup, jira, key_pair):
    setup(**config_form(jira, key_pair))
    step = setup(**approve(jira, setup().json["redirect_url"])).json
    shown = {i["label"]: i["value"] for i in step["instructions"]}
    assert shown["Webhook URL"].startswith(
        "http://tb.example/extensions/jira-server/issue-updated/"
    )
    assert shown["Events"] == (
        "jira:issue_created, jira:issue_updated, jira:issue_deleted,"
        " comment_created, comment_updated"
    )


def test_a_long_consumer_key_is_kept_whole_in_the_external_id(
    setup, jira, key_pair, api
):
    key = "a-very-long-consumer-key-that-when-combined-with-the-host-is-long"
    jira.consumers[key] = key_pair[1]
    setup(**config_form(jira, key_pair, consumer_key=key))
    setup(**approve(jira, setup().json["redirect_url"]))
    done = setup(webhook_mode="automatic").json
    external_id = api("get", f"/integrations/{done['integration_id']}").json[
        "external_id"
    ]
    assert external_id == f"{urlsplit(jira.url).netloc}#oauth:{key}:admin"


def install_with_token(setup, jira):
    jira.personal_tokens["pat-123"] = "svc"
    setup(url=jira.url, auth_mode="token", personal_access_token="pat-123")
    return setup(webhook_mode="automatic").json["integration_id"]


def test_removing_the_integration_deletes_its_webhook(setup, jira, jira_host, api):
    integration_id = install_with_token(setup, jira)
    assert len(jira.webhooks) == 1
    assert api("delete", f"/integrations/{integration_id}").status_code == 204
    assert jira.webhooks == {}
    assert jira.seen("/rest/webhooks/1.0/webhook/1", "DELETE")[0].auth == "bearer:svc"
    assert count(jira_host, "credentials") == 0


def test_a_webhook_already_gone_in_jira_does_not_block_removal(
    setup, jira, jira_host, api
):
    integration_id = install_with_token(setup, jira)
    jira.webhooks.clear()
    assert api("delete", f"/integrations/{integration_id}").status_code == 204
    assert count(jira_host, "integrations") == 0


def test_an_unreachable_jira_does_not_block_removal(
    setup, jira, jira_host, api, caplog
):
    integration_id = install_with_token(setup, jira)
    jira.failures["/rest/webhooks/1.0/webhook/1"] = (500, "", "text/plain")
    assert api("delete", f"/integrations/{integration_id}").status_code == 204
    assert count(jira_host, "integrations") == 0
    assert "remote clean-up incomplete" in caplog.text
    assert "pat-123" not in caplog.text


def full_oauth_install(setup_factory, jira, key_pair):
    post = setup_factory()
    post(**config_form(jira, key_pair))
    post(**approve(jira, post().json["redirect_url"]))
    return post(webhook_mode="automatic").json


@pytest.fixture
def setup_factory(api, jira_host):
    """Start as many pipelines as a test needs."""

    def start():
        begun = api("post", "/setup", json={"provider": "jira_server"}).json
        url = f"/setup/{begun['pipeline']}"
        return lambda **data: api("post", url, json=data)

    return start


def test_a_401_marks_the_integration_and_setup_again_repairs_it(
    setup_factory, jira, key_pair, jira_host, api, org
):
    from host.types import TrackerIssue
    from plugins.jira_core.client import JiraError
    from plugins.jira_server.setup import integration_client

    integration_id = full_oauth_install(setup_factory, jira, key_pair)["integration_id"]
    api("put", f"/integrations/{integration_id}", json={"sync_comments": True})
    group = jira_host.groups.create(org, "boom", "")
    issue_id = jira_host.store.integrations.upsert_external_issue(
        integration_id,
        TrackerIssue(
            key="APP-1", external_id="10001", title="", description="", url=""
        ),
    )
    jira_host.store.integrations.link(group.id, issue_id)

    jira.access_tokens.clear()  # an admin revoked trackbridge's access in Jira
    integration = jira_host.store.integrations.get(integration_id)
    with pytest.raises(JiraError):
        integration_client(jira_host, integration).request("GET", "/rest/api/2/myself")
    assert (
        api("get", f"/integrations/{integration_id}").json["status"] == "needs_reauth"
    )

    again = full_oauth_install(setup_factory, jira, key_pair)
    assert again["integration_id"] == integration_id
    shown = api("get", f"/integrations/{integration_id}").json
    assert shown["status"] == "active"
    assert shown["config"] == {"sync_comments": True}
    assert [i.key for i in jira_host.store.integrations.issues_for_group(group.id)] == [
        "APP-1"
    ]
    assert len(jira.webhooks) == 1  # the existing webhook is kept, not duplicated
    me = integration_client(jira_host, jira_host.store.integrations.get(integration_id))
    assert me.request("GET", "/rest/api/2/myself")["name"] == "admin"


def test_installing_again_keeps_the_webhook_secret(
    setup_factory, jira, key_pair, jira_host
):
    first = full_oauth_install(setup_factory, jira, key_pair)["integration_id"]
    secret = jira_host.store.integrations.credentials(first)["webhook_secret"]
    full_oauth_install(setup_factory, jira, key_pair)
    assert jira_host.store.integrations.credentials(first)["webhook_secret"] == secret
    [hook] = jira.webhooks.values()
    claims = jwt.decode(hook["url"].split("/")[-2], secret, algorithms=["HS256"])
    assert claims["id"].endswith("#oauth:trackbridge:admin")


def test_a_second_organization_shares_the_same_jira(
    setup_factory, jira, key_pair, jira_host, client
):
    first = full_oauth_install(setup_factory, jira, key_pair)["integration_id"]
    other = jira_host.organizations.create("other")
    headers = {"Authorization": f"Bearer {jira_host.organizations.create_token(other)}"}
    base = "/api/0/organizations/other/setup"

    def post(path, **data):
        return client.simulate_post(path, json=data, headers=headers).json

    pipeline = f"{base}/{post(base, provider='jira_server')['pipeline']}"
    post(pipeline, **config_form(jira, key_pair))
    post(pipeline, **approve(jira, post(pipeline)["redirect_url"]))
    second = post(pipeline, webhook_mode="automatic")["integration_id"]
    assert second == first
    orgs = jira_host.store.integrations.org_integrations(first)
    assert [o.organization_id for o in orgs] == [1, other.id]
    assert len(jira.webhooks) == 1


def test_a_jira_outside_the_allowed_hosts_is_refused_before_any_call(
    setup, jira, key_pair, jira_host
):
    import dataclasses

    jira_host.config = dataclasses.replace(
        jira_host.config,
        sections={
            **jira_host.config.sections,
            "jira_server": {"allowed_hosts": "jira.corp.example"},
        },
    )
    response = setup(**config_form(jira, key_pair))
    assert response.status_code == 400
    assert "allowed_hosts" in response.json["errors"]["url"][0]
    assert jira.requests == []


def all_credentials(host, integration_id):
    """The shared secrets and the (first) installing organization's own."""
    return host.integrations.credentials(host.store.integrations.get(integration_id))
