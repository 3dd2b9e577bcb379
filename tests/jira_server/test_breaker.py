"""A Jira that stops answering opens its circuit breaker (``host.breakers``):
its jobs wait without using attempts or slots, calls fail at once with a
message saying since when, a probe closes it again, and the API, metrics
and logs say what happened. The fake Jira hangs by ``delays`` (longer than
the call deadline), on loopback.
"""

import logging
import time

import pytest

from host.config import load_config
from host.jobs import Worker
from host.metrics import render
from plugins.jira_core.client import JiraError
from plugins.jira_server.setup import integration_client
from tests.conftest import shared_fixture, write_config
from tests.fake_jira import add_issue
from tests.fake_jira_create import add_project
from tests.jira_server.conftest import link_payload_issue, webhook_token
from tests.jira_server.test_settings import open_page, sign_in

PROBE = 30.0


@pytest.fixture
def config(tmp_path):
    return load_config(
        write_config(
            tmp_path,
            f"""
            [jobs]
            tracker_timeout_seconds = 0.3
            breaker_failures = 2
            breaker_probe_seconds = {PROBE}
            backoff_base_seconds = 1
            backoff_max_seconds = 1
            """,
        ),
        env={},
    )


@pytest.fixture
def resolving(jira, jira_host, org, configure, link, api):
    """Three groups linked to PRJ-1..3, resolved in the host: three status
    jobs for a Jira that hangs."""
    add_project(jira, "PRJ", "10000", "Project", statuses=("1", "3", "4", "5"))
    configure(
        sync_status_forward=True,
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "4"}},
    )
    groups = []
    for n in (1, 2, 3):
        add_issue(jira, f"PRJ-{n}", f"1000{n}", status="1", project="PRJ")
        groups.append(link(f"PRJ-{n}", f"1000{n}"))
    for group in groups:
        assert api("put", f"/groups/{group.id}", json={"status": "resolved"}).json
    jira.delays["*"] = 2.0  # hangs
    return groups


def jobs(host, state):
    return [j for j in host.store.jobs.list() if j["state"] == state]


def test_a_hung_jira_opens_the_breaker_and_its_jobs_wait_without_attempts(
    resolving, jira, jira_host, jira_integration, api, client, token, clock, caplog
):
    worker = Worker(jira_host, name="w", concurrency=1)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    worker.run_once()  # times out: failure 1, retried with backoff
    worker.run_once()  # times out: failure 2, the breaker opens
    took = time.monotonic() - started
    assert took < 1.5, f"two calls bounded by a 0.3 s deadline took {took:.1f} s"
    opened = [r for r in caplog.records if "not answering since" in r.message]
    assert len(opened) == 1, [r.message for r in caplog.records]
    assert "Jira Server at 127.0.0.1" in opened[0].message

    # The second job was postponed to the probe and keeps its attempts.
    waiting = jobs(jira_host, "queued")
    assert len(waiting) == 3
    postponed = [j for j in waiting if j["run_at"] >= clock() + PROBE]
    assert [j["attempts"] for j in postponed] == [0]
    assert "timed out" in postponed[0]["last_error"].lower()

    # Past the first job's backoff, before the probe: nothing is claimed.
    clock.advance(5)
    assert worker.run_once() is None
    assert len(jobs(jira_host, "queued")) == 3

    # A call now fails at once, saying since when, without reaching Jira.
    seen = len(jira.requests)
    started = time.monotonic()
    with pytest.raises(JiraError) as refused:
        integration_client(jira_host, jira_integration).request(
            "GET", "/rest/api/2/serverInfo"
        )
    assert time.monotonic() - started < 0.2
    assert refused.value.kind == "not_answering"
    assert "has not answered since" in str(refused.value)
    assert len(jira.requests) == seen

    # The API, the metrics and the status say so.
    shown = api("get", f"/integrations/{jira_integration.id}").json
    assert shown["tracker_trouble"]["state"] == "not_answering"
    assert shown["tracker_trouble"]["message"].startswith(
        "Jira Server not answering since "
    )
    assert shown["tracker_trouble"]["failures_in_a_row"] == 2
    session = sign_in(client, token, jira_integration)
    page, _ = open_page(client, jira_integration, session)
    assert "Jira Server not answering since " in page.text
    text = render(jira_host.store, clock())
    assert (
        "trackbridge_tracker_not_answering_since_seconds{"
        f'integration_id="{jira_integration.id}",provider="jira_server"}}'
    ) in text


def test_a_probe_that_answers_closes_the_breaker_and_the_jobs_run(
    resolving, jira, jira_host, jira_integration, api, clock, caplog
):
    worker = Worker(jira_host, name="w", concurrency=1)
    worker.run_once()
    worker.run_once()
    jira.delays.clear()  # Jira is back
    caplog.set_level(logging.WARNING)
    clock.advance(PROBE + 2)
    # The probe: one job of the integration at a time until it answers.
    probe = worker.run_once()
    assert probe is not None and jobs(jira_host, "done") == [
        j for j in jobs(jira_host, "done") if j["id"] == probe["id"]
    ]
    closed = [r for r in caplog.records if "answering again" in r.message]
    assert len(closed) == 1
    while worker.run_once() is not None:
        pass
    assert len(jobs(jira_host, "done")) == 3
    assert all(jira.issues[f"PRJ-{n}"]["fields"]["status"]["id"] == "5"
               for n in (1, 2, 3))  # fmt: skip
    shown = api("get", f"/integrations/{jira_integration.id}").json
    assert shown["tracker_trouble"] is None
    assert (
        "not_answering_since"
        not in render(jira_host.store, clock()).split(
            "# TYPE trackbridge_tracker_not_answering_since_seconds gauge"
        )[1]
    )


def test_a_probe_that_fails_waits_twice_as_long(
    resolving, jira_host, jira_integration, clock
):
    worker = Worker(jira_host, name="w", concurrency=1)
    worker.run_once()
    worker.run_once()
    first = jira_host.store.tracker_health.get(jira_integration.id)
    clock.advance(PROBE + 2)
    assert worker.run_once() is not None  # the probe, still hung
    again = jira_host.store.tracker_health.get(jira_integration.id)
    assert again["wait_seconds"] == 2 * first["wait_seconds"]
    assert again["probe_at"] == pytest.approx(clock() + 2 * PROBE)
    assert worker.run_once() is None


def test_webhooks_of_a_hung_jira_are_applied_while_its_calls_wait(
    resolving, jira_host, jira_integration, org, client
):
    """Inbound applies have a lane of their own: neither the open breaker nor
    the jobs stuck on Jira's calls hold them back."""
    worker = Worker(jira_host, name="w", concurrency=1)
    worker.run_once()
    worker.run_once()
    body = shared_fixture("jira-webhooks/real-server-issue-updated-commented.json")
    link_payload_issue(jira_host, org, jira_integration.id, body)
    answer = client.simulate_post(
        f"/extensions/jira-server/issue-updated/{webhook_token()}/",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    ran = worker.run_once()
    assert ran is not None and ran["kind"] == "delivery.process"
    assert ran["lane"] == -jira_integration.id
    delivery = jira_host.store.deliveries.get(ran["payload"]["delivery_id"])
    assert delivery.status == "processed"
