"""Creating Jira issues from a group, through the host API (fake Jira).

The reference's §8.4 create scenarios, against create metadata served the
way Jira DC 10.3 serves it (paginated, per project and issue type).
"""

import json

import pytest

from host import deadlines
from tests.fake_jira_create import add_project


@pytest.fixture
def projects(jira):
    jira.users["ann.k"] = {
        "name": "ann.k",
        "key": "ann.k",
        "displayName": "Ann K",
        "emailAddress": "ann@example.com",
    }
    add_project(jira, "PRJ", "10000", "Checkout")
    add_project(jira, "ABC", "10001", "Accounts")
    return jira


@pytest.fixture
def group(jira_host, org):
    return jira_host.groups.create(org, "KeyError: 'cart'", "shop/cart.py in total")


@pytest.fixture
def create_url(group, jira_integration):
    return f"/groups/{group.id}/integrations/{jira_integration.id}/create"


def form(api, url, **params):
    response = api("get", url, params=params)
    assert response.status_code == 200, response.json
    return {f["name"]: f for f in response.json["fields"]}


def test_the_form_follows_the_create_metadata(projects, api, create_url, group):
    fields = form(api, create_url)
    assert list(fields) == [
        "project",
        "title",
        "description",
        "issuetype",
        "priority",
        "fixVersions",
        "components",
        "assignee",
        "customfield_10100",
        "customfield_10101",
        "customfield_10200",
        "customfield_10201",
        "customfield_10202",
        "customfield_10203",
        "duedate",
        "environment",
        "labels",
        "reporter",
        "timetracking",
    ]
    project = fields["project"]
    assert project["default"] == "10001"  # ABC sorts first
    assert [c["label"] for c in project["choices"]] == [
        "ABC \u2013 Accounts",
        "PRJ \u2013 Checkout",
    ]
    assert project["updates_form"] and fields["issuetype"]["updates_form"]
    assert fields["title"]["default"] == "KeyError: 'cart'"
    assert fields["description"]["default"] == (
        f"trackbridge group: [#{group.id}|http://tb.example/console/acme"
        f"/groups/{group.id}]\n\n{{code}}\nshop/cart.py in total\n{{code}}"
    )
    assert fields["issuetype"]["default"] == "10002"
    assert [c["label"] for c in fields["issuetype"]["choices"]] == ["Task", "Bug"]
    # The project's own priority scheme, not every priority Jira has.
    assert [c["label"] for c in fields["priority"]["choices"]] == [
        "High",
        "Medium",
        "Low",
    ]
    assert fields["fixVersions"]["multiple"]
    assert [c["label"] for c in fields["fixVersions"]["choices"]] == ["1.0", "1.1"]
    assert fields["customfield_10200"]["choices"] == [
        {"value": "sad", "label": "sad"},
        {"value": "happy", "label": "happy"},
    ]
    assert fields["customfield_10201"]["multiple"]
    for name in ("assignee", "reporter", "customfield_10100", "customfield_10101"):
        assert fields[name]["type"] == "select" and fields[name]["choices"] == []
        assert fields[name]["search_url"].endswith(f"search?field={name}")
    assert fields["reporter"]["required"] is True
    assert fields["customfield_10202"]["type"] == "number"
    assert fields["customfield_10203"]["type"] == "textarea"
    assert fields["labels"]["default"] == ""


def test_the_form_reads_each_piece_of_metadata_once(projects, api, create_url):
    form(api, create_url)
    form(api, create_url)
    assert len(projects.seen("/rest/api/2/project")) == 1
    assert len(projects.seen("/rest/api/2/issue/createmeta/10001/issuetypes")) == 1
    assert not projects.seen("/rest/api/2/priority")


def test_params_choose_the_project_and_issue_type(projects, api, create_url):
    fields = form(api, create_url, project="PRJ", issuetype="10004")
    assert fields["project"]["default"] == "10000"
    assert fields["issuetype"]["default"] == "10004"
    assert fields["customfield_10204"]["required"]
    unknown = form(api, create_url, project="10000", issuetype="999")
    assert unknown["issuetype"]["default"] == "10002"


def test_paginated_create_metadata_is_read_to_the_end(projects, api, create_url):
    projects.createmeta_page_size = 4
    fields = form(api, create_url)
    assert "timetracking" in fields and "assignee" in fields
    pages = projects.seen("/rest/api/2/issue/createmeta/10001/issuetypes/10002")
    assert [p.query["startAt"] for p in pages] == ["0", "4", "8", "12", "16", "20"]


def test_old_jira_falls_back_to_the_legacy_create_metadata(projects, api, create_url):
    projects.legacy_createmeta = True
    fields = form(api, create_url, issuetype="10004")
    assert fields["issuetype"]["default"] == "10004"
    assert "customfield_10204" in fields and "priority" in fields
    [legacy] = projects.seen("/rest/api/2/issue/createmeta")
    assert legacy.query["projectIds"] == "10001"


def test_ignored_fields_are_hidden_but_required_ones_stay(
    projects, api, create_url, configure
):
    configure(issues_ignored_fields="customfield_10200, customfield_10204")
    fields = form(api, create_url, issuetype="10004")
    assert "customfield_10200" not in fields
    assert "customfield_10204" in fields


def test_no_projects_is_a_clear_error(projects, api, create_url):
    projects.projects.clear()
    response = api("get", create_url)
    assert response.status_code == 400
    assert "Could not fetch the project list from Jira" in response.json["detail"]


def test_unreadable_create_metadata_keeps_the_project_choice(projects, api, create_url):
    projects.failures["/rest/api/2/issue/createmeta/10001/issuetypes/10002"] = (
        403,
        json.dumps({"errorMessages": ["You cannot create issues here."]}),
        "application/json",
    )
    fields = form(api, create_url)
    assert list(fields) == ["project", "error"]
    assert fields["error"]["type"] == "notice"
    assert "You cannot create issues here." in fields["error"]["help"]
    assert len(fields["project"]["choices"]) == 2


def test_creating_sends_each_field_as_jira_expects(
    projects, api, create_url, group, jira_integration
):
    response = api(
        "post",
        create_url,
        json={
            "project": "10000",
            "issuetype": "10002",
            "title": "x" * 300,
            "description": "It broke.",
            "priority": "3",
            "labels": "fuzzy , ,  bunnies",
            "fixVersions": ["10000"],
            "components": "10100,10101",
            "assignee": "ann.k",
            "customfield_10100": "7",
            "customfield_10101": "PRJ-1",
            "customfield_10200": "sad",
            "customfield_10201": ["wow", "devil"],
            "customfield_10202": "3",
            "duedate": "2026-12-01",
            "timetracking": "2d",
            "environment": "",
        },
    )
    assert response.status_code == 201, response.json
    [post] = projects.seen("/rest/api/2/issue", "POST")
    sent = post.json()["fields"]
    assert sent == {
        "project": {"id": "10000"},
        "issuetype": {"id": "10002"},
        "summary": "x" * 255,
        "description": f"It broke.\n\ntrackbridge group: [#{group.id}|http://tb."
        f"example/console/acme/groups/{group.id}]",
        "priority": {"id": "3"},
        "labels": ["fuzzy", "bunnies"],
        "fixVersions": [{"id": "10000"}],
        "components": [{"id": "10100"}, {"id": "10101"}],
        "assignee": {"name": "ann.k"},
        "customfield_10100": 7,
        "customfield_10101": "PRJ-1",
        "customfield_10200": {"value": "sad"},
        "customfield_10201": [{"value": "wow"}, {"value": "devil"}],
        "customfield_10202": 3,
        "duedate": "2026-12-01",
        "timetracking": {"originalEstimate": "2d"},
    }
    created = response.json
    assert created["key"] == "PRJ-1"
    assert created["external_id"] == "20001"
    assert created["url"] == f"{projects.url}/browse/PRJ-1"
    assert "PRJ-1" in projects.issues
    linked = api("get", f"/groups/{group.id}").json["external_issues"]
    assert [i["key"] for i in linked] == ["PRJ-1"]


def test_the_last_choices_become_the_next_defaults(projects, api, create_url):
    body = {
        "project": "10000",
        "issuetype": "10004",
        "title": "Cart",
        "priority": "4",
        "labels": "checkout",
        "customfield_10204": "a typo",
    }
    assert api("post", create_url, json=body).status_code == 201
    fields = form(api, create_url)
    assert fields["project"]["default"] == "10000"
    assert fields["issuetype"]["default"] == "10004"
    assert fields["priority"]["default"] == "4"
    assert fields["labels"]["default"] == "checkout"
    # A choice made now wins over the remembered one.
    assert form(api, create_url, project="10001")["project"]["default"] == "10001"


def test_jiras_field_errors_come_back_per_field(projects, api, create_url, group):
    response = api(
        "post",
        create_url,
        json={
            "project": "10000",
            "issuetype": "10004",
            "title": "Cart",
            "assignee": "nobody",
        },
    )
    assert response.status_code == 400
    assert response.json["errors"] == {
        "customfield_10204": ["Root cause is required."],
        "assignee": ["User 'nobody' does not exist."],
    }
    assert "Jira refused the issue" in response.json["detail"]
    assert api("get", f"/groups/{group.id}").json["external_issues"] == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {},
            {
                "project": ["Jira project is required."],
                "issuetype": ["Issue type is required."],
                "title": ["Title is required."],
            },
        ),
        (
            {"project": "10000", "issuetype": "10002", "title": " \n "},
            {"title": ["Title is required."]},
        ),
        (
            {"project": "10000", "issuetype": "10002", "title": "t", "priority": []},
            None,
        ),
        (
            {
                "project": "10000",
                "issuetype": "10002",
                "title": "t",
                "customfield_10202": "three",
                "customfield_10100": "next sprint",
            },
            {
                "customfield_10202": ["Enter a number."],
                "customfield_10100": ["Invalid sprint (next sprint) specified."],
            },
        ),
        (
            {"project": "10000", "issuetype": "55", "title": "t"},
            {"issuetype": ["Jira has no such issue type in this project."]},
        ),
    ],
)
def test_bad_input_is_refused_before_jira_is_asked(
    projects, api, create_url, body, errors
):
    response = api("post", create_url, json=body)
    if errors is None:  # an empty list is "not given": Jira is asked
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert response.json["errors"] == errors
    assert not projects.seen("/rest/api/2/issue", "POST")


def test_a_title_is_one_line_and_the_backlink_is_kept(projects, api, create_url, group):
    body = {"project": "10000", "issuetype": "10002", "title": "Cart\nfails"}
    body["description"] = ""
    assert api("post", create_url, json=body).status_code == 201
    sent = projects.seen("/rest/api/2/issue", "POST")[0].json()["fields"]
    assert sent["summary"] == "Cart fails"
    assert sent["description"].startswith("trackbridge group: [#")


def test_jira_failing_on_create_is_a_bad_gateway(projects, api, create_url, group):
    """Jira's own failure is 502 (the request was fine); Jira refusing the
    request is 400 with its reasons (see the refusal tests above)."""
    for status in (503, 429, 500):
        projects.failures["/rest/api/2/issue"] = (status, "", "text/plain")
        response = api(
            "post",
            create_url,
            json={"project": "10000", "issuetype": "10002", "title": "t"},
        )
        assert response.status_code == 502
        assert f"HTTP {status}" in response.json["detail"]
    assert api("get", f"/groups/{group.id}").json["external_issues"] == []


def search(api, integration, **params):
    return api("get", f"/integrations/{integration.id}/search", params=params)


def test_other_fields_search_jira_autocomplete(projects, api, jira_integration):
    projects.suggestions["cf[10100]"] = [
        {"value": "7", "label": "Sprint 7 (Board)"},
        {"value": "8", "label": "Release sprint"},
    ]
    found = search(api, jira_integration, field="customfield_10100", query="sprint")
    assert found.json == [
        {"value": "7", "label": "Sprint 7 (Board)"},
        {"value": "8", "label": "Release sprint"},
    ]
    [call] = projects.seen("/rest/api/2/jql/autocompletedata/suggestions")
    assert call.query == {"fieldName": "cf[10100]", "fieldValue": "sprint"}


def test_autocomplete_failing_is_a_clear_error(projects, api, jira_integration):
    projects.failures["/rest/api/2/jql/autocompletedata/suggestions"] = (
        500,
        "",
        "text/plain",
    )
    found = search(api, jira_integration, field="customfield_10100", query="s")
    assert found.status_code == 400
    assert found.json["detail"].startswith(
        "Unable to fetch autocomplete for customfield_10100 from Jira"
    )


def test_projects_are_searched_by_key_or_name(projects, api, jira_integration):
    found = search(api, jira_integration, field="project", query="check")
    assert found.json == [{"value": "10000", "label": "PRJ \u2013 Checkout"}]
    assert search(api, jira_integration, field="project", query="abc").json == [
        {"value": "10001", "label": "ABC \u2013 Accounts"}
    ]


def test_user_search_takes_a_project_id(projects, api, jira_integration):
    found = search(
        api, jira_integration, field="assignee", query="ann", project="10000"
    )
    assert found.json == [
        {"value": "ann.k", "label": "Ann K - ann@example.com (ann.k)"}
    ]
    [call] = projects.seen("/rest/api/2/user/assignable/search")
    assert call.query == {"project": "PRJ", "username": "ann"}


def test_a_create_whose_answer_was_lost_links_the_issue_jira_made(
    projects, api, create_url, group
):
    """Jira made the issue but its answer came too late: the host finds it
    by its back-link and links it; sent again with the same key, the
    first answer comes back and Jira gets no second create."""
    projects.slow_answers["/rest/api/2/issue"] = 1.5
    body = {"project": "10000", "issuetype": "10002", "title": "Cart fails"}
    key = {"Idempotency-Key": "create-cart-1"}
    with deadlines.calls_within(0.5):
        created = api("post", create_url, json=body, headers=key)
    assert created.status_code == 201, created.json
    assert created.json["key"] == "PRJ-1"
    projects.slow_answers.clear()
    again = api("post", create_url, json=body, headers=key)
    assert again.status_code == 201 and again.json == created.json
    assert len(projects.seen("/rest/api/2/issue", "POST")) == 1
    assert list(projects.issues) == ["PRJ-1"]
    [linked] = api("get", f"/groups/{group.id}").json["external_issues"]
    assert linked["key"] == "PRJ-1"


def test_a_create_that_timed_out_and_made_nothing_is_a_502(projects, api, create_url):
    projects.delays["/rest/api/2/issue"] = 1.5  # before Jira does anything
    body = {"project": "10000", "issuetype": "10002", "title": "Cart fails"}
    with deadlines.calls_within(0.5):
        answer = api("post", create_url, json=body)
    assert answer.status_code == 502
    assert "Timed out" in answer.json["detail"]
