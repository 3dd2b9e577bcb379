"""A Jira outage, end to end: the job waits and retries with backoff through
5xx, 429 and timeouts, then succeeds once; a job that outlives its attempts
is dead-lettered, shown by the CLI and the API, and retried from either."""

import time

import pytest
from click.testing import CliRunner

from host.cli import CliContext, build_cli
from host.plugins import get_plugin_manager
from tests.fake_jira import add_issue
from tests.fake_jira_create import add_project

TRANSITIONS = "/rest/api/2/issue/PRJ-1/transitions"


@pytest.fixture
def resolved(jira, jira_host, org, configure, link, api):
    """PRJ-1 (Open) linked to a group that was just resolved in the host, with
    status sync to Jira on: one outbound job is queued."""
    add_project(jira, "PRJ", "10000", "Project", statuses=("1", "3", "4", "5"))
    add_issue(jira, "PRJ-1", "10001", status="1", project="PRJ")
    configure(
        sync_status_forward=True,
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "4"}},
    )
    group = link("PRJ-1", "10001")
    assert api("put", f"/groups/{group.id}", json={"status": "resolved"}).status == (
        "200 OK"
    )
    [job] = jira_host.store.jobs.list()
    return job["id"]


def transitions_made(jira) -> int:
    return len(
        [h for h in jira.issues["PRJ-1"]["histories"] if h["items"][0]["to"] == "5"]
    )


def test_jira_failing_for_a_while_delays_the_sync_then_it_succeeds_once(
    resolved, jira, jira_host, run_jobs, clock, monkeypatch
):
    monkeypatch.setattr("plugins.jira_core.client.READ_TIMEOUT", 0.2)
    job = lambda: jira_host.store.jobs.get(resolved)  # noqa: E731
    outage = [
        ("failures", (503, "down", "text/plain")),
        ("failures", (429, "slow down", "text/plain", {"Retry-After": "7"})),
        ("delays", 0.5),  # longer than the read timeout
    ]
    waits = []
    for kind, failure in outage:
        getattr(jira, kind)[TRANSITIONS] = failure
        assert run_jobs() == ["sync.outbound"]
        getattr(jira, kind).pop(TRANSITIONS)
        state = job()
        assert state["state"] == "queued" and state["attempts"] == len(waits) + 1
        waits.append(state["run_at"] - clock())
        assert run_jobs() == []  # not before its time
        clock.advance(waits[-1])
    assert 1 <= waits[0] <= 2  # backoff after the 1st failure: 2 s, with jitter
    assert waits[1] == 7  # Jira's Retry-After
    assert 4 <= waits[2] <= 8  # after the 3rd: 8 s, with jitter
    assert "Timed out" in job()["last_error"]
    assert run_jobs() == ["sync.outbound"]
    assert job()["state"] == "done"
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "5"
    assert transitions_made(jira) == 1


def test_a_dead_lettered_sync_is_shown_and_retried(
    resolved, jira, jira_host, run_jobs, clock, api, config
):
    # The CLI runs on the real clock: the test's starts there, so a job the
    # CLI requeues "now" is due for it.
    clock.now = time.time()
    jira.failures[TRANSITIONS] = (503, "down", "text/plain")
    attempts = jira_host.config.jobs.max_attempts
    for _ in range(attempts):
        assert run_jobs() == ["sync.outbound"]
        clock.advance(jira_host.config.jobs.backoff_max_seconds)
    assert jira_host.store.jobs.get(resolved)["state"] == "dead"
    assert run_jobs() == []

    pm = get_plugin_manager(load_entrypoints=False)
    cli = build_cli(pm)
    listed = CliRunner().invoke(
        cli, ["jobs", "list", "--failed"], obj=CliContext(config, pm)
    )
    row = listed.output.splitlines()[1].split()
    assert row[:4] == [str(resolved), "sync.outbound", "dead", f"{attempts}/{attempts}"]
    [dead] = api("get", "/jobs/dead").json
    assert dead["id"] == resolved and "503" in dead["last_error"]

    del jira.failures[TRANSITIONS]  # Jira is back
    assert api("post", f"/jobs/{resolved}/retry").status_code == 202
    assert run_jobs() == ["sync.outbound"]
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "5"
    assert api("get", "/jobs/dead").json == []

    # The CLI retries just the same.
    jira.failures[TRANSITIONS] = (503, "down", "text/plain")
    api("put", f"/groups/{dead['payload']['group_id']}", json={"status": "unresolved"})
    for _ in range(attempts):
        run_jobs()
        clock.advance(jira_host.config.jobs.backoff_max_seconds)
    [again] = api("get", "/jobs/dead").json
    del jira.failures[TRANSITIONS]
    retried = CliRunner().invoke(
        cli, ["jobs", "retry", str(again["id"])], obj=CliContext(config, pm)
    )
    assert retried.output == f"job {again['id']} queued again\n"
    assert run_jobs() == ["sync.outbound"]
    assert jira.issues["PRJ-1"]["fields"]["status"]["id"] == "4"
