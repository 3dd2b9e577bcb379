"""Ticket rules: a tracker issue made and linked for each new group that
matches, once, through a job; refusals said on the group and in the feed."""

from __future__ import annotations

import pytest

from tests import tiny_tracker
from tests.conftest import install_tiny


@pytest.fixture
def integration(host, org):
    return install_tiny(host, org)


@pytest.fixture
def rule(api, integration):
    def make(**changes):
        body = {
            "integration_id": integration.id,
            "when": {"event": "group.created", "title_matches": "*keyerror*"},
            "fields": {"component": "api"},
            **changes,
        }
        answer = api("post", "/rules", json=body)
        assert answer.status_code == 201, answer.json
        return answer.json

    return make


def created():
    return [c for c in tiny_tracker.CALLS if c["hook"] == "create_issue"]


def test_a_matching_new_group_gets_its_issue_once(host, org, api, run_jobs, rule):
    made = rule()
    assert made["when"]["title_matches"] == "*keyerror*"
    group = host.groups.create(org, "KeyError: 'user'", "app.py")
    host.groups.create(org, "TypeError", "app.py")  # does not match
    assert run_jobs() == ["rules.create"]
    assert [c["title"] for c in created()] == ["KeyError: 'user'"]
    [issue] = host.store.integrations.issues_for_group(group.id)
    assert issue.key.startswith("APP-")
    host.rules.group_created(group)  # seen again (a retry, a replay)
    assert run_jobs() == []
    assert len(created()) == 1
    linked = api("get", "/events", params={"types": "link.created"}).json["events"]
    assert [e["data"]["group_id"] for e in linked] == [group.id]


def test_culprit_patterns_and_inactive_rules(host, org, run_jobs, rule):
    rule(when={"event": "group.created", "culprit_matches": "billing/*"})
    rule(active=False, when={"event": "group.created"})
    host.groups.create(org, "KeyError", "billing/invoice.py")
    host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    assert [c["title"] for c in created()] == ["KeyError"]
    assert len(created()) == 1


def test_a_refusal_is_said_on_the_group_and_in_the_feed(host, org, api, run_jobs, rule):
    made = rule(fields={"title": ""})  # tiny refuses an empty title
    group = host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    assert created() == []
    [failed] = api("get", "/events", params={"types": "rule.failed"}).json["events"]
    assert failed["data"]["rule_id"] == made["id"]
    assert "Title is required" in failed["data"]["error"]
    activity = host.groups.activity(group)
    assert activity[-1]["type"] == "rule_failed"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"fields": {"colour": "red"}}, "fields.colour"),
        ({"when": {"event": "group.resolved"}}, "when.event"),
        (
            {"when": {"event": "group.created", "title_matches": 5}},
            "when.title_matches",
        ),
        ({"when": {"event": "group.created", "size": 3}}, "when.size"),
        ({"fields": ["component"]}, "fields"),
        ({"integration_id": "one"}, "integration_id"),
        ({"active": "yes"}, "active"),
        ({"then": "page someone"}, "then"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_when_saved(
    api, integration, changes, field
):
    body = {
        "integration_id": integration.id,
        "when": {"event": "group.created"},
        "fields": {},
        **changes,
    }
    answer = api("post", "/rules", json=body)
    assert answer.status_code == 400
    assert field in answer.json["errors"], answer.json


def test_another_organizations_integration_cannot_be_named(host, api):
    other = host.organizations.create("beta", "Beta")
    theirs = install_tiny(host, other, external_id="beta.example")
    body = {"integration_id": theirs.id, "when": {"event": "group.created"}}
    answer = api("post", "/rules", json=body)
    assert answer.status_code == 404


def test_rules_are_listed_changed_and_deleted(api, rule):
    made = rule()
    assert [r["id"] for r in api("get", "/rules").json] == [made["id"]]
    changed = api("put", f"/rules/{made['id']}", json={"active": False}).json
    assert changed["active"] is False
    assert changed["fields"] == {"component": "api"}
    assert api("delete", f"/rules/{made['id']}").status_code == 204
    assert api("get", f"/rules/{made['id']}").status_code == 404
