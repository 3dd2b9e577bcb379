"""The host's changes reach a Jira Cloud site (the fake, which checks every
request's JWT and qsh): assignments by accountId, transitions on REST v3,
comments as ADF."""

from __future__ import annotations

import pytest

from host.errors import ValidationError
from host.services.groups import Source
from tests.conftest import linked_group

ANN = {
    "accountId": "557058:ann",
    "displayName": "Ann K",
    "emailAddress": "ann@example.com",
}
BOB = {"accountId": "557058:bob", "displayName": "Bob"}  # email hidden (GDPR)


@pytest.fixture
def group(cloud_host, org, claimed, installed):
    installed.issues["APP-1"] = {
        "id": "10100",
        "status": "1",
        "project": "10000",
        "assignee": None,
        "comments": [],
    }
    installed.users.update({ANN["accountId"]: ANN, BOB["accountId"]: BOB})
    cloud_host.integrations.update_config(
        org,
        claimed.id,
        {
            "sync_forward_assignment": True,
            "sync_status_forward": True,
            "sync_comments": True,
            "sync_status_forward_mapping": {
                "10000": {"on_resolve": "10001", "on_unresolve": "3"}
            },
            "user_mappings": {"bob@example.com": BOB["accountId"]},
        },
    )
    return linked_group(cloud_host, org, claimed.id, "APP-1", "10100")


def member(host, org, email, name):
    member_id, _ = host.store.organizations.add_member(org.id, email, name)
    return host.store.organizations.member(org.id, member_id)


def seen(site, method, path):
    return [r for r in site.requests if r[0] == method and r[1] == path]


def test_assigning_finds_the_account_by_email_and_puts_its_accountid(
    cloud_host, org, group, installed, run_jobs
):
    cloud_host.groups.set_assignee(
        group, member(cloud_host, org, "ann@example.com", "Ann"), Source(user=True)
    )
    run_jobs()
    assert installed.issues["APP-1"]["assignee"] == ANN["accountId"]
    [search] = seen(installed, "GET", "/rest/api/3/user/assignable/search")
    assert "query=ann%40example.com" in search[2] and "issueKey=APP-1" in search[2]
    cloud_host.groups.set_assignee(
        cloud_host.groups.get(org, group.id), None, Source(user=True)
    )
    run_jobs()
    assert installed.issues["APP-1"]["assignee"] is None  # {"accountId": null}


def test_a_hidden_email_needs_the_mapping_to_an_accountid(
    cloud_host, org, group, installed, run_jobs
):
    carol = member(cloud_host, org, "carol@example.com", "Carol")
    cloud_host.groups.set_assignee(group, carol, Source(user=True))
    run_jobs()
    assert installed.issues["APP-1"]["assignee"] is None  # nobody matched: nothing sent
    assert seen(installed, "PUT", "/rest/api/3/issue/APP-1/assignee") == []
    bob = member(cloud_host, org, "bob@example.com", "Bob")
    cloud_host.groups.set_assignee(
        cloud_host.groups.get(org, group.id), bob, Source(user=True)
    )
    run_jobs()
    assert installed.issues["APP-1"]["assignee"] == BOB["accountId"]


def test_resolving_takes_the_transition_to_the_mapped_status(
    cloud_host, org, group, installed, run_jobs
):
    cloud_host.groups.set_status(group, "resolved", Source(user=True))
    run_jobs()
    assert installed.issues["APP-1"]["status"] == "10001"
    assert seen(installed, "POST", "/rest/api/3/issue/APP-1/transitions")


def test_a_comment_goes_out_as_adf(cloud_host, org, group, installed, run_jobs):
    cloud_host.groups.add_comment(group, "Seen again.\nTwice.", Source(user=True))
    run_jobs()
    [body] = installed.issues["APP-1"]["comments"]
    assert body["type"] == "doc" and body["version"] == 1
    quote = body["content"][1]
    assert quote["type"] == "blockquote"
    assert quote["content"][0]["content"] == [
        {"type": "text", "text": "Seen again."},
        {"type": "hardBreak"},
        {"type": "text", "text": "Twice."},
    ]
    # Every request was signed for itself (the fake refused none).
    assert all(
        claims["iss"] == "tb.example.trackbridge" for *_, claims in installed.requests
    )


def test_linking_an_issue_by_key_reads_it_from_rest_v3(
    cloud_host, org, claimed, installed
):
    installed.issues["APP-7"] = {
        "id": "10700",
        "summary": "Checkout fails",
        "description": {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "500s"}]}
            ],
        },
        "status": "1",
        "project": "10000",
        "assignee": None,
        "comments": [],
    }
    group = cloud_host.groups.create(org, "KeyError", "app.py")
    linked = cloud_host.tracker_issues.link(
        org, group.id, claimed.id, "APP-7", {"comment": "Linked from trackbridge."}
    )
    assert (linked.key, linked.title) == ("APP-7", "Checkout fails")
    assert linked.url == f"{installed.url}/browse/APP-7"
    [comment] = installed.issues["APP-7"]["comments"]  # ADF, as v3 takes it
    assert comment["content"][0]["content"][0]["text"] == "Linked from trackbridge."
    found = cloud_host.tracker_issues.search(
        org, claimed.id, "externalIssue", "app-7", None
    )
    assert [c.value for c in found] == ["APP-7"]
    assert seen(installed, "GET", "/rest/api/3/search/jql")  # never the 410 /search
    assert not seen(installed, "GET", "/rest/api/3/search")


def test_an_issue_is_created_through_cloud_create_metadata(
    cloud_host, org, claimed, installed
):
    """``createmeta/{project}/issuetypes[/{id}]`` paged as Cloud pages them,
    the description sent as ADF, a user field by accountId."""
    group = cloud_host.groups.create(org, "KeyError: 'cart'", "shop/cart.py")
    form = cloud_host.tracker_issues.create_form(org, group.id, claimed.id, {})
    names = [f.name for f in form]
    assert names[:4] == ["project", "title", "description", "issuetype"]
    assert {"assignee", "labels"} <= set(names)  # the second page of fields too
    issue_type = next(f for f in form if f.name == "issuetype")
    assert [c.label for c in issue_type.choices] == ["Task", "Bug"]  # both pages
    description = next(f for f in form if f.name == "description")
    assert description.default == (
        f"trackbridge group #{group.id}: http://tb.example/console/acme/groups/"
        f"{group.id}\n\nshop/cart.py"
    )  # plain text: Cloud's ADF makes the URL a link
    made = cloud_host.tracker_issues.create(
        org,
        group.id,
        claimed.id,
        {
            "project": "10000",
            "issuetype": "10002",
            "title": "Cart breaks",
            "description": "It broke.",
            "assignee": ANN["accountId"],
            "labels": "checkout",
        },
    )
    created = installed.issues[made.key]
    assert created["assignee"] == ANN["accountId"]
    assert "It broke." in str(created["description"])
    assert [
        i.key for i in cloud_host.store.integrations.issues_for_group(group.id)
    ] == [made.key]


def test_the_settings_read_the_projects_statuses(cloud_host, org, claimed, installed):
    saved = cloud_host.integrations.update_config(
        org,
        claimed.id,
        {
            "sync_status_forward_mapping": {
                "10000": {"on_resolve": "10001", "on_unresolve": "3"}
            }
        },
    )
    assert saved.config["sync_status_forward_mapping"] == {
        "10000": {"on_resolve": "10001", "on_unresolve": "3"}
    }
    with pytest.raises(ValidationError) as refused:
        cloud_host.integrations.update_config(
            org,
            claimed.id,
            {
                "sync_status_forward_mapping": {
                    "10000": {"on_resolve": "999", "on_unresolve": "3"}
                }
            },
        )
    assert "sync_status_forward_mapping" in refused.value.errors


def test_reconciliation_pages_search_jql_and_reads_bulk_changelogs(
    cloud_host, org, claimed, installed, clock
):
    """A missed resolution is repaired: ``search/jql`` followed page by page
    with ``nextPageToken``, the changelog from the bulk changelog API."""
    import time
    from datetime import UTC, datetime

    clock.now = time.time()
    cloud_host.integrations.update_config(
        org, claimed.id, {"sync_status_reverse": True}
    )
    when = datetime.fromtimestamp(clock.now - 60, UTC).isoformat()
    for n, key in enumerate(("APP-1", "APP-2", "APP-3")):
        installed.issues[key] = {
            "id": str(10100 + n), "status": "1", "project": "10000",
            "assignee": None, "comments": [], "updated": when, "histories": [],
        }  # fmt: skip
    installed.issues["APP-2"]["status"] = "10001"
    installed.issues["APP-2"]["histories"] = [
        {
            "id": "1",
            "created": when,
            "author": {"accountId": ANN["accountId"]},
            "items": [{"field": "status", "from": "1", "to": "10001"}],
        }
    ]
    group = linked_group(cloud_host, org, claimed.id, "APP-2", "10101")
    result = cloud_host.reconcile.run(claimed.id)
    assert (result.found, result.repaired) == (1, 1)
    assert cloud_host.groups.get(org, group.id).status == "resolved"
    pages = [r for r in installed.requests if r[1] == "/rest/api/3/search/jql"]
    assert len(pages) >= 3 and any("nextPageToken=" in r[2] for r in pages)
    assert seen(installed, "POST", "/rest/api/3/changelog/bulkfetch")
    assert not seen(installed, "GET", "/rest/api/3/search")
