"""The fake Jira is strict the way Jira is: later tests rely on it."""

from urllib.parse import parse_qsl

import pytest
import requests
from requests_oauthlib import OAuth1

from tests.jira_server.conftest import make_key_pair

CALLBACK = "http://tb.example/extensions/jira-server/setup/"


def oauth(key_pair, **kwargs):
    return OAuth1(
        "trackbridge", rsa_key=key_pair[0], signature_method="RSA-SHA1", **kwargs
    )


def request_token(jira, key_pair, callback=CALLBACK) -> dict:
    response = requests.post(
        f"{jira.url}/plugins/servlet/oauth/request-token",
        auth=oauth(key_pair, callback_uri=callback),
    )
    return dict(parse_qsl(response.text))


def dance(jira, key_pair):
    """Request token, approval, access token: the happy path."""
    url = f"{jira.url}/plugins/servlet/oauth"
    request = request_token(jira, key_pair)
    approved = requests.post(
        f"{url}/authorize?oauth_token={request['oauth_token']}", allow_redirects=False
    )
    callback = dict(parse_qsl(approved.headers["Location"].split("?", 1)[1]))
    assert approved.headers["Location"].startswith(CALLBACK)
    response = requests.post(
        f"{url}/access-token",
        auth=oauth(
            key_pair,
            resource_owner_key=request["oauth_token"],
            resource_owner_secret=request["oauth_token_secret"],
            verifier=callback["oauth_verifier"],
        ),
    )
    assert response.status_code == 200, response.text
    return dict(parse_qsl(response.text))


def test_the_oauth_dance_gives_a_working_access_token(jira, key_pair):
    access = dance(jira, key_pair)
    me = requests.get(
        f"{jira.url}/rest/api/2/myself",
        auth=oauth(
            key_pair,
            resource_owner_key=access["oauth_token"],
            resource_owner_secret=access["oauth_token_secret"],
        ),
    )
    assert me.json()["name"] == "admin"
    assert jira.seen("/rest/api/2/myself")[0].auth == "oauth:trackbridge"


@pytest.mark.parametrize(
    "auth, problem",
    [
        (
            lambda kp: OAuth1("trackbridge", client_secret="s"),
            "signature_method_rejected",
        ),
        (
            lambda kp: OAuth1("nobody", rsa_key=kp[0], signature_method="RSA-SHA1"),
            "consumer_key_unknown",
        ),
        (
            lambda kp: OAuth1(
                "trackbridge", rsa_key=make_key_pair()[0], signature_method="RSA-SHA1"
            ),
            "signature_invalid",
        ),
    ],
)
def test_bad_signatures_get_jiras_oauth_problem(jira, key_pair, auth, problem):
    response = requests.post(
        f"{jira.url}/plugins/servlet/oauth/request-token", auth=auth(key_pair)
    )
    assert response.status_code == 401
    assert response.text == f"oauth_problem={problem}"


def test_a_replayed_request_is_refused_as_nonce_used(jira, key_pair):
    access = dance(jira, key_pair)
    signed = requests.Request(
        "GET",
        f"{jira.url}/rest/api/2/myself",
        auth=oauth(
            key_pair,
            resource_owner_key=access["oauth_token"],
            resource_owner_secret=access["oauth_token_secret"],
        ),
    ).prepare()
    with requests.Session() as session:
        assert session.send(signed).status_code == 200
        replay = session.send(signed)
    assert (replay.status_code, replay.text) == (401, "oauth_problem=nonce_used")


def test_an_unapproved_request_token_cannot_be_exchanged(jira, key_pair):
    url = f"{jira.url}/plugins/servlet/oauth"
    request = request_token(jira, key_pair, "oob")
    response = requests.post(
        f"{url}/access-token",
        auth=oauth(
            key_pair,
            resource_owner_key=request["oauth_token"],
            resource_owner_secret=request["oauth_token_secret"],
            verifier="guess",
        ),
    )
    assert response.text == "oauth_problem=permission_unknown"


def test_out_of_band_approval_shows_the_verifier(jira, key_pair):
    url = f"{jira.url}/plugins/servlet/oauth"
    token = request_token(jira, key_pair, "oob")
    page = requests.post(f"{url}/authorize?oauth_token={token['oauth_token']}").text
    assert "verification code" in page
    assert jira.request_tokens[token["oauth_token"]]["verifier"] in page


def test_webhook_resources_follow_the_version(jira):
    jira.personal_tokens["pat"] = "admin"
    headers = {"Authorization": "Bearer pat"}
    body = {"name": "x", "url": "http://tb.example/hook", "events": []}
    legacy = f"{jira.url}/rest/webhooks/1.0/webhook"
    modern = f"{jira.url}/rest/jira-webhook/1.0/webhooks"
    assert requests.post(legacy, json=body, headers=headers).status_code == 201
    assert requests.post(modern, json=body, headers=headers).status_code == 404
    jira.version = "10.3.1"
    created = requests.post(modern, json=body, headers=headers)
    assert created.json()["id"] == 2
    assert requests.post(legacy, json=body, headers=headers).status_code == 404
    assert requests.delete(f"{modern}/2", headers=headers).status_code == 204
    assert requests.delete(f"{modern}/2", headers=headers).status_code == 404


def test_only_admins_create_webhooks(jira):
    jira.personal_tokens["pat"] = "dev"
    jira.admin = False
    response = requests.post(
        f"{jira.url}/rest/webhooks/1.0/webhook",
        json={"name": "trackbridge", "url": "u", "events": []},
        headers={"Authorization": "Bearer pat"},
    )
    assert response.status_code == 403
    assert response.json() == {
        "messages": [
            {"key": "You do not have permission to create WebHook 'trackbridge'."}
        ]
    }
    perms = requests.get(
        f"{jira.url}/rest/api/2/mypermissions", headers={"Authorization": "Bearer pat"}
    ).json()
    assert perms["permissions"]["ADMINISTER"]["havePermission"] is False


def test_injected_failures_and_unauthenticated_calls(jira):
    jira.failures["/rest/api/2/serverInfo"] = (
        500,
        "<html>it broke</html>",
        "text/html",
    )
    assert requests.get(f"{jira.url}/rest/api/2/serverInfo").status_code == 500
    assert requests.get(f"{jira.url}/rest/api/2/myself").status_code == 401


def test_the_spec_oracle_knows_good_requests_from_bad():
    from tests import jira_spec

    if not jira_spec.available():
        pytest.skip(f"the Jira DC 10.3 spec is not at {jira_spec.SPEC}")
    check = jira_spec.violations
    assert check("GET", "/rest/api/2/user", {"username": "ann"}, b"") == []
    assert check("GET", "/rest/api/2/project/TES/statuses", {}, b"") == []
    assert check("GET", "/rest/api/2/user", {"email": "a@b"}, b"") == [
        "GET /api/2/user: query parameter 'email' is not in the spec"
    ]
    assert check("GET", "/rest/api/2/nothing/here", {}, b"") == [
        "GET /rest/api/2/nothing/here is not in the Jira DC 10.3 spec"
    ]
    assert check("GET", "/plugins/servlet/oauth/authorize", {"x": "1"}, b"") == []
