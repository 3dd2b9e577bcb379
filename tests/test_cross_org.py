"""Every API endpoint, called by another organization: always 404, never a
change. The table must name every route the app serves under an
organization, so a new endpoint cannot skip the sweep."""

from __future__ import annotations

import json

import pytest

from tests.conftest import install_tiny

ORG_API = "/api/0/organizations/{slug}"

#: (method, route under the organization) -> a body that would succeed for
#: the owner, so only the access check can refuse it.
TABLE = {
    ("GET", ""): None,
    ("GET", "/members"): None,
    ("POST", "/members"): {"email": "mallory@example.com"},
    ("GET", "/groups"): None,
    ("POST", "/groups"): {"title": "injected"},
    ("GET", "/groups/{group_id:id}"): None,
    ("PUT", "/groups/{group_id:id}"): {"status": "resolved"},
    ("DELETE", "/groups/{group_id:id}"): None,
    ("GET", "/groups/{group_id:id}/activity"): None,
    ("GET", "/groups/{group_id:id}/comments"): None,
    ("POST", "/groups/{group_id:id}/comments"): {"text": "injected"},
    ("PUT", "/groups/{group_id:id}/comments/{comment_id:id}"): {"text": "changed"},
    ("POST", "/groups/{group_id:id}/links"): {"integration_id": 0, "key": "APP-9"},
    ("DELETE", "/groups/{group_id:id}/links/{external_issue_id:id}"): None,
    ("GET", "/groups/{group_id:id}/integrations/{integration_id:id}/create"): None,
    ("POST", "/groups/{group_id:id}/integrations/{integration_id:id}/create"): {
        "title": "injected",
        "component": "api",
    },
    ("GET", "/integrations"): None,
    ("GET", "/integrations/{integration_id:id}"): None,
    ("PUT", "/integrations/{integration_id:id}"): {"sync_comments": True},
    ("DELETE", "/integrations/{integration_id:id}"): None,
    ("GET", "/integrations/{integration_id:id}/config"): None,
    ("PUT", "/integrations/{integration_id:id}/config"): {"sync_comments": True},
    ("GET", "/integrations/{integration_id:id}/search"): None,
    ("POST", "/integrations/{integration_id:id}/rotate-webhook-secret"): None,
    ("GET", "/tokens"): None,
    ("DELETE", "/tokens/{token_id:id}"): None,
    ("GET", "/deliveries"): None,
    ("GET", "/events"): None,
    ("GET", "/rules"): None,
    ("POST", "/rules"): {"integration_id": 0, "when": {"event": "group.created"}},
    ("GET", "/rules/{rule_id:id}"): None,
    ("PUT", "/rules/{rule_id:id}"): {"active": False},
    ("DELETE", "/rules/{rule_id:id}"): None,
    ("GET", "/hooks"): None,
    ("POST", "/hooks"): {"url": "https://mallory.example/hook"},
    ("GET", "/hooks/{hook_id:id}"): None,
    ("PUT", "/hooks/{hook_id:id}"): {"url": "https://mallory.example/hook"},
    ("DELETE", "/hooks/{hook_id:id}"): None,
    ("POST", "/hooks/{hook_id:id}/rotate-secret"): None,
    ("GET", "/hooks/{hook_id:id}/deliveries"): None,
    ("POST", "/hooks/{hook_id:id}/deliveries/{delivery_id:id}/redeliver"): None,
    ("POST", "/deliveries/{delivery_id:id}/reprocess"): None,
    ("GET", "/jobs/dead"): None,
    ("POST", "/jobs/{job_id:id}/retry"): None,
    ("POST", "/setup"): {"provider": "tiny"},
    ("GET", "/setup/{pipeline_id}"): None,
    ("POST", "/setup/{pipeline_id}"): {"url": "https://x.example", "secret": "s"},
}


def served_routes(app) -> set[tuple[str, str]]:
    """(method, route) of every responder under an organization."""
    found = set()

    def walk(nodes):
        for node in nodes:
            if node.resource is not None and node.uri_template.startswith(
                ORG_API.replace("{slug}", "")
            ):
                route = node.uri_template[len(ORG_API) :]
                for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                    if hasattr(node.resource, f"on_{method.lower()}"):
                        found.add((method, route))
            walk(node.children)

    walk(app._router._roots)
    return found


@pytest.fixture
def victim(host, org, api, clock):
    """Acme's objects of every kind an endpoint can name."""
    integration = install_tiny(host, org)
    group = host.groups.create(org, "KeyError", "app.py")
    comment = api("post", f"/groups/{group.id}/comments", json={"text": "hi"}).json
    link = api(
        "post",
        f"/groups/{group.id}/links",
        json={"integration_id": integration.id, "key": "APP-1"},
    ).json
    pipeline = api("post", "/setup", json={"provider": "tiny"}).json["pipeline"]
    hook = api("post", "/hooks", json={"url": "https://acme.example/hook"}).json
    rule = api(
        "post",
        "/rules",
        json={"integration_id": integration.id, "when": {"event": "group.created"}},
    ).json
    with host.store.transaction():
        delivery = host.store.deliveries.add(integration.id, "tiny", {}, b"{}")
        job = host.jobs.enqueue("sync.outbound", {"organization_id": org.id})
    host.store.jobs.claim("w", now=clock(), lease_seconds=60)
    host.store.jobs.bury(job, "w", 1, "failed")
    return {
        "group_id:id": group.id,
        "comment_id:id": comment["id"],
        "external_issue_id:id": link["id"],
        "integration_id:id": integration.id,
        "delivery_id:id": delivery,
        "job_id:id": job,
        "pipeline_id": pipeline,
        "hook_id:id": hook["id"],
        "rule_id:id": rule["id"],
        "token_id:id": host.store.organizations.tokens(org.id)[0]["id"],
    }


@pytest.fixture
def mallory(host, client):
    """Another organization's API caller."""
    other = host.organizations.create("beta", "Beta")
    token = host.organizations.create_token(other)

    def call(method, path, body):
        return client.simulate_request(
            method,
            path,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
            },
            body=json.dumps(body) if body is not None else None,
        )

    return call


def snapshot(api, ids) -> str:
    """Everything Acme can read about its own objects."""
    group = ids["group_id:id"]
    integration = ids["integration_id:id"]
    reads = [
        "",
        "/members",
        "/groups",
        f"/groups/{group}",
        f"/groups/{group}/activity",
        f"/groups/{group}/comments",
        "/integrations",
        f"/integrations/{integration}/config",
        "/deliveries",
        "/events",
        "/hooks",
        "/rules",
        "/jobs/dead",
        "/tokens",
        f"/setup/{ids['pipeline_id']}",
    ]
    return json.dumps([api("get", path).json for path in reads])


def test_the_table_names_every_route_under_an_organization(client):
    assert served_routes(client.app) == set(TABLE)


def test_another_organization_gets_404_everywhere_and_changes_nothing(
    api, victim, mallory, host
):
    before = snapshot(api, victim)
    tried = 0
    for (method, route), body in TABLE.items():
        filled = route
        for name, value in victim.items():
            filled = filled.replace("{" + name + "}", str(value))
        if body and "integration_id" in body:
            body = {**body, "integration_id": victim["integration_id:id"]}
        # Acme's slug with Beta's token: the organization itself is not found.
        answer = mallory(method, ORG_API.format(slug="acme") + filled, body)
        assert answer.status_code == 404, (method, route, answer.json)
        assert answer.json["detail"] == "Organization 'acme' not found."
        tried += 1
        if filled == route:
            continue  # no object of Acme's in the path: Beta's own listing
        # Beta's own slug with Acme's ids: those objects are not found.
        answer = mallory(method, ORG_API.format(slug="beta") + filled, body)
        assert answer.status_code == 404, (method, route, answer.json)
        assert answer.json["detail"]
        tried += 1
    assert tried == 79  # 47 rows, 32 of them naming an object of Acme's
    assert snapshot(api, victim) == before
    assert host.store.jobs.get(victim["job_id:id"])["state"] == "dead"
