"""The JSON API through falcon.testing: behaviour, scoping and bad input."""

import pytest

from host.services.groups import Source
from tests.conftest import install_tiny


def test_healthz_needs_no_auth(client):
    response = client.simulate_get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(client, host):
    host.store.close()
    response = client.simulate_get("/healthz")
    assert response.status_code == 503
    assert response.json["detail"].startswith("The database cannot be read")


def test_organization_is_readable_with_its_token(api):
    response = api("get", "")
    assert response.json == {"id": 1, "slug": "acme", "name": "Acme", "region": None}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}],
)
def test_api_requires_a_valid_token(client, org, headers):
    response = client.simulate_get("/api/0/organizations/acme", headers=headers)
    assert response.status_code == 401
    assert "detail" in response.json


def test_another_organizations_objects_are_404(client, host, api, auth):
    other = host.organizations.create("other", "Other")
    group = host.groups.create(other, "theirs", "")
    their_token = host.organizations.create_token(other)
    for path in ("", "/groups", f"/groups/{group.id}"):
        url = f"/api/0/organizations/other{path}"
        assert client.simulate_get(url, headers=auth).status_code == 404
    # their group id under our own organization is 404 too
    assert api("get", f"/groups/{group.id}").status_code == 404
    assert (
        api("put", f"/groups/{group.id}", json={"status": "resolved"}).status_code
        == 404
    )
    assert api("delete", f"/groups/{group.id}").status_code == 404
    theirs = {"Authorization": f"Bearer {their_token}"}
    assert (
        client.simulate_get("/api/0/organizations/acme", headers=theirs).status_code
        == 404
    )
    assert host.groups.get(other, group.id).status == "unresolved"


def test_members_add_and_list(api):
    created = api("post", "/members", json={"email": "Bob@Example.com", "name": "Bob"})
    assert created.status_code == 201
    assert created.json["email"] == "Bob@Example.com"
    again = api("post", "/members", json={"email": "bob@example.com", "name": "Bobby"})
    # the same person, case-insensitively; adding again is not renaming
    assert again.status_code == 200
    assert again.json == created.json
    assert [m["name"] for m in api("get", "/members").json] == ["Bob"]


def test_member_email_is_validated(api):
    response = api("post", "/members", json={"email": "not-an-email"})
    assert response.status_code == 400
    assert response.json["errors"] == {"email": ["Enter a valid email address."]}


def test_group_lifecycle(api):
    api("post", "/members", json={"email": "ann@example.com", "name": "Ann"})
    created = api("post", "/groups", json={"title": "KeyError", "culprit": "app.py"})
    assert created.status_code == 201
    group_id = created.json["id"]
    assert created.json["status"] == "unresolved"
    assert created.json["external_issues"] == []

    updated = api(
        "put",
        f"/groups/{group_id}",
        json={"status": "resolved", "assignee": "ANN@example.com"},
        headers={"X-Trackbridge-Actor": "ann@example.com"},
    )
    assert updated.status_code == 200
    assert (updated.json["status"], updated.json["assignee"]) == (
        "resolved",
        "ann@example.com",
    )
    assert [g["id"] for g in api("get", "/groups?status=resolved").json] == [group_id]
    assert api("get", "/groups?status=unresolved").json == []

    activity = api("get", f"/groups/{group_id}/activity").json
    assert [(a["type"], a["source"]) for a in activity] == [
        ("assigned", "user"),
        ("set_resolved", "user"),
    ]
    assert activity[0]["actor_member_id"] is not None

    unassigned = api("put", f"/groups/{group_id}", json={"assignee": None})
    assert unassigned.json["assignee"] is None

    assert api("delete", f"/groups/{group_id}").status_code == 204
    assert api("get", f"/groups/{group_id}").status_code == 404


def test_assigning_someone_who_is_not_a_member_is_404(api):
    group_id = api("post", "/groups", json={"title": "x"}).json["id"]
    response = api("put", f"/groups/{group_id}", json={"assignee": "who@example.com"})
    assert response.status_code == 404
    assert "who@example.com" in response.json["detail"]


def test_groups_paginate(api):
    for n in range(5):
        api("post", "/groups", json={"title": f"g{n}"})
    page = api("get", "/groups?limit=2&offset=2").json
    assert [g["title"] for g in page] == ["g2", "g3"]


def test_comments_add_edit_list(api):
    group_id = api("post", "/groups", json={"title": "x"}).json["id"]
    created = api("post", f"/groups/{group_id}/comments", json={"text": "first"})
    assert created.status_code == 201
    comment_id = created.json["id"]
    edited = api(
        "put", f"/groups/{group_id}/comments/{comment_id}", json={"text": "second"}
    )
    assert edited.json["text"] == "second"
    listed = api("get", f"/groups/{group_id}/comments").json
    assert [c["text"] for c in listed] == ["second"]
    missing = api("put", f"/groups/{group_id}/comments/999", json={"text": "x"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "path, body, errors",
    [
        ("/groups", {}, {"title": ["This field is required."]}),
        ("/groups", {"title": ""}, {"title": ["This field may not be blank."]}),
        ("/groups", {"title": 5}, {"title": ["Must be a string."]}),
        ("/groups", {"title": "x", "extra": 1}, {"extra": ["Unknown field."]}),
        (
            "/groups",
            {"title": "x" * 1001},
            {"title": ["Ensure this field has no more than 1000 characters."]},
        ),
        (
            "/groups/1",
            {"status": "closed"},
            {"status": ["Must be one of: unresolved, resolved, ignored."]},
        ),
        ("/groups/1", {"assignee": True}, {"assignee": ["Must be a string."]}),
        (
            "/groups/1/comments",
            {"text": None},
            {"text": ["This field may not be null."]},
        ),
        ("/members", {"email": ["a"]}, {"email": ["Must be a string."]}),
    ],
)
def test_bad_bodies_get_per_field_errors_and_change_nothing(api, path, body, errors):
    api("post", "/groups", json={"title": "existing"})
    method = "put" if path == "/groups/1" else "post"
    response = api(method, path, json=body)
    assert response.status_code == 400
    assert response.json["errors"] == errors
    assert response.json["detail"] == "Invalid input."
    group = api("get", "/groups/1").json
    assert (group["status"], group["assignee"]) == ("unresolved", None)
    assert api("get", "/groups/1/comments").json == []
    assert len(api("get", "/groups").json) == 1


@pytest.mark.parametrize("body", ["{bad", "[1, 2]", '"text"', "\xff"])
def test_malformed_or_non_object_json_is_400(api, body):
    response = api(
        "post", "/groups", body=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["detail"].startswith(
        ("Request body is not valid", "Request body must")
    )


def test_other_media_types_are_415(api):
    response = api(
        "post",
        "/groups",
        body="title=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json == {"detail": "Content-Type must be application/json."}


def test_oversize_bodies_are_413(api, host):
    limit = host.config.max_body_bytes
    response = api("post", "/groups", json={"title": "x" * limit})
    assert response.status_code == 413
    assert response.json == {"detail": f"Request body is larger than {limit} bytes."}


def test_wrong_methods_and_paths(api, client):
    assert api("patch", "/groups").status_code == 405
    assert api("delete", "/groups").json == {
        "detail": "Method DELETE is not allowed on /api/0/organizations/acme/groups."
    }
    missing = client.simulate_get("/nowhere")
    assert (missing.status_code, missing.json) == (
        404,
        {"detail": "No such endpoint: /nowhere"},
    )


@pytest.mark.parametrize("query", ["limit=x", "limit=-1", "limit=5000", "status=bogus"])
def test_bad_query_parameters_are_400(api, query):
    response = api("get", f"/groups?{query}")
    assert response.status_code == 400
    assert response.json["errors"]


def test_unexpected_errors_are_a_json_500_without_a_traceback(api, host, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(host.groups, "list", broken)
    response = api("get", "/groups")
    assert response.status_code == 500
    assert response.json == {"detail": "Internal server error."}


# ---- integrations ----


@pytest.fixture
def installed(host, org):
    return install_tiny(host, org, webhook_secret="hush")


def test_integrations_list_and_read_without_secrets(api, installed):
    listed = api("get", "/integrations").json
    assert [i["id"] for i in listed] == [installed.id]
    shown = api("get", f"/integrations/{installed.id}")
    assert shown.json["provider"] == {"key": "tiny", "name": "Tiny Tracker"}
    assert shown.json["metadata"] == {"base_url": "https://tiny.example"}
    assert shown.json["config"] == {}
    assert "hush" not in shown.text and "tiny-secret" not in shown.text


def test_integration_config_update_is_validated_and_merged(api, installed):
    url = f"/integrations/{installed.id}"
    ok = api("put", url, json={"sync_comments": True, "label": "ops"})
    assert ok.json["config"] == {"sync_comments": True, "label": "ops"}
    ok = api("put", url, json={"sync_status_reverse": True})
    assert ok.json["config"] == {
        "sync_comments": True,
        "label": "ops",
        "sync_status_reverse": True,
    }
    bad = api("put", url, json={"sync_comments": "yes", "nonsense": 1, "label": 2})
    assert bad.status_code == 400
    assert bad.json["errors"] == {
        "sync_comments": ["Must be a boolean."],
        "nonsense": ["Unknown field."],
        "label": ["Must be a string."],
    }
    assert api("get", url).json["config"]["sync_comments"] is True


def test_removing_the_last_organization_uninstalls(api, host, installed):
    from tests import tiny_tracker

    assert api("delete", f"/integrations/{installed.id}").status_code == 204
    assert api("get", f"/integrations/{installed.id}").status_code == 404
    assert host.store.integrations.get(installed.id) is None
    assert host.store.integrations.credentials(installed.id) == {}
    assert [c["hook"] for c in tiny_tracker.CALLS] == ["uninstall"]


def test_removing_one_of_two_organizations_keeps_the_integration(api, host, installed):
    from tests import tiny_tracker

    other = host.organizations.create("other")
    host.store.integrations.add_organization(other.id, installed.id)
    assert api("delete", f"/integrations/{installed.id}").status_code == 204
    assert host.store.integrations.get(installed.id) is not None
    assert tiny_tracker.CALLS == []


def test_link_and_unlink_an_existing_issue(api, host, installed):
    from tests import tiny_tracker

    group_id = api("post", "/groups", json={"title": "x"}).json["id"]
    linked = api(
        "post",
        f"/groups/{group_id}/links",
        json={"integration_id": installed.id, "key": "APP-1", "comment": "see"},
    )
    assert linked.status_code == 201
    assert linked.json["url"] == "https://tiny.example/browse/APP-1"
    assert linked.json["external_id"] == "id-APP-1"
    group = api("get", f"/groups/{group_id}").json
    assert [i["key"] for i in group["external_issues"]] == ["APP-1"]
    assert tiny_tracker.CALLS[-1] == {
        "hook": "after_link_issue",
        "key": "APP-1",
        "comment": "see",
    }

    missing = api(
        "post",
        f"/groups/{group_id}/links",
        json={"integration_id": installed.id, "key": "MISSING-1"},
    )
    assert missing.status_code == 404

    issue_id = linked.json["id"]
    assert api("delete", f"/groups/{group_id}/links/{issue_id}").status_code == 204
    assert api("get", f"/groups/{group_id}").json["external_issues"] == []
    assert api("delete", f"/groups/{group_id}/links/{issue_id}").status_code == 404


def test_an_id_may_be_written_3_0_as_json_schema_allows_but_not_3_5(api, installed):
    group_id = api("post", "/groups", json={"title": "x"}).json["id"]
    path = f"/groups/{group_id}/links"
    linked = api(
        "post", path, json={"integration_id": installed.id + 0.0, "key": "A-1"}
    )
    assert linked.status_code == 201
    assert linked.json["integration_id"] == installed.id
    for wrong in (installed.id + 0.5, True, str(installed.id)):
        refused = api("post", path, json={"integration_id": wrong, "key": "A-2"})
        assert refused.status_code == 400
        assert refused.json["errors"] == {"integration_id": ["Must be an integer."]}


def test_linking_through_another_organizations_integration_is_404(api, host):
    other = host.organizations.create("other")
    integration = install_tiny(host, other, "t2")
    group_id = api("post", "/groups", json={"title": "x"}).json["id"]
    response = api(
        "post",
        f"/groups/{group_id}/links",
        json={"integration_id": integration.id, "key": "A-1"},
    )
    assert response.status_code == 404
    assert host.store.integrations.issues_for_group(group_id) == []


def test_group_source_kinds():
    assert Source().kind == "system"
    assert Source(user=True).kind == "user"
    assert Source(integration_id=3, user=True).kind == "integration"


def test_integration_search_routes_to_the_provider(api, host, org, client):
    integration = install_tiny(host, org)
    url = f"/integrations/{integration.id}/search"
    issues = api("get", url, params={"field": "externalIssue", "query": "cart"})
    assert issues.json == [{"value": "APP-1", "label": "(APP-1) about cart"}]
    users = api("get", url, params={"field": "reporter", "query": "a", "project": "P"})
    assert users.json == [{"value": "ann", "label": "Ann (ann)"}]
    values = api("get", url, params={"field": "component", "query": "db"})
    assert values.json == [{"value": "db", "label": "Component db"}]
    other = api("get", url, params={"field": "labels", "query": "x"})
    assert other.status_code == 400 and "field" in other.json["errors"]
    projects = api("get", url, params={"field": "project", "query": "plat"})
    assert projects.json == [{"value": "2", "label": "PLAT - Platform"}]
    other_org = host.organizations.create("other")
    token = host.organizations.create_token(other_org)
    foreign = client.simulate_get(
        f"/api/0/organizations/other{url}",
        params={"field": "externalIssue", "query": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert foreign.status_code == 404


def test_creating_a_tracker_issue_links_it_and_remembers_choices(api, host, org):
    integration = install_tiny(host, org)
    group_id = api("post", "/groups", json={"title": "Cart fails"}).json["id"]
    url = f"/groups/{group_id}/integrations/{integration.id}/create"
    form = api("get", url).json["fields"]
    assert [f["name"] for f in form] == ["title", "component"]
    assert form[0]["default"] == "Cart fails"
    assert form[1]["search_url"] == (
        f"/api/0/organizations/acme/integrations/{integration.id}/search"
        "?field=component"
    )
    created = api("post", url, json={"title": "Cart fails", "component": "db"})
    assert created.status_code == 201, created.json
    assert created.json["key"] == "APP-101"
    detail = api("get", f"/groups/{group_id}").json
    assert [i["key"] for i in detail["external_issues"]] == ["APP-101"]
    [entry] = [
        a
        for a in api("get", f"/groups/{group_id}/activity").json
        if a["type"] == "linked"
    ]
    assert entry["data"]["created"] is True
    assert api("get", url).json["fields"][1]["default"] == "db"


def test_creating_a_tracker_issue_refuses_bad_input(api, host, org):
    integration = install_tiny(host, org)
    group_id = api("post", "/groups", json={"title": "Cart fails"}).json["id"]
    url = f"/groups/{group_id}/integrations/{integration.id}/create"
    missing = api("post", url, json={"component": "db"})
    assert missing.status_code == 400
    assert missing.json["errors"] == {"title": ["Title is required."]}
    not_object = api("post", url, json=["title"])
    assert not_object.status_code == 400
    assert api("get", f"/groups/{group_id}").json["external_issues"] == []
    other_group = api(
        "get", f"/groups/{group_id + 99}/integrations/{integration.id}/create"
    )
    assert other_group.status_code == 404
    other_integration = api("get", f"/groups/{group_id}/integrations/999/create")
    assert other_integration.status_code == 404


def test_the_settings_form_lists_toggles_provider_fields_and_choices(api, host, org):
    integration = install_tiny(host, org)
    url = f"/integrations/{integration.id}/config"
    form = api("get", url).json
    names = [f["name"] for f in form["fields"]]
    assert names[:6] == [
        "sync_forward_assignment",
        "sync_status_forward",
        "sync_comments",
        "sync_reverse_assignment",
        "sync_status_reverse",
        "sync_comments_reverse",
    ]
    assert names[6:] == ["label", "done"]
    assert form["projects"][0] == {"value": "1", "label": "PAY - Payments"}
    assert form["statuses"] == {}
    saved = api(
        "put", url, json={"done": {"2": {"resolve": ["2-done"]}}, "sync_comments": True}
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["config"]["sync_comments"] is True
    # A mapped project's statuses come with the form, and so do asked ones.
    assert list(saved.json["statuses"]) == ["2"]
    asked = api("get", url, params={"project": "1"}).json
    assert asked["statuses"]["1"] == [
        {"value": "1-open", "label": "Open"},
        {"value": "1-done", "label": "Done"},
    ]
    refused = api("put", url, json={"done": "all"})
    assert refused.status_code == 400
    assert refused.json["errors"] == {
        "done": ["Must be an object of project -> statuses."]
    }


def test_a_query_parameter_the_endpoint_does_not_take_is_named(api):
    """``?staus=resolved`` would otherwise list every group, unfiltered."""
    api("post", "/groups", json={"title": "x"})
    typo = api("get", "/groups", params={"staus": "resolved"})
    assert typo.status_code == 400
    assert typo.json == {
        "detail": "Unknown query parameter(s): staus"
        " (this endpoint takes: limit, offset, q, status).",
        "errors": {"staus": ["Unknown query parameter."]},
    }
    assert api("get", "/groups", params={"status": "resolved"}).json == []
    # An endpoint that takes none says so.
    assert "takes: none" in api("get", "/members", params={"x": "1"}).json["detail"]
