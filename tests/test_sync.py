"""Inbound webhooks and outbound sync, end to end inside one process.

Deliveries go through the real HTTP route to the tiny provider, are stored,
and are applied by the real job worker; outbound changes made through the API
reach the provider's hooks through jobs.
"""

import json

import pytest

from tests import tiny_tracker
from tests.conftest import install_tiny

SECRET = "tiny-secret"


@pytest.fixture
def integration(host, org):
    return install_tiny(host, org)


@pytest.fixture
def configure(host, org, integration):
    def set_flags(**flags):
        host.integrations.update_config(org, integration.id, flags)

    return set_flags


@pytest.fixture
def group(host, org, integration, api):
    api("post", "/members", json={"email": "Ann@Example.com", "name": "Ann"})
    created = host.groups.create(org, "KeyError", "app.py")
    response = api(
        "post",
        f"/groups/{created.id}/links",
        json={"integration_id": integration.id, "key": "APP-1"},
    )
    assert response.status_code == 201
    return created


@pytest.fixture
def deliver(client):
    def post(*events, secret=SECRET, external_id="tiny.example"):
        return client.simulate_post(
            f"/extensions/tiny/hook/{external_id}",
            body=json.dumps({"events": list(events)}),
            headers={"X-Tiny-Secret": secret, "Content-Type": "application/json"},
        )

    return post


def current(host, org, group):
    return host.groups.get(org, group.id)


def outbound_calls():
    return [c for c in tiny_tracker.CALLS if c["hook"].startswith("sync_")]


# ---- inbound ----


def test_a_delivery_is_stored_before_the_answer_and_applied_by_a_job(
    host, org, group, configure, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    response = deliver(
        {"type": "assignee", "issue_key": "APP-1", "email": "ann@EXAMPLE.com"}
    )
    assert (response.status_code, response.json) == (200, {"received": True})
    assert current(host, org, group).assignee_email is None  # not yet: a job does it
    assert run_jobs() == ["delivery.process"]
    assert current(host, org, group).assignee_email == "Ann@Example.com"
    activity = host.groups.activity(group)[-1]
    assert (activity["type"], activity["source"]) == ("assigned", "integration")
    assert activity["source_integration_id"] is not None
    assert host.store.deliveries.recent()[0]["status"] == "processed"


def test_the_same_delivery_twice_is_applied_once(
    host, org, group, configure, deliver, run_jobs
):
    configure(sync_comments_reverse=True)
    event = {
        "type": "comment",
        "issue_key": "APP-1",
        "comment_id": "10",
        "author_name": "Zed",
        "body": "hi",
    }
    assert deliver(event).json == {"received": True}
    assert deliver(event).json == {"received": False}
    run_jobs()
    assert [c["text"] for c in host.groups.comments(group)] == ["hi"]


def test_rejected_webhooks_store_nothing(host, group, deliver, client):
    wrong = deliver({"type": "deleted", "issue_key": "APP-1"}, secret="wrong")
    assert (wrong.status_code, wrong.json) == (400, {"detail": "Bad secret."})
    unknown = deliver({"type": "deleted", "issue_key": "APP-1"}, external_id="nope")
    assert unknown.json == {"detail": "No integration for this URL."}
    assert (
        client.simulate_post("/extensions/nobody/hook/x", body=b"{}").status_code == 404
    )
    assert host.store.deliveries.recent() == []
    assert host.store.jobs.list() == []


def test_an_empty_delivery_is_acknowledged_and_not_stored(host, group, deliver):
    assert deliver().json == {"received": False}
    assert host.store.deliveries.recent() == []


def test_oversize_webhooks_are_413(host, group, client):
    body = b"x" * (host.config.max_body_bytes + 1)
    response = client.simulate_post("/extensions/tiny/hook/tiny.example", body=body)
    assert response.status_code == 413


def test_sync_turned_off_changes_nothing(host, org, group, deliver, run_jobs):
    deliver(
        {"type": "assignee", "issue_key": "APP-1", "email": "ann@example.com"},
        {"type": "status", "issue_key": "APP-1", "resolved": True},
        {
            "type": "comment",
            "issue_key": "APP-1",
            "comment_id": "1",
            "author_name": "Z",
            "body": "b",
        },
    )
    run_jobs()
    after = current(host, org, group)
    assert (after.assignee_email, after.status) == (None, "unresolved")
    assert host.groups.comments(group) == []


def test_an_unknown_user_is_recorded_not_applied(
    host, org, group, configure, deliver, run_jobs
):
    configure(sync_reverse_assignment=True)
    deliver(
        {
            "type": "assignee",
            "issue_key": "APP-1",
            "email": "x@jira.example",
            "display_name": "Xavier",
        }
    )
    run_jobs()
    assert current(host, org, group).assignee_email is None
    last = host.groups.activity(group)[-1]
    assert last["type"] == "assignee_unmatched"
    assert last["data"]["message"] == "Tiny Tracker user Xavier has no matching member"


def test_unassign(host, org, group, configure, deliver, run_jobs):
    configure(sync_reverse_assignment=True)
    deliver({"type": "assignee", "issue_key": "APP-1", "email": "ann@example.com"})
    deliver(
        {
            "type": "assignee",
            "issue_key": "APP-1",
            "email": None,
            "occurred_at": "2030-01-01T00:00:00Z",
        }
    )
    run_jobs()
    assert current(host, org, group).assignee_email is None


def test_status_resolves_and_unresolves(host, org, group, configure, deliver, run_jobs):
    configure(sync_status_reverse=True)
    host.integrations.update_config(org, 1, {})  # a no-op update keeps the flags
    deliver({"type": "status", "issue_key": "APP-1", "resolved": True})
    run_jobs()
    assert current(host, org, group).status == "resolved"
    resolved = host.groups.activity(group)[-1]
    assert resolved["data"] == {
        "provider": "Tiny Tracker",
        "resolution_strategy": "resolve",
    }
    deliver(
        {"type": "status", "issue_key": "APP-1", "resolved": False, "to_status": "3"}
    )
    run_jobs()
    assert current(host, org, group).status == "unresolved"


def test_older_deliveries_are_dropped(host, org, group, configure, deliver, run_jobs):
    configure(sync_status_reverse=True)
    deliver(
        {
            "type": "status",
            "issue_key": "APP-1",
            "resolved": True,
            "occurred_at": "2024-05-01T12:00:00.000+0200",
        }
    )
    deliver(
        {
            "type": "status",
            "issue_key": "APP-1",
            "resolved": False,
            "occurred_at": "2024-05-01T11:59:00.000+0200",
        }
    )
    run_jobs()
    assert current(host, org, group).status == "resolved"


def test_a_moved_issue_keeps_its_links(host, org, group, deliver, run_jobs, configure):
    configure(sync_status_reverse=True)
    deliver(
        {
            "type": "moved",
            "issue_key": "OPS-7",
            "issue_id": "id-APP-1",
            "old_key": "APP-1",
            "new_key": "OPS-7",
        }
    )
    run_jobs()
    issues = host.store.integrations.issues_for_group(group.id)
    assert [(i.key, i.url) for i in issues] == [
        ("OPS-7", "https://tiny.example/browse/OPS-7")
    ]
    # a later event under the new key still reaches the group
    deliver({"type": "status", "issue_key": "OPS-7", "resolved": True})
    run_jobs()
    assert current(host, org, group).status == "resolved"


def test_a_key_change_seen_by_issue_id_rekeys_too(host, group, deliver, run_jobs):
    deliver({"type": "deleted", "issue_key": "NEW-1", "issue_id": "id-APP-1"})
    run_jobs()
    assert host.store.integrations.issues_for_group(group.id) == []
    assert host.groups.activity(group)[-1]["data"] == {
        "message": "Tiny Tracker issue NEW-1 was deleted"
    }


def test_comments_are_added_then_updated(host, group, configure, deliver, run_jobs):
    configure(sync_comments_reverse=True)
    deliver(
        {
            "type": "comment",
            "issue_key": "APP-1",
            "comment_id": "77",
            "author_name": "Zed",
            "author_email": "zed@jira.example",
            "body": "one",
        }
    )
    deliver(
        {
            "type": "comment",
            "issue_key": "APP-1",
            "comment_id": "77",
            "author_name": "Zed",
            "body": "two",
            "edited": True,
        }
    )
    run_jobs()
    comments = host.groups.comments(group)
    assert [(c["text"], c["author_name"], c["source"]) for c in comments] == [
        ("two", "Zed", "integration")
    ]


def test_events_for_unlinked_issues_change_nothing(host, group, deliver, run_jobs):
    deliver({"type": "deleted", "issue_key": "OTHER-1"})
    run_jobs()
    assert [i.key for i in host.store.integrations.issues_for_group(group.id)] == [
        "APP-1"
    ]


def test_a_parse_that_must_wait_is_retried(host, group, deliver, run_jobs, clock):
    deliver({"type": "status", "issue_key": "APP-1", "resolved": True, "retry": True})
    run_jobs()
    job = host.store.jobs.list()[0]
    assert (job["state"], job["last_error"]) == ("queued", "tracker busy")
    assert job["run_at"] == clock() + 60
    assert host.store.deliveries.recent()[0]["status"] == "received"


# ---- outbound ----


def test_outbound_changes_reach_the_provider_only_when_enabled(
    host, org, group, api, configure, run_jobs
):
    api("put", f"/groups/{group.id}", json={"status": "resolved"})
    run_jobs()
    assert outbound_calls() == []  # all sync is off by default
    configure(
        sync_status_forward=True, sync_forward_assignment=True, sync_comments=True
    )
    api(
        "put",
        f"/groups/{group.id}",
        json={"status": "unresolved", "assignee": "ann@example.com"},
    )
    api("post", f"/groups/{group.id}/comments", json={"text": "looking"})
    assert run_jobs() == ["sync.outbound"] * 3
    assert outbound_calls() == [
        {"hook": "sync_assignee_outbound", "key": "APP-1", "email": "Ann@Example.com"},
        {"hook": "sync_status_outbound", "key": "APP-1", "resolved": False},
        {
            "hook": "sync_comment_outbound",
            "key": "APP-1",
            "text": "looking",
            "external_comment_id": None,
        },
    ]
    types = [a["type"] for a in host.groups.activity(group)]
    assert types.count("sync_outbound") == 3


def test_ignoring_is_not_sent_as_a_status(host, group, api, configure, run_jobs):
    configure(sync_status_forward=True)
    api("put", f"/groups/{group.id}", json={"status": "ignored"})
    run_jobs()
    assert outbound_calls() == []


def test_an_edited_comment_updates_the_same_tracker_comment(
    host, group, api, configure, run_jobs
):
    configure(sync_comments=True)
    comment = api("post", f"/groups/{group.id}/comments", json={"text": "v1"}).json
    run_jobs()
    api("put", f"/groups/{group.id}/comments/{comment['id']}", json={"text": "v2"})
    run_jobs()
    assert [c["external_comment_id"] for c in outbound_calls()] == [
        None,
        f"c-{comment['id']}",
    ]


def test_inbound_changes_are_not_sent_back(
    host, org, group, configure, deliver, run_jobs
):
    configure(
        sync_reverse_assignment=True,
        sync_forward_assignment=True,
        sync_status_reverse=True,
        sync_status_forward=True,
        sync_comments_reverse=True,
        sync_comments=True,
    )
    deliver(
        {"type": "assignee", "issue_key": "APP-1", "email": "ann@example.com"},
        {"type": "status", "issue_key": "APP-1", "resolved": True},
        {
            "type": "comment",
            "issue_key": "APP-1",
            "comment_id": "5",
            "author_name": "Zed",
            "body": "from jira",
        },
    )
    assert run_jobs() == ["delivery.process"]
    after = current(host, org, group)
    assert (after.assignee_email, after.status) == ("Ann@Example.com", "resolved")
    assert outbound_calls() == []


def test_an_echo_of_our_own_change_changes_nothing(
    host, org, group, api, configure, deliver, run_jobs
):
    configure(sync_forward_assignment=True, sync_reverse_assignment=True)
    api("put", f"/groups/{group.id}", json={"assignee": "ann@example.com"})
    run_jobs()
    before = len(host.groups.activity(group))
    deliver({"type": "assignee", "issue_key": "APP-1", "email": "ann@example.com"})
    assert run_jobs() == ["delivery.process"]
    assert len(host.groups.activity(group)) == before
    assert len(outbound_calls()) == 1


def test_a_late_echo_does_not_undo_a_newer_change(
    host, org, group, api, configure, deliver, run_jobs
):
    """Resolved here, sent out, unresolved here; then the tracker's webhook
    for our own "resolve" arrives. It must not resolve the group again."""
    configure(sync_status_forward=True, sync_status_reverse=True)
    api("put", f"/groups/{group.id}", json={"status": "resolved"})
    api("put", f"/groups/{group.id}", json={"status": "unresolved"})
    run_jobs()
    sent = [c["resolved"] for c in outbound_calls()]
    assert sent == [True, False]
    echo = {"type": "status", "issue_key": "APP-1", "resolved": True}
    deliver({**echo, "to_status": "done"})
    assert run_jobs() == ["delivery.process"]
    assert current(host, org, group).status == "unresolved"
    assert len(outbound_calls()) == 2  # and nothing new was sent
    # The echo is used up: the same change made by a person applies.
    deliver({**echo, "to_status": "done", "occurred_at": "2030-01-01T00:00:00Z"})
    run_jobs()
    assert current(host, org, group).status == "resolved"


def test_turning_sync_off_after_queueing_skips_the_call(
    host, org, group, api, configure, run_jobs
):
    configure(sync_status_forward=True)
    api("put", f"/groups/{group.id}", json={"status": "resolved"})
    configure(sync_status_forward=False)
    run_jobs()
    assert outbound_calls() == []
