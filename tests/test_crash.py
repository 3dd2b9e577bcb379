"""Nothing lost under crashes: real gunicorn, a real job worker, kill -9.

Jira Server does not retry a delivery that failed, so every delivery we
answered 2xx must be applied, and exactly once. Concurrent senders post
distinct real comment payloads while gunicorn workers and the job worker are
killed with SIGKILL at random moments (gunicorn's master starts new workers;
the job worker is restarted). Afterwards each acknowledged comment must be on
the group exactly once, and no process may have logged "database is locked".
The figures are printed, and stated in the README's reliability section.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jwt
import pytest
import requests

from host.config import load_config
from host.core import Host
from host.serve import child_commands
from host.types import IntegrationSpec, TrackerIssue
from tests.conftest import REPO, shared_fixture, write_config
from tests.servers import free_port, wait_for

#: Deliveries sent, concurrent senders and gunicorn workers: fixed, so the
#: figures in the README are this test's.
DELIVERIES = 3000
SENDERS = 8
WEB_WORKERS = 3
SECRET = "crash-test-webhook-secret-of-32-bytes"
EXTERNAL_ID = "jira.crash.example:trackbridge"


def test_no_acknowledged_delivery_is_lost_or_applied_twice(tmp_path):
    payload = json.loads(
        shared_fixture("jira-webhooks/real-server-issue-updated-commented.json")
    )
    config_path, group_id = _prepare(tmp_path, payload["issue"])
    env = {
        **os.environ,
        "TRACKBRIDGE_CONFIG": str(config_path),
        "PYTHONPATH": str(REPO),
    }
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    # gunicorn as `trackbridge serve` runs it (its worker class, one socket
    # per worker), without serve's supervision: this test restarts things.
    web = _start(
        child_commands(f"127.0.0.1:{port}", WEB_WORKERS)["web"],
        env,
        logs / "gunicorn.log",
    )
    worker = {"process": _start_worker(env, logs, 0)}
    kills = {"web": 0, "job": 0}
    try:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok,
            "gunicorn",
        )
        token = jwt.encode({"id": EXTERNAL_ID}, SECRET, algorithm="HS256")
        path = f"/extensions/jira-server/issue-updated/{token}/"
        acknowledged: list[int] = []
        refused: list[int] = []
        numbers = iter(range(DELIVERIES))
        lock = threading.Lock()

        def send() -> None:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                body = _comment(payload, number)
                ok = _post(port, path, body)
                with lock:
                    (acknowledged if ok else refused).append(number)

        sending = [threading.Thread(target=send) for _ in range(SENDERS)]
        stop = threading.Event()
        chaos = threading.Thread(
            target=_chaos, args=(web, worker, env, logs, kills, stop)
        )
        for thread in [*sending, chaos]:
            thread.start()
        for thread in sending:
            thread.join(300)
        stop.set()
        chaos.join(30)
        if worker["process"].poll() is not None:
            worker["process"] = _start_worker(env, logs, kills["job"] + 1)
        _wait_until_applied(config_path)
    finally:
        for process in (worker["process"], web):
            process.send_signal(signal.SIGTERM)
        for process in (worker["process"], web):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

    applied = _applied_comments(config_path, group_id)
    lost = sorted(set(acknowledged) - set(applied))
    doubled = sorted({n for n in applied if applied.count(n) > 1})
    unasked = sorted(set(applied) - set(acknowledged) - set(refused))
    log_text = "".join(path.read_text(errors="replace") for path in logs.iterdir())
    print(
        f"\ncrash test: {DELIVERIES} deliveries, {len(acknowledged)} acknowledged,"
        f" {len(refused)} refused or cut by a kill; killed {kills['web']} web workers"
        f" and the job worker {kills['job']} times; lost {len(lost)},"
        f" applied twice {len(doubled)}"
    )
    assert kills["web"] >= 3 and kills["job"] >= 3, kills
    assert len(acknowledged) > DELIVERIES * 0.8
    assert lost == []
    assert doubled == []
    assert unasked == []
    assert "database is locked" not in log_text


def _prepare(directory: Path, issue: dict) -> tuple[Path, int]:
    config_path = write_config(
        directory,
        """
        log_level = warning
        [jobs]
        lease_seconds = 2
        backoff_base_seconds = 0.1
        backoff_max_seconds = 1
        """,
    )
    host = Host.from_config(load_config(config_path, env={}))
    try:
        organization = host.organizations.create("crash")
        integration, _ = host.integrations.install(
            organization,
            "jira_server",
            IntegrationSpec(
                external_id=EXTERNAL_ID,
                name="crash",
                # Nothing here needs Jira; a call would fail fast and retry.
                metadata={"base_url": "http://127.0.0.1:9", "auth_mode": "token"},
                credentials={"personal_access_token": "x"},
                shared_credentials={"webhook_secret": SECRET},
            ),
        )
        host.integrations.update_config(
            organization, integration.id, {"sync_comments_reverse": True}
        )
        group = host.groups.create(organization, "KeyError", "app.py")
        with host.store.transaction():
            issue_row = host.store.integrations.upsert_external_issue(
                integration.id,
                TrackerIssue(
                    key=issue["key"],
                    external_id=str(issue["id"]),
                    title="",
                    description="",
                    url=f"http://127.0.0.1:9/browse/{issue['key']}",
                ),
            )
            host.store.integrations.link(group.id, issue_row)
        return config_path, group.id
    finally:
        host.close()


def _comment(payload: dict, number: int) -> bytes:
    body = copy.deepcopy(payload)
    body["timestamp"] = 1_700_000_000_000 + number
    body["comment"]["id"] = str(900_000 + number)
    body["comment"]["body"] = f"crash test comment {number}"
    return json.dumps(body).encode()


def _post(port: int, path: str, body: bytes) -> bool:
    """True when the host answered 2xx; a cut connection is not an answer."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        status = connection.getresponse().status
        connection.close()
    except (OSError, http.client.HTTPException):
        return False
    return 200 <= status < 300


def _chaos(web, worker, env, logs, kills, stop) -> None:
    """Kill a random gunicorn worker every ~0.3 s, the job worker every ~1 s."""
    rng = random.Random(7)
    next_job_kill = time.monotonic() + rng.uniform(0.5, 1.5)
    while not stop.wait(rng.uniform(0.15, 0.45)):
        children = _children(web.pid)
        if children:
            os.kill(rng.choice(children), signal.SIGKILL)
            kills["web"] += 1
        if time.monotonic() >= next_job_kill:
            worker["process"].send_signal(signal.SIGKILL)
            worker["process"].wait()
            kills["job"] += 1
            worker["process"] = _start_worker(env, logs, kills["job"])
            next_job_kill = time.monotonic() + rng.uniform(0.5, 1.5)


def _wait_until_applied(config_path: Path, timeout: float = 120) -> None:
    import sqlite3

    database = load_config(config_path, env={}).database
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database, timeout=30) as db:
            left = db.execute(
                "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
            ).fetchone()[0]
            dead = db.execute(
                "SELECT count(*) FROM jobs WHERE state = 'dead'"
            ).fetchone()[0]
        assert dead == 0, "a job was dead-lettered"
        if not left:
            return
        time.sleep(0.2)
    pytest.fail(f"{left} job(s) still not applied after {timeout} s")


def _applied_comments(config_path: Path, group_id: int) -> list[int]:
    import sqlite3

    database = load_config(config_path, env={}).database
    with sqlite3.connect(database) as db:
        texts = [
            row[0]
            for row in db.execute(
                "SELECT text FROM comments WHERE group_id = ?", [group_id]
            )
        ]
    prefix = "crash test comment "
    return [
        int(text.split(prefix, 1)[1].split()[0]) for text in texts if prefix in text
    ]


def _start(command, env, log: Path) -> subprocess.Popen:
    output = log.open("a")
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=output, stderr=output)


def _start_worker(env, logs: Path, number: int) -> subprocess.Popen:
    return _start(
        [sys.executable, "-m", "host.cli", "worker"], env, logs / f"worker-{number}.log"
    )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []
