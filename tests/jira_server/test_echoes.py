"""Our own writes coming back from Jira are echoes; nobody else's change is.

The webhook is in manual mode here (not yet added in Jira), so the fake
Jira sends nothing by itself: each test delivers what Jira would have sent,
with the acting user Jira names in ``user``. The integration acts in Jira
as ``svc`` (the user its token belongs to, in its identity).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from tests.conftest import linked_group, shared_fixture
from tests.fake_jira import add_issue
from tests.jira_server.conftest import install_svc, webhook_token

IDENTITY = "jira.example.org#token:svc"
PEOPLE = {
    name: {"name": name, "key": name, "displayName": name.title(),
           "emailAddress": f"{name}@example.com"}
    for name in ("frank", "zack", "bob", "alice")
}  # fmt: skip
SVC = {"name": "svc", "key": "svc"}
CAROL = {"name": "carol", "key": "carol"}


@pytest.fixture
def setup(jira, jira_host, org, member, client):
    """PRJ-1 linked to a group; assignment synced both ways; members and
    Jira users for everyone in ``PEOPLE``."""
    jira.users.update(PEOPLE)
    add_issue(jira, "PRJ-1", "10001")
    integration = install_svc(jira_host, org, jira, IDENTITY)
    jira_host.integrations.update_config(
        org,
        integration.id,
        {"sync_forward_assignment": True, "sync_reverse_assignment": True},
    )
    for person in PEOPLE.values():
        member(person["emailAddress"], person["displayName"])
    group = linked_group(
        jira_host, org, integration.id, "PRJ-1", "10001", url=f"{jira.url}/browse/PRJ-1"
    )
    moments = iter(range(10, 60))

    def deliver(assignee: str, by: dict) -> None:
        """Jira's webhook: the issue assigned to ``assignee`` by ``by``."""
        body = json.loads(
            shared_fixture("jira-webhooks/real-server-issue-updated-assignee.json")
        )
        second = next(moments)
        body["timestamp"] = 1_800_000_000_000 + second * 1000
        body["user"] = by
        body["issue"] = {"id": "10001", "key": "PRJ-1", "fields": {
            "assignee": copy.deepcopy(PEOPLE[assignee]),
            "updated": f"2026-12-01T10:00:{second:02d}.000+0000"}}  # fmt: skip
        body["changelog"]["items"][0].update(to=assignee, toString=assignee)
        answer = client.simulate_post(
            f"/extensions/jira-server/issue-updated/{webhook_token({'id': IDENTITY})}/",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text

    return group, deliver


def assign(api, group, name):
    answer = api("put", f"/groups/{group.id}", json={"assignee": f"{name}@example.com"})
    assert answer.status_code == 200, answer.json


def assignee(jira_host, org, group):
    return jira_host.groups.get(org, group.id).assignee_email


def test_a_jira_users_change_to_a_value_we_wrote_is_applied(
    setup, api, jira, jira_host, org, run_jobs
):
    """The issue's scenario: two writes whose webhooks never came, then a
    Jira user assigns the first value again."""
    group, deliver = setup
    assign(api, group, "frank")
    run_jobs()
    assign(api, group, "zack")
    run_jobs()
    assert jira.issues["PRJ-1"]["fields"]["assignee"]["name"] == "zack"
    deliver("frank", by=CAROL)
    run_jobs()
    assert assignee(jira_host, org, group) == "frank@example.com"


def test_quick_writes_echo_in_order_and_each_once(setup, api, jira_host, org, run_jobs):
    group, deliver = setup
    assign(api, group, "bob")
    run_jobs()
    assign(api, group, "alice")
    run_jobs()
    deliver("bob", by=SVC)  # our first write, late
    deliver("alice", by=SVC)
    run_jobs()
    assert assignee(jira_host, org, group) == "alice@example.com"
    # Both echoes were used: the same change made again by our account
    # (someone in Jira using it) is applied.
    deliver("bob", by=SVC)
    run_jobs()
    assert assignee(jira_host, org, group) == "bob@example.com"


def test_a_newer_echo_uses_up_an_older_one_whose_webhook_never_came(
    setup, api, jira_host, org, run_jobs
):
    """The acting user unnamed: the value alone decides, so a write whose
    webhook was lost must not swallow a later change back to its value."""
    group, deliver = setup
    assign(api, group, "frank")
    run_jobs()
    assign(api, group, "zack")
    run_jobs()
    deliver("zack", by=None)  # frank's webhook was lost
    run_jobs()
    deliver("frank", by=None)  # a real change, by someone Jira does not name
    run_jobs()
    assert assignee(jira_host, org, group) == "frank@example.com"


def test_our_own_write_coming_back_is_not_applied_again(
    setup, api, jira_host, org, run_jobs
):
    group, deliver = setup
    assign(api, group, "frank")
    run_jobs()
    before = len(jira_host.groups.activity(jira_host.groups.get(org, group.id)))
    deliver("frank", by=SVC)
    run_jobs()
    after = jira_host.groups.activity(jira_host.groups.get(org, group.id))
    assert len(after) == before  # dropped as the echo it is: no new entry


def test_a_change_jira_had_before_our_write_arriving_late_is_stale(
    setup, api, jira, jira_host, org, run_jobs, clock
):
    """Carol assigned Frank at 10:00:10; our write of Zack reached Jira at
    10:00:30, over hers; her webhook comes after. Jira has Zack: so must
    the group."""
    group, deliver = setup
    clock.now = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC).timestamp()
    assign(api, group, "zack")
    run_jobs()
    deliver("frank", by=CAROL)  # stamped 10:00:10
    run_jobs()
    assert jira.issues["PRJ-1"]["fields"]["assignee"]["name"] == "zack"
    assert assignee(jira_host, org, group) == "zack@example.com"
