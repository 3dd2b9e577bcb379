"""Linking Jira issues and searching Jira from the host API (fake Jira)."""

import pytest

from tests.fake_jira import add_issue


@pytest.fixture
def prj(jira, jira_host):
    jira.users["ann.k"] = {
        "name": "ann.k",
        "key": "ann.k",
        "displayName": "Ann K",
        "emailAddress": "ann@example.com",
    }
    add_issue(jira, "PRJ-7", "10007")
    jira.issues["PRJ-7"]["fields"]["summary"] = 'Checkout "fails" on Friday'
    return jira


@pytest.fixture
def group(jira_host, org):
    return jira_host.groups.create(org, "KeyError", "app.py")


def link(api, group, integration, **body):
    return api(
        "post",
        f"/groups/{group.id}/links",
        json={"integration_id": integration.id, **body},
    )


def test_linking_checks_the_issue_and_stores_its_id_and_url(
    prj, api, group, jira_integration, jira
):
    response = link(api, group, jira_integration, key="PRJ-7", comment="Linked here")
    assert response.status_code == 201, response.json
    assert response.json["key"] == "PRJ-7"
    assert response.json["url"] == f"{jira.url}/browse/PRJ-7"
    [issue] = api("get", f"/groups/{group.id}").json["external_issues"]
    assert issue["external_id"] == "10007"
    assert issue["title"] == 'Checkout "fails" on Friday'
    assert list(jira.issues["PRJ-7"]["comments"].values()) == ["Linked here"]


def test_linking_without_a_comment_posts_none(prj, api, group, jira_integration, jira):
    assert link(api, group, jira_integration, key="PRJ-7").status_code == 201
    assert jira.issues["PRJ-7"]["comments"] == {}


def test_linking_an_unknown_issue_is_404(prj, api, group, jira_integration):
    response = link(api, group, jira_integration, key="PRJ-404")
    assert response.status_code == 404
    assert "PRJ-404 does not exist" in response.json["detail"]


@pytest.mark.parametrize("key", ["../../serverInfo", "PRJ 7", "", "-1"])
def test_a_key_that_is_not_a_key_never_reaches_jira(
    prj, api, group, jira_integration, jira, key
):
    response = link(api, group, jira_integration, key=key)
    assert response.status_code == 400
    assert not [r for r in jira.requests if "serverInfo" in r.path or "issue" in r.path]


def search(api, integration, **params):
    return api("get", f"/integrations/{integration.id}/search", params=params)


def test_search_by_key_and_by_text(prj, api, jira_integration, jira):
    by_key = search(api, jira_integration, field="externalIssue", query="PRJ-7")
    assert by_key.json == [
        {"value": "PRJ-7", "label": '(PRJ-7) Checkout "fails" on Friday'}
    ]
    assert jira.seen("/rest/api/2/search")[0].query["jql"] == 'id="PRJ-7"'
    by_text = search(api, jira_integration, field="externalIssue", query='"fails"')
    assert [c["value"] for c in by_text.json] == ["PRJ-7"]
    assert jira.seen("/rest/api/2/search")[1].query["jql"] == 'text ~ "\\"fails\\""'


def test_user_search_in_a_project(prj, api, jira_integration, jira):
    found = search(api, jira_integration, field="assignee", query="ann", project="PRJ")
    assert found.json == [
        {"value": "ann.k", "label": "Ann K - ann@example.com (ann.k)"}
    ]
    assert jira.seen("/rest/api/2/user/assignable/search")[0].query == {
        "project": "PRJ",
        "username": "ann",
    }
    missing = search(api, jira_integration, field="assignee", query="ann")
    assert missing.status_code == 400
    assert missing.json["errors"] == {"project": ["Choose a Jira project first."]}


def test_search_needs_field_and_query(prj, api, jira_integration):
    assert search(api, jira_integration, query="x").json == {
        "detail": "field is a required parameter",
        "errors": {"field": ["This parameter is required."]},
    }
    assert search(api, jira_integration, field="externalIssue").json == {
        "detail": "query is a required parameter",
        "errors": {"query": ["This parameter is required."]},
    }


def test_jira_down_during_search_is_a_clear_400(prj, api, jira_integration, jira):
    jira.failures["/rest/api/2/search"] = (502, "Bad Gateway", "text/plain")
    response = search(api, jira_integration, field="externalIssue", query="x")
    assert response.status_code == 400
    assert "HTTP 502" in response.json["detail"]
