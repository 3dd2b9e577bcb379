"""End to end: ``trackbridge serve`` (real gunicorn and the job worker) on loopback.

The tiny provider is installed as its own distribution, so the server
processes discover it exactly as they discover Jira Server. A webhook is
applied by the worker process; a change through the API reaches the provider
through an outbound job (the provider records its calls to a file).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import requests

from tests.conftest import run_cli
from tests.distributions import install_tiny_distribution
from tests.servers import DEADLINE_SECONDS, free_port, serving, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path):
    site = install_tiny_distribution(tmp_path / "site")
    record = tmp_path / "tiny-calls.jsonl"
    port = free_port()
    config = tmp_path / "config.ini"
    config.write_text(
        f"[host]\ndatabase = data/tb.db\npublic_url = http://127.0.0.1:{port}\n"
        "allow_loopback_destinations = true\n"
        f"[jobs]\npoll_interval_seconds = 0.05\n[tiny]\nrecord = {record}\n"
    )
    env = {
        "TRACKBRIDGE_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }

    def cli(*args: str) -> str:
        return run_cli(env, *args).strip()

    cli("org", "create", "acme")
    cli("member", "add", "--org", "acme", "ann@example.com", "--name", "Ann")
    token = cli("token", "create", "--org", "acme")
    with serving(env, port) as process:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "process": process,
            "record": record,
            "session": requests.Session(),
            "headers": {"Authorization": f"Bearer {token}"},
        }


def recorded(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_serve_applies_webhooks_and_syncs_out_then_stops_cleanly(server):
    http, headers = server["session"], server["headers"]
    api = f"{server['base']}/api/0/organizations/acme"

    begun = http.post(f"{api}/setup", json={"provider": "tiny"}, headers=headers).json()
    done = http.post(
        f"{api}/setup/{begun['pipeline']}",
        json={"url": "https://tiny.example", "secret": "tiny-secret"},
        headers=headers,
    ).json()
    integration = done["integration_id"]
    http.put(
        f"{api}/integrations/{integration}",
        json={
            "sync_reverse_assignment": True,
            "sync_forward_assignment": True,
            "sync_status_forward": True,
        },
        headers=headers,
    ).raise_for_status()
    group = http.post(
        f"{api}/groups", json={"title": "KeyError"}, headers=headers
    ).json()
    http.post(
        f"{api}/groups/{group['id']}/links",
        json={"integration_id": integration, "key": "T-9"},
        headers=headers,
    ).raise_for_status()

    hook = http.post(
        f"{server['base']}/extensions/tiny/hook/tiny.example",
        data=json.dumps(
            {
                "events": [
                    {"type": "assignee", "issue_key": "T-9", "email": "ANN@example.com"}
                ]
            }
        ),
        headers={"X-Tiny-Secret": "tiny-secret"},
    )
    assert hook.json() == {"received": True}
    wait_for(
        lambda: (
            http.get(f"{api}/groups/{group['id']}", headers=headers).json()["assignee"]
            == "ann@example.com"
        ),
        "the worker to apply the webhook",
    )

    http.put(
        f"{api}/groups/{group['id']}", json={"status": "resolved"}, headers=headers
    )
    calls = wait_for(
        lambda: [
            c for c in recorded(server["record"]) if c["hook"] == "sync_status_outbound"
        ],
        "the outbound status sync",
    )
    assert calls == [{"hook": "sync_status_outbound", "key": "T-9", "resolved": True}]
    # the assignment came from the tracker, so it was not sent back to it
    assert not [
        c for c in recorded(server["record"]) if c["hook"] == "sync_assignee_outbound"
    ]

    process = server["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=DEADLINE_SECONDS) == 0
    output = process.stdout.read()
    assert "Shutting down: Master" in output
    assert "worker" in output and "stopped" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server['base']}/healthz", timeout=1)


def test_serve_stops_everything_when_a_child_dies(server):
    process = server["process"]
    log_line = wait_for(lambda: _serving_line(process), "the serve log line")
    web_pid, worker_pid = json.loads(log_line.split("(pids ")[1].rstrip(")\n"))
    os.kill(worker_pid, signal.SIGKILL)
    assert process.wait(timeout=DEADLINE_SECONDS) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(web_pid, 0)


def _serving_line(process):
    line = process.stdout.readline()
    return line if "serving on" in line else None


def test_requests_gunicorn_refuses_get_json_errors_too(server):
    """Oversized headers and request lines never reach the app: gunicorn
    refuses them, and its worker class answers in JSON like the app."""
    base, session = server["base"], server["session"]
    refusals = [
        (session.get(f"{base}/healthz", headers={"X-Big": "a" * 9000}), 431),
        (
            session.get(
                f"{base}/healthz", headers={f"X-H{n}": "v" for n in range(101)}
            ),
            431,
        ),
        (session.get(f"{base}/healthz?q={'a' * 5000}"), 414),
        (
            session.post(
                f"{base}/api/0/organizations/acme/groups",
                data=b"x" * 1_048_577,
                headers={**server["headers"], "Content-Type": "application/json"},
            ),
            413,
        ),
    ]
    for answer, status in refusals:
        assert answer.status_code == status
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json()["detail"]
    assert "Request Header Fields Too Large" in refusals[0][0].json()["detail"]
    assert session.get(f"{base}/healthz").json() == {"status": "ok"}
