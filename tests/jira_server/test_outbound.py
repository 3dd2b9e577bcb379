"""Changes made in the host reach Jira (the fake HTTP server), as configured.

Changes go through the HTTP API, fan out as jobs, and the real job worker
calls the Jira Server hooks; every request the fake Jira receives is checked
against the 10.3 REST spec (see ``tests/jira_spec.py``).
"""

import json

import pytest

from host.errors import NotFound
from tests.fake_jira import add_issue
from tests.fake_jira_create import add_project
from tests.jira_server.conftest import webhook_token

ANN = {
    "name": "ann.k",
    "key": "JIRAUSER10100",
    "displayName": "Ann K",
    "emailAddress": "ann@example.com",
}
BOB = {"name": "bob", "key": "bob", "displayName": "Bob"}  # email hidden


@pytest.fixture
def setup(jira, jira_host, org, configure, link, member, api):
    """PRJ-1 in Jira (status Open) linked to a group; Ann a member and a Jira user."""
    jira.users.update({"JIRAUSER10100": ANN, "bob": BOB})
    add_project(jira, "PRJ", "10000", "Project", statuses=("1", "3", "4", "5"))
    add_issue(jira, "PRJ-1", "10001", status="1", project="PRJ")
    member("Ann@Example.com", "Ann")
    group = link("PRJ-1", "10001")
    return group


def change(api, group, **body):
    response = api("put", f"/groups/{group.id}", json=body)
    assert response.status_code == 200, response.json
    return response


def last_activity(jira_host, org, group):
    entry = jira_host.groups.activity(jira_host.groups.get(org, group.id))[-1]
    return entry["type"], entry["data"]["message"]


# ---- assignee ----


def test_assigning_a_member_assigns_the_matching_jira_user(
    setup, jira, api, configure, run_jobs, jira_host, org
):
    configure(sync_forward_assignment=True)
    change(api, setup, assignee="ann@example.com")
    run_jobs()
    [search] = jira.seen("/rest/api/2/user/assignable/search")
    assert search.query == {"issueKey": "PRJ-1", "username": "Ann@Example.com"}
    [put] = jira.seen("/rest/api/2/issue/PRJ-1/assignee", "PUT")
    assert put.json() == {"name": "ann.k"}
    assert jira.issues["PRJ-1"]["fields"]["assignee"]["name"] == "ann.k"
    assert last_activity(jira_host, org, setup) == (
        "sync_outbound",
        "Assigned to Ann K in Jira.",
    )


def test_unassigning_sends_a_null_name(setup, jira, api, configure, run_jobs):
    configure(sync_forward_assignment=True)
    change(api, setup, assignee="ann@example.com")
    change(api, setup, assignee=None)
    run_jobs()
    puts = jira.seen("/rest/api/2/issue/PRJ-1/assignee", "PUT")
    assert [p.json() for p in puts] == [{"name": "ann.k"}, {"name": None}]
    assert jira.issues["PRJ-1"]["fields"]["assignee"] is None


def test_removing_a_member_unassigns_their_groups_in_jira_too(
    setup, jira, api, configure, run_jobs, jira_host, org
):
    """``trackbridge member remove``: the database alone would clear the
    assignee silently and Jira would keep showing Ann."""
    configure(sync_forward_assignment=True)
    change(api, setup, assignee="ann@example.com")
    run_jobs()
    unassigned = jira_host.organizations.remove_member(org, "ANN@example.com")
    assert [g.id for g in unassigned] == [setup.id]
    run_jobs()
    assert jira.issues["PRJ-1"]["fields"]["assignee"] is None
    group = jira_host.groups.get(org, setup.id)
    assert group.assignee_email is None
    assert "unassigned" in [a["type"] for a in jira_host.groups.activity(group)]
    assert api("get", "/members").json == []
    feed = api("get", "/events", params={"types": "group.updated"}).json
    assert feed["events"][-1]["data"]["changes"]["assignee"] == {
        "before": "Ann@Example.com",
        "after": None,
    }
    with pytest.raises(NotFound):
        jira_host.organizations.remove_member(org, "ann@example.com")


def test_no_matching_jira_user_is_recorded_and_nothing_is_put(
    setup, jira, api, configure, run_jobs, jira_host, org, member
):
    configure(sync_forward_assignment=True)
    member("carol@example.com", "Carol")
    change(api, setup, assignee="carol@example.com")
    run_jobs()
    assert jira.seen("/rest/api/2/issue/PRJ-1/assignee") == []
    assert last_activity(jira_host, org, setup) == (
        "sync_outbound_failed",
        "No Jira user assignable to PRJ-1 matches carol@example.com; nothing was sent.",
    )


def test_a_user_mapping_is_used_before_the_email(
    setup, jira, api, configure, run_jobs, member
):
    member("robert@example.com", "Robert")
    configure(sync_forward_assignment=True, user_mappings={"Robert@example.com": "bob"})
    change(api, setup, assignee="robert@example.com")
    run_jobs()
    [put] = jira.seen("/rest/api/2/issue/PRJ-1/assignee", "PUT")
    assert put.json() == {"name": "bob"}


def test_assignment_sync_off_sends_nothing(setup, jira, api, run_jobs):
    change(api, setup, assignee="ann@example.com")
    run_jobs()
    assert jira.seen("/rest/api/2/issue/PRJ-1/assignee") == []


# ---- status ----


@pytest.fixture
def mapped(configure):
    configure(
        sync_status_forward=True,
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "4"}},
    )


def test_resolving_takes_the_transition_to_the_mapped_status(
    setup, mapped, jira, api, run_jobs, jira_host, org
):
    change(api, setup, status="resolved")
    run_jobs()
    [post] = jira.seen("/rest/api/2/issue/PRJ-1/transitions", "POST")
    assert post.json() == {"transition": {"id": "31"}}
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "5"
    [listing] = jira.seen("/rest/api/2/issue/PRJ-1/transitions", "GET")
    assert listing.query == {"expand": "transitions.fields"}
    assert last_activity(jira_host, org, setup) == (
        "sync_outbound",
        "Moved PRJ-1 through 'Resolve'.",
    )
    change(api, setup, status="unresolved")
    run_jobs()
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "4"


def test_an_issue_already_in_the_target_status_is_left_alone(
    setup, mapped, jira, api, run_jobs
):
    jira.issues["PRJ-1"]["fields"]["status"] = {"id": "5", "name": "Resolved"}
    change(api, setup, status="resolved")
    run_jobs()
    assert jira.seen("/rest/api/2/issue/PRJ-1/transitions") == []


def test_a_transition_needing_a_field_is_recorded_by_name(
    setup, mapped, jira, api, run_jobs, jira_host, org
):
    jira.transitions = [
        {
            "id": "31",
            "name": "Resolve",
            "to": "5",
            "fields": {"resolution": {"name": "Resolution", "required": True}},
        }
    ]
    change(api, setup, status="resolved")
    run_jobs()
    assert jira.seen("/rest/api/2/issue/PRJ-1/transitions", "POST") == []
    kind, message = last_activity(jira_host, org, setup)
    assert kind == "sync_outbound_failed"
    assert "needs the field Resolution" in message


def test_a_project_without_a_mapping_is_recorded(
    setup, configure, jira, api, run_jobs, jira_host, org
):
    configure(sync_status_forward=True)
    change(api, setup, status="resolved")
    run_jobs()
    assert jira.seen("/rest/api/2/issue/PRJ-1/transitions") == []
    assert last_activity(jira_host, org, setup)[1] == (
        "No status mapping for Jira project PRJ; PRJ-1 was left as it is."
    )


def test_mapping_rows_need_both_statuses_from_the_project(setup, configure, jira_host):
    from host.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        configure(sync_status_forward_mapping={"PRJ": {"on_resolve": "5"}})
    assert caught.value.errors == {
        "sync_status_forward_mapping": [
            "PRJ: Resolve and unresolve status are required."
        ]
    }
    with pytest.raises(ValidationError) as caught:
        configure(
            sync_status_forward_mapping={
                "PRJ": {"on_resolve": "6", "on_unresolve": "4"}
            }
        )
    [message] = caught.value.errors["sync_status_forward_mapping"]
    assert message.startswith("PRJ: no status 6 in this project")


def test_429_with_retry_after_waits_then_succeeds(
    setup, mapped, jira, api, run_jobs, jira_host, clock
):
    jira.failures["/rest/api/2/issue/PRJ-1"] = (
        429,
        '{"errorMessages": ["Rate limit exceeded."]}',
        "application/json",
        {"Retry-After": "30"},
    )
    change(api, setup, status="resolved")
    run_jobs()
    [job] = jira_host.store.jobs.list()
    assert (job["state"], job["run_at"]) == ("queued", pytest.approx(clock() + 30))
    assert "Rate limit exceeded." in job["last_error"]
    del jira.failures["/rest/api/2/issue/PRJ-1"]
    clock.advance(31)
    run_jobs()
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "5"


def test_a_deleted_jira_issue_is_unlinked(
    setup, mapped, jira, api, run_jobs, jira_host, org
):
    del jira.issues["PRJ-1"]
    change(api, setup, status="resolved")
    run_jobs()
    assert jira_host.store.integrations.issues_for_group(setup.id) == []
    assert last_activity(jira_host, org, setup) == (
        "unlinked",
        "Jira issue PRJ-1 no longer exists; it was unlinked.",
    )


def test_a_401_marks_the_organizations_installation_for_reauthentication(
    setup, mapped, jira, api, run_jobs, jira_host, jira_integration, org
):
    jira.personal_tokens.clear()
    change(api, setup, status="resolved")
    run_jobs()
    installation = jira_host.store.integrations.org_integration(
        org.id, jira_integration.id
    )
    assert installation.status == "needs_reauth"
    assert [j["state"] for j in jira_host.store.jobs.list()] == ["done"]


# ---- comments ----


def test_a_comment_is_quoted_in_jira_and_its_edit_updates_the_same_comment(
    setup, configure, jira, api, run_jobs
):
    configure(sync_comments=True)
    created = api(
        "post",
        f"/groups/{setup.id}/comments",
        json={"text": "Seen in 2.1"},
        headers={"X-Trackbridge-Actor": "ann@example.com"},
    ).json
    run_jobs()
    [post] = jira.seen("/rest/api/2/issue/PRJ-1/comment", "POST")
    assert post.json() == {"body": "Ann wrote:\n\n{quote}Seen in 2.1{quote}"}
    [comment_id] = jira.issues["PRJ-1"]["comments"]
    api(
        "put",
        f"/groups/{setup.id}/comments/{created['id']}",
        json={"text": "Seen in 2.1 and 2.2"},
    )
    run_jobs()
    assert jira.issues["PRJ-1"]["comments"] == {
        comment_id: "Ann wrote:\n\n{quote}Seen in 2.1 and 2.2{quote}"
    }


# ---- no echoes, both ways ----


def jira_moves_prj_1_to_resolved(client):
    """Jira's webhook: PRJ-1 went from Open (1) to Resolved (5)."""
    body = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1_700_000_000_000,
        "issue": {
            "id": "10001",
            "key": "PRJ-1",
            "fields": {"project": {"id": "10000"}},
        },
        "changelog": {"items": [{"field": "status", "from": "1", "to": "5"}]},
    }
    response = client.simulate_post(
        f"/extensions/jira-server/issue-updated/{webhook_token()}/",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200


def test_our_own_write_coming_back_changes_nothing(
    setup, mapped, configure, jira, api, client, run_jobs, jira_host, org
):
    """Resolve here → Jira moves to 5; unresolve here; then Jira's webhook for
    our "move to 5" arrives. The group stays unresolved and nothing is sent."""
    configure(sync_status_reverse=True)
    change(api, setup, status="resolved")
    run_jobs()
    change(api, setup, status="unresolved")
    run_jobs()
    sent = len(jira.seen("/rest/api/2/issue/PRJ-1/transitions", "POST"))
    jira_moves_prj_1_to_resolved(client)
    run_jobs()
    assert jira_host.groups.get(org, setup.id).status == "unresolved"
    assert len(jira.seen("/rest/api/2/issue/PRJ-1/transitions", "POST")) == sent


def test_a_change_from_jira_is_not_sent_back(
    setup, mapped, configure, jira, client, run_jobs, jira_host, org
):
    configure(sync_status_reverse=True)
    jira_moves_prj_1_to_resolved(client)
    run_jobs()
    assert jira_host.groups.get(org, setup.id).status == "resolved"
    assert jira.seen("/rest/api/2/issue/PRJ-1/transitions") == []
