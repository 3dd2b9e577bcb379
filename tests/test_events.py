"""The change feed: every change as an event, in order, from a cursor."""

from __future__ import annotations

import threading

import pytest

from host.services.events import TYPES, encode
from host.services.groups import Source
from tests.conftest import install_tiny
from tests.test_sync import SECRET


@pytest.fixture
def feed(api):
    """Read the feed: ``feed(after=..., limit=..., types=..., wait=...)``."""

    def read(**params):
        answer = api("get", "/events", params={k: v for k, v in params.items()})
        assert answer.status_code == 200, answer.json
        return answer.json

    return read


def every_event(feed, **params) -> list[dict]:
    events, after = [], None
    while True:
        page = feed(**({"after": after} if after else {}), **params)
        events += page["events"]
        after = page["next"]
        if not page["has_more"]:
            return events


def test_each_change_is_one_event_in_order_with_its_shape(host, org, api, feed):
    integration = install_tiny(host, org)
    api("post", "/members", json={"email": "ann@example.com", "name": "Ann"})
    group = api("post", "/groups", json={"title": "KeyError", "culprit": "app.py"})
    group_id = group.json["id"]
    api("put", f"/groups/{group_id}", json={"status": "resolved"})
    api("put", f"/groups/{group_id}", json={"assignee": "ann@example.com"})
    comment = api("post", f"/groups/{group_id}/comments", json={"text": "looking"})
    api("put", f"/groups/{group_id}/comments/{comment.json['id']}", json={"text": "x"})
    link = api(
        "post",
        f"/groups/{group_id}/links",
        json={"integration_id": integration.id, "key": "APP-1"},
    ).json
    api("delete", f"/groups/{group_id}/links/{link['id']}")
    api("delete", f"/groups/{group_id}")

    events = every_event(feed)

    assert [e["type"] for e in events] == [
        "integration.installed",
        "group.created",
        "group.updated",
        "group.updated",
        "comment.created",
        "comment.updated",
        "link.created",
        "link.removed",
        "group.deleted",
    ]
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["organization"] == {"id": org.id, "slug": "acme"} for e in events)
    status, assignee = events[2]["data"], events[3]["data"]
    assert status["changes"] == {
        "status": {"before": "unresolved", "after": "resolved"}
    }
    assert status["group"]["status"] == "resolved"
    assert status["source"] == {"kind": "user", "member_id": None,
                                "integration_id": None}  # fmt: skip
    assert assignee["changes"] == {
        "assignee": {"before": None, "after": "ann@example.com"}
    }
    assert events[4]["data"]["comment"]["text"] == "looking"
    assert events[6]["data"]["issue"]["key"] == "APP-1"
    assert events[7]["data"]["reason"] == "unlinked"
    assert events[8]["data"]["group"]["id"] == group_id


def linked_tiny(host, org, api, **flags):
    """A tiny integration with ``flags`` on and a group linked to APP-1."""
    integration = install_tiny(host, org)
    group = host.groups.create(org, "KeyError", "app.py")
    api("post", f"/groups/{group.id}/links",
        json={"integration_id": integration.id, "key": "APP-1"})  # fmt: skip
    host.integrations.update_config(org, integration.id, flags)
    return integration, group


def test_a_tracker_change_says_it_came_from_the_integration(
    host, org, api, client, run_jobs, feed
):
    integration, _ = linked_tiny(host, org, api, sync_status_reverse=True)
    after = feed()["next"]
    client.simulate_post(
        "/extensions/tiny/hook/tiny.example",
        json={"events": [{"type": "status", "issue_key": "APP-1", "resolved": True}]},
        headers={"X-Tiny-Secret": SECRET},
    )
    run_jobs()
    [event] = feed(after=after)["events"]
    assert event["type"] == "group.updated"
    assert event["data"]["source"]["kind"] == "integration"
    assert event["data"]["source"]["integration_id"] == integration.id


def test_outbound_sync_outcomes_are_events(host, org, api, run_jobs, feed):
    _, group = linked_tiny(host, org, api, sync_status_forward=True)
    after = feed()["next"]
    api("put", f"/groups/{group.id}", json={"status": "resolved"})
    run_jobs()
    types = [e["type"] for e in feed(after=after)["events"]]
    assert types == ["group.updated", "sync.applied"]
    [applied] = feed(after=after, types="sync.applied")["events"]
    assert applied["data"]["action"] == "status"
    assert applied["data"]["issue"]["key"] == "APP-1"


def test_a_change_that_rolls_back_leaves_no_event(host, org, feed):
    with pytest.raises(RuntimeError), host.store.transaction():
        host.groups.create(org, "KeyError", "app.py")
        raise RuntimeError("rolled back")
    assert feed()["events"] == []


def test_pages_follow_the_cursor_and_filter_by_type(host, org, feed):
    groups = [host.groups.create(org, f"boom {n}", "") for n in range(5)]
    host.groups.set_status(groups[0], "resolved", Source(user=True))
    first = feed(limit=2)
    assert [e["data"]["group"]["id"] for e in first["events"]] == [
        groups[0].id,
        groups[1].id,
    ]
    assert first["has_more"] is True
    rest = every_event(feed, limit=2)
    assert len(rest) == 6
    updated = feed(types="group.updated")["events"]
    assert [e["type"] for e in updated] == ["group.updated"]
    # The end of the feed hands back the cursor it was given.
    end = feed(after=first["next"], limit=10)
    assert feed(after=end["next"])["events"] == []
    assert feed(after=end["next"])["next"] == end["next"]


def test_another_organization_never_sees_these_events(host, org, client):
    host.groups.create(org, "KeyError", "app.py")
    other = host.organizations.create("beta", "Beta")
    token = host.organizations.create_token(other)
    answer = client.simulate_get(
        "/api/0/organizations/beta/events",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json["events"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"after": "not a cursor!"}, "after"),
        ({"after": "bm90LWEtY3Vyc29y"}, "after"),  # base64 of something else
        ({"types": "group.created,group.exploded"}, "types"),
        ({"limit": "0"}, "limit"),
        ({"limit": "9999"}, "limit"),
        ({"wait": "31"}, "wait"),
        ({"wait": "soon"}, "wait"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api, params, field):
    answer = api("get", "/events", params=params)
    assert answer.status_code == 400
    assert field in answer.json["errors"], answer.json
    assert answer.json["detail"]


def test_a_cursor_older_than_what_is_kept_is_410(host, org, feed, clock, api):
    host.groups.create(org, "old", "")
    old_cursor = feed()["next"]
    host.groups.create(org, "older still unread", "")
    clock.advance(host.config.event_retention_days * 86400 + 60)
    host.groups.create(org, "new", "")
    assert host.retention.sweep()["events"] == 2
    answer = api("get", "/events", params={"after": old_cursor})
    assert answer.status_code == 410
    assert "resync from the groups list" in answer.json["detail"]
    # Without a cursor the feed starts at the oldest event it keeps.
    assert [e["data"]["group"]["title"] for e in feed()["events"]] == ["new"]


def test_a_waiting_reader_is_woken_by_the_next_event(host, org, feed):
    end = feed()["next"]
    got = {}
    reader = threading.Thread(target=lambda: got.update(feed(after=end, wait=10)))
    reader.start()
    host.groups.create(org, "KeyError", "app.py")
    reader.join(15)
    assert [e["type"] for e in got["events"]] == ["group.created"]


def test_every_type_is_documented_and_cursors_are_opaque():
    from host.services import events

    for type in TYPES:
        assert type in events.__doc__
    assert encode((0, 0)) != "0.0"


@pytest.mark.postgresql_only
def test_an_earlier_transaction_committing_later_is_never_skipped(host, org, feed):
    """PostgreSQL hands ids out at insert, but commits in any order: a
    reader must not pass an event a running transaction will commit."""
    from host.store import Store

    slow = Store.for_config(host.config)
    inside, release = threading.Event(), threading.Event()

    def slow_change():
        with slow.transaction():
            slow.events.add(org.id, "group.created", {"n": "slow"}, None, "t")
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=slow_change)
    thread.start()
    try:
        assert inside.wait(5)
        host.groups.create(org, "fast", "")  # a later id, committed first
        first = feed()
        assert first["events"] == []  # not past the slow one's place
    finally:
        release.set()
        thread.join()
        slow.close()
    seen = every_event(feed)
    assert [e["data"].get("n") or e["data"]["group"]["title"] for e in seen] == [
        "slow",
        "fast",
    ]


def test_a_webhook_status_change_is_an_event_for_each_organization(host, org, feed):
    integration = install_tiny(host, org)
    after = feed()["next"]
    host.integrations.update_metadata(integration, {"webhook_status": "receiving"})
    host.integrations.update_metadata(integration, {"webhook_status": "receiving"})
    [event] = feed(after=after)["events"]
    assert event["type"] == "integration.webhook_status_changed"
    assert event["data"]["webhook_status"] == {"before": None, "after": "receiving"}


def test_removing_an_integration_says_which_links_went(host, org, api, feed):
    integration, group = linked_tiny(host, org, api)
    after = feed()["next"]
    assert api("delete", f"/integrations/{integration.id}").status_code == 204
    events = feed(after=after)["events"]
    assert [(e["type"], e["data"].get("reason")) for e in events] == [
        ("link.removed", "integration_removed"),
        ("integration.removed", None),
    ]
    assert events[0]["data"]["group_id"] == group.id
