"""Request ids in answers and logs, JSON logs, and ``GET /metrics``."""

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from host.config import load_config
from host.core import Host
from host.errors import ConfigError
from host.jobs import Worker
from host.logs import JsonFormatter, RequestIdFilter
from host.plugins import get_plugin_manager
from host.store import Store
from tests import tiny_tracker
from tests.conftest import install_tiny, write_config

SECRET = "tiny-secret"


@pytest.fixture
def logged():
    """Every record written meanwhile, as the JSON log format writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def integration(host, org):
    return install_tiny(host, org)


def deliver(client, events, secret=SECRET):
    return client.simulate_post(
        "/extensions/tiny/hook/tiny.example",
        body=json.dumps({"events": events}),
        headers={"X-Tiny-Secret": secret, "Content-Type": "application/json"},
    )


def scrape(client) -> dict:
    """``GET /metrics`` parsed by Prometheus' own parser: {(name, labels): value}."""
    response = client.simulate_get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


# ---- request ids ----


def test_every_answer_names_its_request(client):
    first = client.simulate_get("/healthz").headers["x-request-id"]
    second = client.simulate_get("/nowhere").headers["x-request-id"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_a_callers_sane_request_id_is_kept_and_others_replaced(client):
    kept = client.simulate_get("/healthz", headers={"X-Request-Id": "lb-42.a:b_c"})
    assert kept.headers["x-request-id"] == "lb-42.a:b_c"
    for bad in ("has space", "x" * 129, 'quote"d', "new\\nline"):
        answer = client.simulate_get("/healthz", headers={"X-Request-Id": bad})
        assert answer.headers["x-request-id"] != bad
        assert len(answer.headers["x-request-id"]) == 32


def test_log_lines_carry_the_request_id_and_the_job_id(
    client, host, integration, logged, run_jobs
):
    answer = client.simulate_post(
        "/extensions/tiny/hook/tiny.example",
        body=json.dumps({"nothing": "here"}),
        headers={"X-Tiny-Secret": SECRET, "X-Request-Id": "req-1"},
    )
    assert answer.status_code == 200
    [line] = [e for e in logged() if "not stored" in e["message"]]
    assert (line["request_id"], line["level"], line["logger"]) == (
        "req-1",
        "info",
        "host.services.inbound",
    )
    host.jobs.handlers["broken"] = lambda host, payload: 1 / 0
    job_id = host.jobs.enqueue("broken", {})
    run_jobs()
    [failed] = [e for e in logged() if e["message"].startswith(f"job {job_id} ")]
    assert failed["request_id"] == f"job-{job_id}"
    assert "ZeroDivisionError" in failed["exception"]
    # Outside a request or a job, there is no id.
    logging.getLogger("test").warning("alone")
    assert logged()[-1]["request_id"] == "-"


def test_each_request_has_one_access_line_without_its_secrets(
    client, host, integration, logged
):
    client.simulate_get("/healthz", headers={"X-Request-Id": "req-2"})
    token = "t" * 48  # as a webhook path carries its token
    client.simulate_post(f"/extensions/tiny/{token}/", body="{}")
    client.simulate_get("/extensions/jira-server/setup/?link=one-time-secret")
    access = [e for e in logged() if e["logger"] == "trackbridge.access"]
    assert [e["message"].rsplit(" ", 1)[0] for e in access] == [
        "GET /healthz 200",
        "POST /extensions/tiny/[redacted] 400",
        "GET /extensions/jira-server/setup 404",
    ]
    assert access[0]["request_id"] == "req-2"
    assert all(e["message"].endswith("ms") for e in access)
    text = json.dumps(access)
    assert token not in text and "one-time-secret" not in text


def test_a_dead_job_is_logged_with_its_error(host, logged, run_jobs):
    host.jobs.handlers["broken"] = lambda host, payload: 1 / 0
    with host.store.transaction():
        job_id = host.jobs.enqueue("broken", {})
        host.store.db.execute("UPDATE jobs SET max_attempts = 1 WHERE id = ?", [job_id])
    run_jobs()
    [dead] = [e for e in logged() if "dead after" in e["message"]]
    assert dead["message"].startswith(f"job {job_id} (broken) dead after 1 attempts:")
    assert "ZeroDivisionError" in dead["message"]


def test_the_log_format_is_checked(tmp_path):
    assert load_config(write_config(tmp_path), env={}).log_format == "text"
    path = write_config(tmp_path, "log_format = json\n")
    assert load_config(path, env={}).log_format == "json"
    with pytest.raises(ConfigError, match=r"\[host\] log_format must be one of"):
        load_config(write_config(tmp_path, "log_format = xml\n"), env={})


# ---- metrics ----


def test_deliveries_by_outcome_and_jobs_by_state(client, host, integration, run_jobs):
    event = {"type": "status", "issue_key": "APP-1", "resolved": True}
    assert deliver(client, [event]).status_code == 200
    assert deliver(client, [event]).status_code == 200  # the same again
    assert deliver(client, []).status_code == 200  # nothing to store
    assert deliver(client, [event], secret="wrong").status_code == 400
    before = scrape(client)
    assert before[("trackbridge_jobs", (("state", "queued"),))] == 1
    run_jobs()
    metrics = scrape(client)

    def delivered(outcome):
        labels = (("outcome", outcome), ("provider", "tiny"))
        return metrics.get(("trackbridge_deliveries_total", labels))

    assert [
        delivered(o)
        for o in ("processed", "ignored", "duplicate", "not_stored", "rejected")
    ] == [1, None, 1, 1, 1]
    assert metrics[("trackbridge_jobs", (("state", "done"),))] == 1
    assert ("trackbridge_jobs", (("state", "queued"),)) not in metrics
    assert metrics[("trackbridge_job_queue_wait_seconds", ())] == 0


def test_requests_are_counted_by_route_template_never_by_path(
    client, host, integration
):
    deliver(client, [], secret="wrong")
    client.simulate_get("/api/0/organizations/acme/groups")
    text = client.simulate_get("/metrics").text
    assert "tiny.example" not in text  # the path's own part (a token, for Jira)
    metrics = scrape(client)
    webhook = (
        "trackbridge_http_requests_total",
        (
            ("method", "POST"),
            ("route", "/extensions/{provider_slug}/{path:path}"),
            ("status", "400"),
        ),
    )
    assert metrics[webhook] == 1
    unauthenticated = (
        "trackbridge_http_requests_total",
        (
            ("method", "GET"),
            ("route", "/api/0/organizations/{slug}/groups"),
            ("status", "401"),
        ),
    )
    assert metrics[unauthenticated] == 1


def test_the_queue_wait_is_the_oldest_due_jobs(client, host, clock):
    host.jobs.enqueue("delivery.process", {"delivery_id": 1})
    clock.advance(42)
    host.jobs.enqueue("delivery.process", {"delivery_id": 2})
    host.jobs.enqueue("delivery.process", {"delivery_id": 3}, delay=3600)
    assert scrape(client)[("trackbridge_job_queue_wait_seconds", ())] == 42


def test_counts_of_every_process_add_up(client, host, config, integration):
    """A second Host on the same database stands for another worker process:
    each flushes its own counts, and /metrics shows the sum."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(tiny_tracker, name="tiny")
    other = Host(config, Store.for_config(config), pm)
    try:
        host.metrics.count("trackbridge_deliveries_total", provider="x", outcome="y")
        other.metrics.count("trackbridge_deliveries_total", provider="x", outcome="y")
        other.metrics.count("trackbridge_deliveries_total", provider="x", outcome="y")
        other.metrics.flush(other.store)  # too soon after the last flush: kept
        assert other.metrics.pending
        other.metrics.flush(other.store, force=True)
        key = ("trackbridge_deliveries_total", (("outcome", "y"), ("provider", "x")))
        assert scrape(client)[key] == 3  # /metrics flushed its own process too
    finally:
        other.close()


def test_a_worker_flushes_what_its_jobs_counted(host, config, integration, client):
    deliver(client, [{"type": "status", "issue_key": "APP-1", "resolved": True}])
    worker = Worker(host, name="w")
    host.metrics.flushed_at -= 60  # as if the last flush were long ago
    worker.run_once()
    assert not host.metrics.pending
    series = dict(
        ((name, labels), value) for name, labels, value in host.store.metrics.series()
    )
    processed = json.dumps({"outcome": "processed", "provider": "tiny"})
    assert series[("trackbridge_deliveries_total", processed)] == 1


@pytest.mark.e2e
def test_serve_writes_every_line_in_one_json_format(tmp_path):
    """gunicorn's lines too ("Booting worker"), not a second format beside."""
    import requests

    from tests.servers import free_port, serving

    port = free_port()
    path = tmp_path / "config.ini"
    path.write_text(f"[host]\ndatabase = {tmp_path / 'tb.db'}\nlog_format = json\n")
    with serving({"TRACKBRIDGE_CONFIG": str(path)}, port) as process:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
        process.terminate()
        output = process.communicate(timeout=30)[0]
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    loggers = {e["logger"] for e in entries}
    assert "gunicorn.error" in loggers
    assert any(e["message"].startswith("Booting worker") for e in entries)
    assert any(e["message"].startswith("GET /healthz 200") for e in entries)
