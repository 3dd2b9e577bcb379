"""Reconciliation with the tiny provider: the host's rules for what a pass
finds, its scheduling, and ``trackbridge reconcile``.

``tiny_tracker.CHANGES`` is what changed in the tracker without a webhook.
The Jira search itself is tested in ``jira_server/test_reconcile.py``.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from host.cli import CliContext, build_cli
from host.config import load_config
from host.services.groups import Source
from host.times import utcnow
from tests import tiny_tracker
from tests.conftest import install_tiny, write_config

SECRET = "tiny-secret"


@pytest.fixture
def integration(host, org):
    integration = install_tiny(host, org)
    host.integrations.update_config(org, integration.id, {"sync_status_reverse": True})
    return integration


@pytest.fixture
def group(host, org, integration, api):
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
    def post(*events):
        return client.simulate_post(
            "/extensions/tiny/hook/tiny.example",
            body=json.dumps({"events": list(events)}),
            headers={"X-Tiny-Secret": SECRET, "Content-Type": "application/json"},
        )

    return post


def at(minutes: float) -> str:
    """An ISO time ``minutes`` from now (negative: ago), real clock."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def resolved(minutes_ago: float, resolved=True, key="APP-1") -> dict:
    return {
        "type": "status",
        "issue_key": key,
        "resolved": resolved,
        "to_status": "done" if resolved else "open",
        "occurred_at": at(-minutes_ago),
    }


def status(host, org, group) -> str:
    return host.groups.get(org, group.id).status


def activity_types(host, org, group) -> list[str]:
    return [a["type"] for a in host.groups.activity(host.groups.get(org, group.id))]


# ---- what a pass applies ----


def test_a_missed_change_is_repaired_and_not_sent_back(
    host, org, integration, group, run_jobs
):
    tiny_tracker.CHANGES.append(resolved(minutes_ago=2))
    result = host.reconcile.run(integration.id)
    assert (result.found, result.repaired) == (1, 1)
    assert status(host, org, group) == "resolved"
    last = host.groups.activity(group)[-1]
    assert (last["type"], last["source"]) == ("set_resolved", "integration")
    assert run_jobs() == []  # a tracker's own change is never synced back to it


def test_a_second_pass_searches_from_where_the_first_stopped(
    host, integration, group, clock
):
    first = host.reconcile.run(integration.id)
    clock.advance(300)
    second = host.reconcile.run(integration.id)
    assert second.since == first.until
    polled = [c["since"] for c in tiny_tracker.CALLS if c["hook"] == "poll_changes"]
    assert polled == [first.since, first.until]
    # The first pass looks back a day, for what was missed before it existed.
    since = datetime.fromisoformat(first.since).timestamp()
    assert since == pytest.approx(clock() - 300 - 24 * 3600)


def test_changes_to_unlinked_issues_are_not_read(host, integration, group):
    tiny_tracker.CHANGES.append(resolved(minutes_ago=2, key="APP-99"))
    result = host.reconcile.run(integration.id)
    assert (result.found, result.repaired) == (0, 0)


def test_a_change_a_webhook_already_brought_changes_nothing(
    host, org, integration, group, deliver, run_jobs
):
    change = resolved(minutes_ago=2)
    assert deliver(change).status_code == 200
    run_jobs()
    before = activity_types(host, org, group)
    tiny_tracker.CHANGES.append(change)
    result = host.reconcile.run(integration.id)
    assert (result.found, result.repaired) == (1, 0)
    assert activity_types(host, org, group) == before


def test_a_newer_change_made_in_the_host_wins(host, org, integration, group):
    tiny_tracker.CHANGES.append(resolved(minutes_ago=10))
    host.groups.set_status(group, "ignored", Source(user=True))
    result = host.reconcile.run(integration.id)
    assert (result.found, result.repaired) == (1, 0)
    assert status(host, org, group) == "ignored"


def test_a_tracker_change_newer_than_the_hosts_is_applied(
    host, org, integration, group
):
    host.groups.set_status(group, "resolved", Source(user=True))
    tiny_tracker.CHANGES.append(resolved(minutes_ago=-1, resolved=False))
    assert host.reconcile.run(integration.id).repaired == 1
    assert status(host, org, group) == "unresolved"


def test_a_polled_change_older_than_a_webhook_about_another_field_still_counts(
    host, org, integration, group, deliver, run_jobs, api
):
    """Per issue, a webhook older than the last one applied is stale; a
    missed status change must not be lost to a later assignee webhook."""
    api("post", "/members", json={"email": "ann@example.com", "name": "Ann"})
    host.integrations.update_config(
        org, integration.id, {"sync_reverse_assignment": True}
    )
    deliver(
        {
            "type": "assignee",
            "issue_key": "APP-1",
            "email": "ann@example.com",
            "occurred_at": at(-1),
        }
    )
    run_jobs()
    tiny_tracker.CHANGES.append(resolved(minutes_ago=5))
    assert host.reconcile.run(integration.id).repaired == 1
    assert status(host, org, group) == "resolved"


def test_a_late_webhook_older_than_a_repaired_change_is_dropped(
    host, org, integration, group, deliver, run_jobs
):
    tiny_tracker.CHANGES.append(resolved(minutes_ago=1))
    host.reconcile.run(integration.id)
    deliver(resolved(minutes_ago=5, resolved=False))  # sent before, arrives after
    run_jobs()
    assert status(host, org, group) == "resolved"


def test_a_tracker_that_is_down_is_asked_again_from_the_same_point(
    host, org, integration, group, run_jobs, clock
):
    host.reconcile.schedule_due()
    clock.advance(host.config.jobs.reconcile_interval_seconds)
    tiny_tracker.CHANGES.extend([resolved(minutes_ago=2), {"retry": True}])
    assert host.reconcile.schedule_due() == 1
    assert run_jobs() == ["integration.reconcile"]
    [job] = host.store.jobs.list()
    assert (job["state"], job["last_error"]) == ("queued", "tracker down")
    first_since = host.store.passes.get(integration.id)["polled_until"]
    tiny_tracker.CHANGES.pop()  # the tracker is back
    clock.advance(30)
    assert run_jobs() == ["integration.reconcile"]
    assert status(host, org, group) == "resolved"
    polled = [c["since"] for c in tiny_tracker.CALLS if c["hook"] == "poll_changes"]
    assert polled == [first_since, first_since]


# ---- scheduling ----


def test_passes_are_queued_once_per_interval(host, integration, group, clock):
    interval = host.config.jobs.reconcile_interval_seconds
    assert interval == 300
    # Seen for the first time: the first pass is one interval away, so a
    # host starting up asks the trackers nothing.
    assert host.reconcile.schedule_due() == 0
    assert host.store.passes.get(integration.id)["next_due"] == clock() + interval
    clock.advance(interval - 1)
    assert host.reconcile.schedule_due() == 0
    clock.advance(1)
    assert host.reconcile.schedule_due() == 1
    assert host.reconcile.schedule_due() == 0  # already queued: not twice
    [job] = host.store.jobs.list()
    assert (job["kind"], job["payload"]) == (
        "integration.reconcile",
        {"integration_id": integration.id},
    )


def test_an_interval_of_zero_turns_reconciliation_off(tmp_path, host, integration):
    config = load_config(
        write_config(tmp_path, "[jobs]\nreconcile_interval_seconds = 0\n"), env={}
    )
    assert config.jobs.reconcile_interval_seconds == 0
    host.config = config
    host.clock.advance(10**6)
    assert host.reconcile.schedule_due() == 0
    assert host.store.passes.get(integration.id) is None


def test_an_integration_no_organization_uses_is_not_reconciled(
    host, org, integration, group
):
    assert host.reconcile.integration_ids() == [integration.id]
    host.integrations.remove(org, integration.id)
    assert host.reconcile.integration_ids() == []
    assert host.reconcile.run(integration.id) is None


# ---- the command ----


@pytest.fixture
def run(config):
    from host.plugins import get_plugin_manager

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(tiny_tracker, name="tiny")
    group = build_cli(pm)

    def invoke(*args):
        return CliRunner().invoke(group, list(args), obj=CliContext(config, pm))

    return invoke


def test_the_reconcile_command(run, host, org, integration, group):
    tiny_tracker.CHANGES.append(resolved(minutes_ago=2))
    result = run("reconcile")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"integration {integration.id}: 1 change(s) in the tracker since "
    )
    assert result.stdout.endswith(
        ", 1 group change(s) repaired, 1 linked issue(s) checked\n"
    )
    assert status(host, org, group) == "resolved"
    again = run("reconcile", "--integration", str(integration.id), "--verbose")
    assert again.stdout.endswith(
        ", 0 group change(s) repaired, 1 linked issue(s) checked\n"
    )
    tiny_tracker.CHANGES.append(resolved(minutes_ago=1, resolved=False))
    verbose = run("reconcile", "--verbose").stdout.splitlines()
    assert verbose[1:] == ["  repaired StatusChanged APP-1: 1 group(s)"], verbose


def test_the_reconcile_command_names_what_failed(run, host, integration, group):
    missing = run("reconcile", "--integration", "999")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "Error: Integration 999 is not installed and in use.\n",
    )
    tiny_tracker.CHANGES.append({"retry": True})
    down = run("reconcile")
    assert down.exit_code == 1
    assert down.stderr == (
        f"integration {integration.id}: not reconciled: tracker down\n"
        "Error: 1 integration(s) could not be reconciled\n"
    )


def test_activity_times_compare_with_tracker_times():
    """Activity is stamped ``...Z``; the rules parse it as UTC like a
    tracker's ``+0000``."""
    from host.services.inbound import _instant

    stamped = utcnow()
    assert stamped.endswith("Z")
    assert _instant(stamped) == _instant(stamped.replace("Z", "+00:00"))


def test_a_due_pass_is_taken_by_one_scheduler_only(host, integration, clock):
    """Each step is one conditional statement: of two schedulers that both
    saw the pass due, one queues it (safe without an exclusive writer)."""
    passes, since = host.store.passes, "2026-12-01T00:00:00+00:00"
    with host.store.transaction():
        assert passes.take(integration.id, clock(), clock() + 300, since) == "first"
        assert passes.take(integration.id, clock(), clock() + 300, since) is None
    clock.advance(301)
    with host.store.transaction():
        assert passes.take(integration.id, clock(), clock() + 300, since) == "due"
        assert passes.take(integration.id, clock(), clock() + 300, since) is None


def test_a_pass_never_runs_beside_another_of_the_same_integration(host, org, clock):
    """One pass per integration at a time, on any host: a second finds it
    held and leaves it (a queued one is simply done); a pass whose worker
    died holds it no longer than its lease."""
    from host.services.reconcile import PASS_LEASE_SECONDS, PassInProgress

    integration = install_tiny(host, org)
    now = clock()
    held = host.store.passes.start(
        integration.id, until=now + PASS_LEASE_SECONDS, now=now, next_due=now
    )
    assert held
    with pytest.raises(PassInProgress, match="running already"):
        host.reconcile.run(integration.id)
    host.reconcile.run_queued(integration.id)  # logged and left to the other
    assert [c for c in tiny_tracker.CALLS if c["hook"] == "poll_changes"] == []
    clock.advance(PASS_LEASE_SECONDS + 1)  # its worker died long ago
    assert host.reconcile.run(integration.id) is not None
    assert host.store.passes.get(integration.id)["running_until"] is None
