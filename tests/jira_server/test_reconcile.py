"""Reconciliation against the fake Jira: changes no webhook brought are found
by JQL search and applied, at Jira's cost of a search or two per pass."""

import time

import pytest

from plugins.jira_core import reconcile
from tests.fake_jira import add_comment, add_issue, change, jira_time
from tests.fake_jira_create import add_project

SEARCH = "/rest/api/2/search"


@pytest.fixture(autouse=True)
def real_time(clock):
    """Jira stamps changes with the real time; so does the host, here."""
    clock.now = time.time()


@pytest.fixture
def linked(jira, link, configure):
    """Jira issues PRJ-1.. (ids 1001..), each linked to a new group."""
    configure(sync_status_reverse=True, sync_reverse_assignment=True)

    def make(count=1):
        groups = []
        for n in range(1, count + 1):
            add_issue(jira, f"PRJ-{n}", str(1000 + n))
            groups.append(link(f"PRJ-{n}", str(1000 + n)))
        return groups

    return make


def passes(jira_host, integration):
    return jira_host.reconcile.run(integration.id)


def searches(jira):
    return [r.query for r in jira.seen(SEARCH)]


def test_a_missed_resolution_and_assignment_are_repaired(
    jira_host, org, jira, jira_integration, linked, member
):
    [group] = linked()
    ann = member("ann@example.org", "Ann")
    jira.users["ann"] = {
        "name": "ann.k",
        "key": "ann",
        "displayName": "Ann K",
        "emailAddress": "ann@example.org",
    }
    change(jira, "PRJ-1", "status", "3")
    change(jira, "PRJ-1", "status", "5")  # Resolved: the latest one counts
    change(jira, "PRJ-1", "assignee", "ann")
    result = passes(jira_host, jira_integration)
    assert (result.found, result.repaired) == (2, 2)
    now = jira_host.groups.get(org, group.id)
    assert (now.status, now.assignee_email) == ("resolved", ann.email)
    first, second, check = searches(jira)
    assert first["jql"].startswith("updated >= -") and first["fields"] == "updated"
    assert first["jql"].endswith("m ORDER BY updated ASC")
    assert second["jql"] == "id in (1001) ORDER BY updated ASC"
    assert second["expand"] == "changelog"
    assert second["fields"] == "status,assignee,project,updated,comment"
    # The linked issues still exist: one search for their ids.
    assert (check["jql"], check["fields"]) == (
        "id in (1001) ORDER BY updated ASC",
        "key",
    )


def test_the_search_window_covers_the_time_since_the_last_pass(
    jira_host, jira, jira_integration, linked, clock
):
    linked()
    jira_host.reconcile.run(jira_integration.id)
    clock.advance(600)
    jira_host.reconcile.run(jira_integration.id)
    windows = [q["jql"] for q in searches(jira) if q["fields"] == "updated"]
    # The first pass looks back a day; later ones from the last pass. Both
    # start OVERLAP (5 minutes) early, in minutes before Jira's own now.
    assert windows == [
        "updated >= -1445m ORDER BY updated ASC",
        "updated >= -15m ORDER BY updated ASC",
    ]


def test_a_pass_over_changes_webhooks_brought_changes_nothing(
    jira_host, org, jira, jira_integration, linked
):
    [group] = linked()
    change(jira, "PRJ-1", "status", "5")
    assert passes(jira_host, jira_integration).repaired == 1
    activity = jira_host.groups.activity(jira_host.groups.get(org, group.id))
    again = passes(jira_host, jira_integration)
    assert (again.found, again.repaired) == (1, 0)
    assert jira_host.groups.activity(jira_host.groups.get(org, group.id)) == activity


def test_only_linked_issues_are_read_in_full(jira_host, jira, jira_integration, linked):
    linked()
    for n in (2, 3):
        add_issue(jira, f"OTHER-{n}", str(2000 + n))
        change(jira, f"OTHER-{n}", "status", "5")
    change(jira, "PRJ-1", "status", "5")
    assert passes(jira_host, jira_integration).found == 1
    assert [q["jql"] for q in searches(jira)][1] == "id in (1001) ORDER BY updated ASC"


def test_no_linked_change_costs_a_search_and_the_existence_check(
    jira_host, jira, jira_integration, linked
):
    linked()
    jira.issues["PRJ-1"]["fields"]["updated"] = jira_time(time.time() - 2 * 86400)
    add_issue(jira, "OTHER-1", "2001")
    assert passes(jira_host, jira_integration).found == 0
    assert [q["fields"] for q in searches(jira)] == ["updated", "key"]


def test_searches_are_paged(
    jira_host, org, jira, jira_integration, linked, monkeypatch
):
    monkeypatch.setattr(reconcile, "PAGE", 2)
    groups = linked(5)
    for n in range(1, 6):
        change(jira, f"PRJ-{n}", "status", "5")
    assert passes(jira_host, jira_integration).repaired == 5
    assert all(jira_host.groups.get(org, g.id).status == "resolved" for g in groups)
    pages = [(q["fields"], q["startAt"]) for q in searches(jira)]
    assert pages.count(("updated", "0")) == 1
    assert [p for p in pages if p[0] == "updated"] == [
        ("updated", "0"),
        ("updated", "2"),
        ("updated", "4"),
    ]
    id_searches = [q["jql"] for q in searches(jira) if "changelog" in q.values()]
    assert id_searches == [
        "id in (1001, 1002) ORDER BY updated ASC",
        "id in (1003, 1004) ORDER BY updated ASC",
        "id in (1005) ORDER BY updated ASC",
    ]


def test_our_own_write_found_by_a_pass_is_not_applied_back(
    jira_host, org, jira, jira_integration, linked, configure, run_jobs, api
):
    """The host resolves, the outbound job transitions the Jira issue, and
    the webhook for it never comes: the pass finds our own write."""
    add_project(jira, "PRJ", "10000", "Project", statuses=("1", "3", "4", "5"))
    [group] = linked()
    configure(
        sync_status_forward=True,
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "4"}},
    )
    assert api("put", f"/groups/{group.id}", json={"status": "resolved"}).status == (
        "200 OK"
    )
    assert run_jobs() == ["sync.outbound"]
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "5"
    before = jira_host.groups.activity(jira_host.groups.get(org, group.id))
    result = passes(jira_host, jira_integration)
    assert (result.found, result.repaired) == (1, 0)
    assert jira_host.groups.activity(jira_host.groups.get(org, group.id)) == before
    assert run_jobs() == []


def test_jira_failing_the_search_retries_the_pass(
    jira_host, org, jira, jira_integration, linked, run_jobs, clock
):
    [group] = linked()
    jira_host.reconcile.schedule_due()
    clock.advance(jira_host.config.jobs.reconcile_interval_seconds)
    change(jira, "PRJ-1", "status", "5")
    jira.failures[SEARCH] = (503, "busy", "text/plain", {"Retry-After": "120"})
    jira_host.reconcile.schedule_due()
    assert run_jobs() == ["integration.reconcile"]
    [job] = jira_host.store.jobs.list()
    assert job["state"] == "queued"
    assert job["last_error"].startswith("Searching Jira for changes:")
    assert job["run_at"] == pytest.approx(clock() + 120)
    del jira.failures[SEARCH]
    clock.advance(120)
    assert run_jobs() == ["integration.reconcile"]
    assert jira_host.groups.get(org, group.id).status == "resolved"


# ---- comments, deletions and moves ----


def test_a_missed_comment_is_repaired_once_and_an_edit_follows(
    jira_host, org, jira, jira_integration, linked, configure
):
    configure(sync_comments_reverse=True)
    [group] = linked()
    comment_id = add_comment(jira, "PRJ-1", "Seen in production", author="carol")
    assert passes(jira_host, jira_integration).repaired == 1
    assert passes(jira_host, jira_integration).repaired == 0  # once, by its id
    [comment] = jira_host.groups.comments(jira_host.groups.get(org, group.id))
    assert (comment["text"], comment["author_name"]) == ("Seen in production", "Carol")
    jira.issues["PRJ-1"]["comments"][comment_id] = "Seen in production, twice"
    meta = jira.issues["PRJ-1"]["comment_meta"][comment_id]
    meta["updated"] = jira.issues["PRJ-1"]["fields"]["updated"] = jira_time(
        time.time() + 1
    )
    assert passes(jira_host, jira_integration).repaired == 1
    [comment] = jira_host.groups.comments(jira_host.groups.get(org, group.id))
    assert comment["text"] == "Seen in production, twice"


def test_a_deleted_issue_is_unlinked_once_jira_confirms_it(
    jira_host, org, jira, jira_integration, linked
):
    first, second = linked(2)
    del jira.issues["PRJ-2"]
    result = passes(jira_host, jira_integration)
    assert result.repairs == ("IssueDeleted PRJ-2: 1 group(s)",)
    assert jira.seen("/rest/api/2/issue/1002", "GET")  # confirmed by id: a 404
    assert jira_host.store.integrations.issues_for_group(second.id) == []
    assert [i.key for i in jira_host.store.integrations.issues_for_group(first.id)] == [
        "PRJ-1"
    ]
    kind, data = [
        (a["type"], a["data"])
        for a in jira_host.groups.activity(jira_host.groups.get(org, second.id))
    ][-1]
    assert kind == "unlinked" and "PRJ-2 was deleted" in data["message"]


def test_an_issue_the_search_misses_but_jira_has_stays_linked(
    jira_host, jira, jira_integration, linked, monkeypatch
):
    """The search may not show an issue (index lag, permissions): only a
    404 for its id unlinks it."""
    [group] = linked()
    real = reconcile._offset_pages
    monkeypatch.setattr(
        reconcile,
        "_offset_pages",
        lambda dialect, client, jql, fields, expand=None: (
            iter(()) if fields == "key" else real(dialect, client, jql, fields, expand)
        ),
    )
    assert passes(jira_host, jira_integration).repairs == ()
    assert jira_host.store.integrations.issues_for_group(group.id) != []


def test_a_moved_issue_keeps_its_links_under_its_new_key(
    jira_host, jira, jira_integration, linked
):
    [group] = linked()
    moved = jira.issues.pop("PRJ-1")
    moved["key"] = "OPS-7"
    jira.issues["OPS-7"] = moved
    passes(jira_host, jira_integration)
    [issue] = jira_host.store.integrations.issues_for_group(group.id)
    assert issue.key == "OPS-7"


def test_existence_checks_go_round_every_linked_issue_a_batch_a_pass(
    jira_host, jira, jira_integration, linked, monkeypatch
):
    from host.services import reconcile as service

    monkeypatch.setattr(service, "CHECKS_PER_PASS", 2)
    linked(3)
    checked = []
    for _ in range(3):
        before = len(searches(jira))
        assert passes(jira_host, jira_integration).checked == 2
        checked.append(
            [q["jql"] for q in searches(jira)[before:] if q["fields"] == "key"]
        )
    assert checked == [
        ["id in (1001, 1002) ORDER BY updated ASC"],
        ["id in (1003, 1001) ORDER BY updated ASC"],
        ["id in (1002, 1003) ORDER BY updated ASC"],
    ]
