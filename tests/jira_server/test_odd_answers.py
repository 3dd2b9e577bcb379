"""Jira answering 200 with a shape nobody expected: the client boundary says
so in a JiraError; nothing further in fails with AttributeError or KeyError
(which answered 500, or failed a job with a traceback)."""

import json

import pytest

from host.errors import SetupError
from host.jobs import Worker
from host.services.groups import Source
from plugins.jira_core.client import JiraClient, TokenCredentials
from plugins.jira_server.setup import authenticated_user
from tests.fake_jira import add_issue
from tests.jira_server.test_client import LOOPBACK

#: Bodies Jira never sends where an object is expected.
NOT_AN_OBJECT = ["[]", '[{"name": "admin"}]', '"admin"', "42", "null", "true"]


def answer(jira, path, body, status=200):
    jira.failures[path] = (status, body, "application/json")


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_myself_answering_a_list_or_a_value_is_a_setup_error(jira, body):
    answer(jira, "/rest/api/2/myself", body)
    client = JiraClient(jira.url, TokenCredentials("t"), session=LOOPBACK.session())
    with pytest.raises(SetupError, match=r"Jira answered /rest/api/2/myself with"):
        authenticated_user(client, "the personal access token")


@pytest.mark.parametrize("body", ["{}", '{"key": 5, "name": null}', '{"key": ""}'])
def test_myself_naming_no_user_is_a_setup_error(jira, body):
    answer(jira, "/rest/api/2/myself", body)
    client = JiraClient(jira.url, TokenCredentials("t"), session=LOOPBACK.session())
    with pytest.raises(SetupError, match="named no user"):
        authenticated_user(client, "the personal access token")


@pytest.mark.parametrize(
    "body, problem",
    [
        ('{"key": "PRJ-7"}', "without a usable 'id'"),
        ('{"key": "PRJ-7", "id": null}', "without a usable 'id'"),
        ('{"key": "PRJ-7", "id": true}', "without a usable 'id'"),
        ('{"id": "10007"}', "without a usable 'key'"),
        ('{"id": "10007", "key": ["PRJ-7"]}', "without a usable 'key'"),
        ("[]", "with a list, not an object"),
    ],
)
def test_an_issue_without_its_id_or_key_is_a_clear_502_when_linking(
    jira, api, jira_host, org, jira_integration, body, problem
):
    add_issue(jira, "PRJ-7", "10007")
    answer(jira, "/rest/api/2/issue/PRJ-7", body)
    group = jira_host.groups.create(org, "KeyError", "app.py")
    response = api(
        "post",
        f"/groups/{group.id}/links",
        json={"integration_id": jira_integration.id, "key": "PRJ-7"},
    )
    assert response.status_code == 502, response.json
    assert problem in response.json["detail"]
    assert api("get", f"/groups/{group.id}").json["external_issues"] == []


@pytest.mark.parametrize("body", ["{}", '{"id": {"x": 1}}', "[]"])
def test_a_comment_answer_without_an_id_is_recorded_not_retried(
    jira, api, jira_host, org, jira_integration, link, configure, body
):
    """Jira may have added the comment: trying again could add it twice."""
    configure(sync_comments=True)
    group = link("PRJ-7", "10007")
    answer(jira, "/rest/api/2/issue/PRJ-7/comment", body, status=201)
    jira_host.groups.add_comment(group, "hello", Source(user=True))
    Worker(jira_host).run_once()
    [job] = jira_host.store.jobs.list((), 10)
    assert job["state"] == "done", job
    [failed] = [
        a
        for a in api("get", f"/groups/{group.id}/activity").json
        if a["type"] == "sync_outbound_failed"
    ]
    assert "Jira answered /rest/api/2/issue/{key}/comment" in failed["data"]["message"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/rest/api/2/project", "{}"),
        ("/rest/api/2/project", '[1, "x", {"key": "NOID"}, {"id": true}]'),
        ("/rest/api/2/project", '{"values": []}'),
    ],
)
def test_project_lists_of_the_wrong_shape_never_answer_500(
    jira, api, jira_integration, path, body
):
    """(A picker's failure is a 400, as Sentry's frontend expects.)"""
    answer(jira, path, body)
    response = api(
        "get", f"/integrations/{jira_integration.id}/search?field=project&query=a"
    )
    if body.startswith("["):
        assert response.status_code == 200, response.json
        assert response.json == []  # nothing usable was in it
    else:
        assert response.status_code == 400, response.json
        assert "with an object, not a list" in response.json["detail"]


def test_statuses_of_the_wrong_shape_make_the_delivery_wait_not_crash(
    jira, jira_host, org, jira_integration, link, configure
):
    """The done-status list (for a status change) answered as an object: the
    job records why and tries again; nothing raises AttributeError."""
    configure(sync_status_reverse=True)
    link("PRJ-7", "10007")
    answer(jira, "/rest/api/2/status", '{"statuses": []}')
    body = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1_700_000_000_000,
        "issue": {
            "id": "10007",
            "key": "PRJ-7",
            "fields": {"status": {"id": "10001", "name": "Done"}},
        },
        "changelog": {
            "items": [{"field": "status", "fieldtype": "jira", "to": "10001"}]
        },
    }
    delivery = jira_host.inbound.store_delivery(
        jira_integration.id,
        _request(json.dumps(body).encode()),
    )
    Worker(jira_host).run_once()
    row = jira_host.store.deliveries.get(delivery)
    job = jira_host.store.jobs.list((), 10)[0]
    assert row.status == "received" and job["state"] == "queued"
    assert "with an object, not a list" in (job["last_error"] or "")


def _request(body: bytes):
    from host.types import WebhookRequest

    return WebhookRequest(
        provider="jira_server",
        method="POST",
        path="issue-updated/x/",
        headers={},
        query={},
        body=body,
    )
