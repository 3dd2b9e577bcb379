"""Jira's webhooks change the host's groups, as each organization configured.

Real payloads from ../shared go through the real route, are stored, and are
applied by the real job worker; the fake Jira answers the questions a payload
leaves open (hidden emails, which statuses are "done").
"""

import copy
import json

import pytest

from tests.conftest import shared_fixture
from tests.fake_jira_create import add_project
from tests.jira_server.conftest import webhook_token

ASSIGNEE = "jira-webhooks/real-server-issue-updated-assignee.json"
LEGACY_ASSIGNEE = "jira-webhooks/real-server-issue-updated-reassigned-legacy.json"
IN_PROGRESS = "jira-webhooks/real-server-issue-updated-status-in-progress.json"
RESOLVED = "jira-webhooks/real-server-issue-updated-status-resolved.json"
COMMENTED = "jira-webhooks/real-server-issue-updated-commented.json"
CREATED = "jira-webhooks/real-server-issue-created.json"


def payload(name: str) -> dict:
    return json.loads(shared_fixture(name))


@pytest.fixture
def deliver(client):
    """POST a webhook body (a dict) to the Jira Server URL with a valid token."""

    def post(body, token=None):
        return client.simulate_post(
            f"/extensions/jira-server/issue-updated/{token or webhook_token()}/",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )

    return post


def now(host, org, group):
    return host.groups.get(org, group.id)


def activity(host, org, group):
    return [(a["type"], a["data"]) for a in host.groups.activity(now(host, org, group))]


# ---- assignee ----


def test_assignee_from_the_payload_email(
    jira_host, org, configure, link, member, deliver, run_jobs, jira
):
    configure(sync_reverse_assignment=True)
    ann = member("Some-Instance-Test@Gmail.com", "Ann")
    group = link("PRJA-37", "10226")
    assert deliver(payload(ASSIGNEE)).status_code == 200
    run_jobs()
    assert now(jira_host, org, group).assignee_email == ann.email
    [entry] = jira_host.groups.activity(group)
    assert entry["type"] == "assigned"
    assert entry["source"] == "integration"
    assert entry["source_integration_id"] is not None
    assert not jira.seen("/rest/api/2/user")  # the email was in the payload


def test_legacy_reassignment_without_field_ids(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    leo = member("othello@example.com", "Leo")
    group = link("BUG-15", "10400")
    deliver(payload(LEGACY_ASSIGNEE))
    run_jobs()
    assert now(jira_host, org, group).assignee_email == leo.email


def test_hidden_email_is_asked_of_jira(
    jira_host, org, configure, link, member, deliver, run_jobs, jira
):
    configure(sync_reverse_assignment=True)
    jira.users["admin"] = {
        "name": "admin",
        "key": "admin",
        "displayName": "Test User",
        "emailAddress": "ann@example.com",
    }
    ann = member("ann@example.com", "Ann")
    group = link("PRJA-37", "10226")
    body = payload(ASSIGNEE)
    del body["issue"]["fields"]["assignee"]["emailAddress"]
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email == ann.email
    [lookup] = jira.seen("/rest/api/2/user")
    assert lookup.query == {"key": "admin"}
    assert lookup.auth == "bearer:svc"


def test_an_email_jira_keeps_hidden_is_recorded_not_guessed(
    jira_host, org, configure, link, member, deliver, run_jobs, jira
):
    configure(sync_reverse_assignment=True)
    jira.users["admin"] = {"name": "admin", "key": "admin", "displayName": "Test User"}
    member("ann@example.com")
    group = link("PRJA-37", "10226")
    body = payload(ASSIGNEE)
    del body["issue"]["fields"]["assignee"]["emailAddress"]
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email is None
    assert activity(jira_host, org, group) == [
        (
            "assignee_unmatched",
            {
                "message": "Jira Server user Test User has no visible email to match"
                " a member"
            },
        )
    ]


def test_no_matching_member_leaves_the_group_alone(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    member("someone.else@example.com")
    group = link("PRJA-37", "10226")
    deliver(payload(ASSIGNEE))
    run_jobs()
    assert now(jira_host, org, group).assignee_email is None
    assert activity(jira_host, org, group) == [
        (
            "assignee_unmatched",
            {"message": "Jira Server user Test User has no matching member"},
        )
    ]


@pytest.mark.parametrize("assignee", ["null", "missing"])
def test_unassign(jira_host, org, configure, link, member, deliver, run_jobs, assignee):
    configure(sync_reverse_assignment=True)
    ann = member("some-instance-test@gmail.com")
    group = link("PRJA-37", "10226")
    jira_host.store.groups.set_assignee(group.id, ann.id)
    body = payload(ASSIGNEE)
    body["changelog"]["items"][0].update({"from": "admin", "to": None})
    if assignee == "null":
        body["issue"]["fields"]["assignee"] = None
    else:
        del body["issue"]["fields"]["assignee"]
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email is None
    assert activity(jira_host, org, group)[-1][0] == "unassigned"


def test_a_changelog_naming_the_user_wins_over_missing_fields(
    jira_host, org, configure, link, member, deliver, run_jobs, jira
):
    """No ``fields.assignee`` but the change says ``to: admin``: ask Jira."""
    configure(sync_reverse_assignment=True)
    jira.users["admin"] = {
        "name": "admin",
        "key": "admin",
        "displayName": "Ann",
        "emailAddress": "ann@example.com",
    }
    ann = member("ann@example.com")
    group = link("PRJA-37", "10226")
    body = payload(ASSIGNEE)
    del body["issue"]["fields"]
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email == ann.email


def test_assignee_sync_off_changes_nothing(
    jira_host, org, link, member, deliver, run_jobs
):
    member("some-instance-test@gmail.com")
    group = link("PRJA-37", "10226")
    deliver(payload(ASSIGNEE))
    run_jobs()
    assert now(jira_host, org, group).assignee_email is None
    assert activity(jira_host, org, group) == []


def test_only_linked_groups_change(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    member("some-instance-test@gmail.com")
    linked = link("PRJA-37", "10226")
    other = link("PRJA-99", "99999")
    unlinked = jira_host.groups.create(org, "other", "x.py")
    deliver(payload(ASSIGNEE))
    run_jobs()
    assert now(jira_host, org, linked).assignee_email is not None
    assert now(jira_host, org, other).assignee_email is None
    assert now(jira_host, org, unlinked).assignee_email is None


# ---- status ----


def test_moving_into_done_resolves_with_the_strategy(
    jira_host, org, configure, link, deliver, run_jobs, jira
):
    configure(sync_status_reverse=True, resolution_strategy="resolve_next_release")
    group = link("TES-4", "10300")
    deliver(payload(RESOLVED))
    run_jobs()
    assert now(jira_host, org, group).status == "resolved"
    assert activity(jira_host, org, group) == [
        (
            "set_resolved",
            {"provider": "Jira Server", "resolution_strategy": "resolve_next_release"},
        )
    ]
    assert len(jira.seen("/rest/api/2/status")) == 1


def test_moving_out_of_done_unresolves(
    jira_host, org, configure, link, deliver, run_jobs
):
    configure(sync_status_reverse=True)
    group = link("TES-4", "10300")
    jira_host.store.groups.set_status(group.id, "resolved")
    body = payload(IN_PROGRESS)
    body["changelog"]["items"][0].update({"from": "5", "fromString": "Resolved"})
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"


def test_between_open_statuses_nothing_changes(
    jira_host, org, configure, link, deliver, run_jobs
):
    configure(sync_status_reverse=True)
    group = link("TES-4", "10300")
    deliver(payload(IN_PROGRESS))  # Reopened → In Progress
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"
    assert activity(jira_host, org, group) == []


def test_statuses_are_read_once_and_cached(
    jira_host, org, configure, link, deliver, run_jobs, jira
):
    configure(sync_status_reverse=True)
    link("TES-4", "10300")
    deliver(payload(IN_PROGRESS))
    deliver(payload(RESOLVED))
    run_jobs()
    assert len(jira.seen("/rest/api/2/status")) == 1


def test_an_explicit_project_mapping_replaces_the_done_category(
    jira_host, org, configure, link, deliver, run_jobs, jira
):
    add_project(jira, "TES", "10100", "Test", statuses=("1", "3", "4", "5"))
    configure(
        sync_status_reverse=True,
        sync_status_reverse_mapping={"TES": {"resolve": ["3"], "unresolve": ["4"]}},
    )
    org_integration = jira_host.integrations.get(org, 1)[1]
    assert org_integration.config["sync_status_reverse_mapping"] == {
        "10100": {"resolve": ["3"], "unresolve": ["4"]}
    }
    group = link("TES-4", "10300")
    deliver(payload(RESOLVED))  # into 5: done, but not in the mapping
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"
    deliver(payload(IN_PROGRESS))  # into 3: mapped to resolve
    run_jobs()
    assert now(jira_host, org, group).status == "resolved"


def test_mapping_names_only_statuses_the_project_has(
    jira_host, org, jira_integration, configure, jira
):
    from host.errors import ValidationError

    jira.projects["TES"] = {"id": "10100", "key": "TES", "name": "T", "statuses": ["3"]}
    with pytest.raises(ValidationError) as caught:
        configure(sync_status_reverse_mapping={"TES": {"resolve": ["5"]}})
    [message] = caught.value.errors["sync_status_reverse_mapping"]
    assert message.startswith("TES: no status 5 in this project")
    with pytest.raises(ValidationError) as caught:
        configure(sync_status_reverse_mapping={"NOPE": {"resolve": ["5"]}})
    assert caught.value.errors == {
        "sync_status_reverse_mapping": ["NOPE: no such Jira project."]
    }
    with pytest.raises(ValidationError) as caught:
        configure(resolution_strategy="later", frobnicate=1)
    assert set(caught.value.errors) == {"resolution_strategy", "frobnicate"}


def test_status_sync_off_changes_nothing(jira_host, org, link, deliver, run_jobs, jira):
    group = link("TES-4", "10300")
    deliver(payload(RESOLVED))
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"


def test_jira_unreachable_for_statuses_retries_the_job(
    jira_host, org, configure, link, deliver, run_jobs, jira, clock
):
    """Sentry answers 200 and forgets; we answer 200 and retry until it works."""
    configure(sync_status_reverse=True)
    group = link("TES-4", "10300")
    jira.failures["/rest/api/2/status"] = (
        503,
        '{"errorMessages": ["Jira is restarting"]}',
        "application/json",
        {"Retry-After": "7"},
    )
    assert deliver(payload(RESOLVED)).status_code == 200
    run_jobs()
    [job] = jira_host.store.jobs.list()
    assert job["state"] == "queued"
    assert "Jira is restarting" in job["last_error"]
    assert job["run_at"] == pytest.approx(clock() + 7)
    del jira.failures["/rest/api/2/status"]
    clock.advance(8)
    run_jobs()
    assert now(jira_host, org, group).status == "resolved"


# ---- moves, deletes ----


def moved_payload(old_key="PRJA-37", new_key="NEW-3", issue_id="10226"):
    body = payload(ASSIGNEE)
    body["issue"]["key"] = new_key
    body["issue"]["id"] = issue_id
    body["changelog"]["items"] = [
        {
            "field": "Key",
            "fieldtype": "jira",
            "from": None,
            "fromString": old_key,
            "to": None,
            "toString": new_key,
        },
        {
            "field": "project",
            "fieldtype": "jira",
            "from": "10002",
            "fromString": "PRJA",
            "to": "10003",
            "toString": "NEW",
        },
    ]
    return body


def test_a_moved_issue_keeps_its_links_under_the_new_key(
    jira_host, org, link, deliver, run_jobs
):
    group = link("PRJA-37", "10226")
    deliver(moved_payload())
    run_jobs()
    [issue] = jira_host.store.integrations.issues_for_group(group.id)
    assert (issue.key, issue.external_id) == ("NEW-3", "10226")
    assert issue.url == "https://jira.example.org/browse/NEW-3"


def test_a_key_that_changed_without_a_key_item_is_followed_by_issue_id(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    ann = member("some-instance-test@gmail.com")
    group = link("OLD-1", "10226")
    deliver(payload(ASSIGNEE))  # issue 10226 is PRJA-37 now
    run_jobs()
    [issue] = jira_host.store.integrations.issues_for_group(group.id)
    assert issue.key == "PRJA-37"
    assert now(jira_host, org, group).assignee_email == ann.email


def test_a_deleted_issue_is_unlinked(jira_host, org, link, deliver, run_jobs):
    group = link("PRJA-37", "10226")
    body = payload(ASSIGNEE)
    body["webhookEvent"] = "jira:issue_deleted"
    del body["changelog"]
    deliver(body)
    run_jobs()
    assert jira_host.store.integrations.issues_for_group(group.id) == []
    assert activity(jira_host, org, group) == [
        ("unlinked", {"message": "Jira Server issue PRJA-37 was deleted"})
    ]


# ---- comments ----


def comment_payload(event="comment_created", comment_id="20001", body="Seen it."):
    base = payload(COMMENTED)
    comment = base["comment"]
    comment.update({"id": comment_id, "body": body})
    if event == "comment_updated":
        comment["updated"] = "2019-06-28T22:00:00.000+0000"
    return {
        "timestamp": base["timestamp"],
        "webhookEvent": event,
        "comment": comment,
        "issue": {
            "id": base["issue"]["id"],
            "key": base["issue"]["key"],
            "fields": {"updated": base["issue"]["fields"]["updated"]},
        },
    }


def comments(host, org, group):
    return [
        (c["text"], c["author_name"], c["author_email"])
        for c in host.groups.comments(now(host, org, group))
    ]


def test_a_legacy_comment_is_added_to_linked_groups(
    jira_host, org, configure, link, deliver, run_jobs
):
    configure(sync_comments_reverse=True)
    group = link("PRJA-42", "10231")
    deliver(payload(COMMENTED))
    run_jobs()
    assert comments(jira_host, org, group) == [
        (
            "This is a test comment. We should act on it right away.",
            "Test User",
            "test.user@test.com",
        )
    ]


def test_comment_created_then_updated(
    jira_host, org, configure, link, deliver, run_jobs
):
    configure(sync_comments_reverse=True)
    group = link("PRJA-42", "10231")
    deliver(comment_payload())
    deliver(comment_payload("comment_updated", body="Seen it. Fixed in 2.1."))
    run_jobs()
    assert comments(jira_host, org, group) == [
        ("Seen it. Fixed in 2.1.", "Test User", "test.user@test.com")
    ]
    types = [t for t, _ in activity(jira_host, org, group)]
    assert types == ["note", "note_edited"]


def test_the_same_comment_by_two_events_is_added_once(
    jira_host, org, configure, link, deliver, run_jobs
):
    """Jira sends comment_created and an issue_updated that carries it."""
    configure(sync_comments_reverse=True)
    group = link("PRJA-42", "10231")
    deliver(comment_payload(comment_id="10118"))
    deliver(payload(COMMENTED))
    run_jobs()
    assert len(comments(jira_host, org, group)) == 1


def test_a_host_comment_mirrored_in_jira_is_not_overwritten_by_jira(
    jira_host, org, configure, link, deliver, run_jobs, jira_integration
):
    configure(sync_comments_reverse=True)
    group = link("PRJA-42", "10231")
    comment = jira_host.store.groups.add_comment(
        group.id,
        text="Our words",
        author_name="Ann",
        author_email=None,
        author_member_id=None,
        source="user",
        source_integration_id=None,
    )
    issue = jira_host.store.integrations.issues_for_group(group.id)[0]
    jira_host.store.groups.link_comment(comment, issue.id, "20001")
    deliver(
        comment_payload("comment_updated", body="Ann wrote:\n\n{quote}Our words{quote}")
    )
    run_jobs()
    assert comments(jira_host, org, group) == [("Our words", "Ann", None)]


def test_comment_sync_off_adds_nothing(jira_host, org, link, deliver, run_jobs):
    group = link("PRJA-42", "10231")
    deliver(comment_payload())
    run_jobs()
    assert comments(jira_host, org, group) == []


# ---- once, in order, no echoes ----


def test_the_same_delivery_twice_is_applied_once(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    member("some-instance-test@gmail.com")
    group = link("PRJA-37", "10226")
    body = payload(ASSIGNEE)
    deliver(body)
    deliver(body)
    run_jobs()
    assert len(jira_host.store.deliveries.recent()) == 1
    assert [t for t, _ in activity(jira_host, org, group)] == ["assigned"]


def test_an_older_delivery_arriving_late_is_dropped(
    jira_host, org, configure, link, deliver, run_jobs
):
    configure(sync_status_reverse=True)
    group = link("TES-4", "10300")
    jira_host.store.groups.set_status(group.id, "resolved")
    in_progress = payload(IN_PROGRESS)  # 2019-08-14, from Resolved
    in_progress["changelog"]["items"][0]["from"] = "5"
    deliver(in_progress)
    deliver(payload(RESOLVED))  # 2019-08-13: older, arrives second
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"


def test_a_late_change_of_another_field_is_applied(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    """Jira DC sends webhooks asynchronously: an assignee change (10:00:01)
    arrives after a status change (10:00:05) of the same issue. Nothing
    newer touched the assignee, so it is applied; an even older assignee
    change arriving after it is not."""
    configure(sync_status_reverse=True, sync_reverse_assignment=True)
    ann = member("some-instance-test@gmail.com")
    group = link("TES-4", "10300")
    status = payload(RESOLVED)
    status["issue"]["fields"]["updated"] = "2026-12-01T10:00:05.000+0000"
    assignee = payload(ASSIGNEE)
    assignee["issue"].update(id="10300", key="TES-4")
    assignee["issue"]["fields"]["updated"] = "2026-12-01T10:00:01.000+0000"
    older = copy.deepcopy(assignee)
    older["timestamp"] -= 1
    older["issue"]["fields"]["updated"] = "2026-12-01T10:00:00.000+0000"
    older["issue"]["fields"]["assignee"] = None
    older["changelog"]["items"][0].update(to=None, toString=None)
    for body in (status, assignee, older):
        assert deliver(body).status_code == 200
    run_jobs()
    assert now(jira_host, org, group).status == "resolved"
    assert now(jira_host, org, group).assignee_email == ann.email


def test_an_echo_of_our_own_write_is_not_applied(
    jira_host, org, configure, link, deliver, run_jobs, clock
):
    """We moved TES-4 to Resolved (5), then the user unresolved in the host;
    Jira's webhook for our own transition must not resolve it again."""
    configure(sync_status_reverse=True, sync_status_forward=True)
    group = link("TES-4", "10300")
    issue = jira_host.store.integrations.issues_for_group(group.id)[0]
    jira_host.store.integrations.add_echo(issue.id, "status", "5", now=clock(), ttl=600)
    deliver(payload(RESOLVED))
    run_jobs()
    assert now(jira_host, org, group).status == "unresolved"
    assert jira_host.store.jobs.list(("queued",)) == []
    # The echo is used up: the same change made by a person in Jira applies.
    body = payload(RESOLVED)
    body["timestamp"] += 1
    body["issue"]["fields"]["updated"] = "2019-08-13T07:23:02.000+0800"
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).status == "resolved"


# ---- partial payloads never crash ----


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b["issue"].pop("fields"),
        lambda b: b["issue"].update(fields=None),
        lambda b: b["issue"].update(fields={"assignee": "not an object"}),
        lambda b: b["changelog"].update(items=["junk", 3, None]),
        lambda b: b["changelog"].update(items=[{"field": "status"}]),
        lambda b: b["changelog"].update(items=[{"field": "assignee", "to": 7}]),
        lambda b: b.pop("issue"),
        lambda b: b.update(issue={"key": None}),
        lambda b: b.update(comment={"id": 5}),
        lambda b: b.update(timestamp="yesterday"),
    ],
)
def test_partial_payloads_are_processed_without_crashing(
    jira_host, org, configure, link, member, deliver, run_jobs, mangle
):
    configure(
        sync_reverse_assignment=True,
        sync_status_reverse=True,
        sync_comments_reverse=True,
    )
    member("some-instance-test@gmail.com")
    link("PRJA-37", "10226")
    body = copy.deepcopy(payload(ASSIGNEE))
    mangle(body)
    assert deliver(body).status_code == 200
    run_jobs()
    assert [j["state"] for j in jira_host.store.jobs.list()] == ["done"]


def test_a_created_issue_without_changelog_is_acknowledged_not_stored(
    jira_host, jira_integration, deliver
):
    response = deliver(payload(CREATED))
    assert (response.status_code, response.json) == (200, {"received": False})
    assert jira_host.store.deliveries.recent() == []


# ---- delivery log ----


def test_the_delivery_log_lists_outcomes_and_reprocesses_one(
    jira_host, org, configure, link, member, deliver, run_jobs, api
):
    """A delivery applied while reverse sync was off is applied again once
    it is turned on: the log is how a missed change is repaired by hand."""
    ann = member("Some-Instance-Test@Gmail.com", "Ann")
    group = link("PRJA-37", "10226")
    deliver(payload(ASSIGNEE))
    run_jobs()
    [logged] = api("get", "/deliveries").json
    assert logged["status"] == "processed" and logged["provider"] == "jira_server"
    assert set(logged) == {
        "id", "integration_id", "provider", "received_at", "status", "error",
        "processed_at",
    }  # fmt: skip
    assert now(jira_host, org, group).assignee_email is None

    configure(sync_reverse_assignment=True)
    response = api("post", f"/deliveries/{logged['id']}/reprocess")
    assert response.status_code == 202
    assert response.json["status"] == "received"
    assert run_jobs() == ["delivery.process"]
    assert now(jira_host, org, group).assignee_email == ann.email
    assert api("get", "/deliveries").json[0]["status"] == "processed"


def test_the_delivery_log_is_the_organizations_own(
    jira_host, org, link, deliver, run_jobs, client
):
    link("PRJA-37", "10226")
    deliver(payload(ASSIGNEE))
    run_jobs()
    [delivery] = jira_host.store.deliveries.recent()
    other = jira_host.organizations.create("other", "Other")
    headers = {"Authorization": f"Bearer {jira_host.organizations.create_token(other)}"}
    base = "/api/0/organizations/other/deliveries"
    assert client.simulate_get(base, headers=headers).json == []
    refused = client.simulate_post(
        f"{base}/{delivery['id']}/reprocess", headers=headers
    )
    assert refused.status_code == 404 and refused.json["detail"]
    assert jira_host.store.jobs.list(("queued",)) == []
    # Nor through the first organization's URL with the other's token.
    acme = client.simulate_get("/api/0/organizations/acme/deliveries", headers=headers)
    assert acme.status_code == 404


def test_an_assignee_known_only_by_id_leaves_the_group_alone(
    jira_host, org, configure, link, member, deliver, run_jobs
):
    """The shape Jira Cloud sends (an account id, no email, no name): the
    group keeps its assignee, and its activity says why."""
    configure(sync_reverse_assignment=True)
    ann = member("some-instance-test@gmail.com")
    group = link("PRJA-37", "10226")
    jira_host.store.groups.set_assignee(group.id, ann.id)
    body = payload(ASSIGNEE)
    body["changelog"]["items"][0].update({"to": None, "toString": None})
    body["issue"]["fields"]["assignee"] = {
        "accountId": "5b10ac8d82e05b22cc7d4ef5",
        "emailAddress": "",
    }
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email == ann.email
    kind, data = activity(jira_host, org, group)[-1]
    assert kind == "assignee_unmatched"
    assert "5b10ac8d82e05b22cc7d4ef5 has no visible email" in data["message"]


def test_assignee_null_in_the_fields_unassigns_whatever_the_changelog_says(
    jira_host, org, configure, link, member, deliver, run_jobs, jira
):
    """Jira's current state is the authority: the changelog's ``to`` is
    not asked about (no user lookup reaches Jira)."""
    configure(sync_reverse_assignment=True)
    ann = member("some-instance-test@gmail.com")
    group = link("PRJA-37", "10226")
    jira_host.store.groups.set_assignee(group.id, ann.id)
    body = payload(ASSIGNEE)
    body["changelog"]["items"][0].update({"to": "admin", "toString": "Admin"})
    body["issue"]["fields"]["assignee"] = None
    deliver(body)
    run_jobs()
    assert now(jira_host, org, group).assignee_email is None
    assert activity(jira_host, org, group)[-1][0] == "unassigned"
    assert jira.seen("/rest/api/2/user") == []
