"""``Idempotency-Key`` on the API's POSTs: a request sent again gets the
first answer, and what it did is done once (``host.api.idempotency``)."""

from __future__ import annotations

import pytest

from tests.conftest import install_tiny, link_issue

KEY = {"Idempotency-Key": "retry-me-7f3c"}


def test_a_group_posted_twice_with_one_key_is_made_once(api, host, org):
    first = api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    again = api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [g.title for g in host.groups.list(org)] == ["KeyError"]
    # Without a key, or with another, it is a new request.
    assert api("post", "/groups", json={"title": "KeyError"}).status_code == 201
    other = {"Idempotency-Key": "another"}
    assert api("post", "/groups", json={"title": "KeyError"}, headers=other).json != (
        first.json
    )
    assert len(host.groups.list(org)) == 3


def test_a_comment_posted_twice_is_one_comment_and_one_sync(api, host, org):
    integration = install_tiny(host, org)
    host.integrations.update_config(org, integration.id, {"sync_comments": True})
    group = api("post", "/groups", json={"title": "KeyError"}).json
    link_issue(host, group["id"], integration.id, "TINY-1", "TINY-1")
    path = f"/groups/{group['id']}/comments"
    for _ in range(3):
        answer = api("post", path, json={"text": "Seen again"}, headers=KEY)
        assert answer.status_code == 201
    assert [c["text"] for c in api("get", path).json] == ["Seen again"]
    assert len(host.store.jobs.list(("queued",))) == 1


def test_a_key_used_for_another_request_is_refused(api, host, org):
    api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    reused = api("post", "/groups", json={"title": "TypeError"}, headers=KEY)
    assert reused.status_code == 422
    assert "was used for another request" in reused.json["detail"]
    assert [g.title for g in host.groups.list(org)] == ["KeyError"]


def test_a_refused_request_keeps_nothing_and_may_be_sent_again(api, host, org):
    refused = api("post", "/groups", json={"title": ""}, headers=KEY)
    assert refused.status_code == 400
    fixed = api("post", "/groups", json={"title": ""}, headers=KEY)
    assert fixed.status_code == 400  # run again, not replayed
    assert "Idempotent-Replayed" not in fixed.headers
    assert host.store.idempotency.get(org.id, KEY["Idempotency-Key"]) is None


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_400(api, key):
    answer = api(
        "post",
        "/groups",
        json={"title": "KeyError"},
        headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json["errors"]


def test_keys_belong_to_their_organization(api, host, org, client):
    api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    other = host.organizations.create("other", "Other")
    token = host.organizations.create_token(other)
    answer = client.simulate_post(
        "/api/0/organizations/other/groups",
        json={"title": "Another"},
        headers={"Authorization": f"Bearer {token}", **KEY},
    )
    assert answer.status_code == 201 and answer.json["title"] == "Another"


def test_keys_expire_after_a_day(api, host, org, clock):
    api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    clock.advance(86_401)
    assert host.retention.sweep()["idempotency_keys"] == 1
    again = api("post", "/groups", json={"title": "KeyError"}, headers=KEY)
    assert "Idempotent-Replayed" not in again.headers
    assert len(host.groups.list(org)) == 2
