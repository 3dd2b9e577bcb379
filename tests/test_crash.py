"""Nothing lost under crashes: real gunicorn, a real job worker, kill -9.

Jira Server does not retry a delivery that failed, so every delivery we
answered 2xx must be applied, and exactly once. Concurrent senders post
distinct real comment payloads while gunicorn workers and the job worker are
killed with SIGKILL at random moments (gunicorn's master starts new workers;
the job worker is restarted). The deliveries go to two organizations, each
with its own Jira, so the worker applies two at once (one per integration's
inbound lane). Afterwards each acknowledged comment must be on its group
exactly once, and no process may have logged "database is locked".
The figures are printed, and stated in the README's reliability section.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import requests

from host.serve import child_commands
from tests.comment_deliveries import (
    add_tenant,
    applied,
    comment,
    deliver_all,
    post,
    prepare,
    tally,
    wait_until_applied,
)
from tests.conftest import REPO, shared_fixture
from tests.servers import children, free_port, wait_for

#: Deliveries sent, concurrent senders and gunicorn workers: fixed, so the
#: figures in the README are this test's.
DELIVERIES = 3000
SENDERS = 8
WEB_WORKERS = 3


def test_no_acknowledged_delivery_is_lost_or_applied_twice(tmp_path):
    payload = json.loads(
        shared_fixture("jira-webhooks/real-server-issue-updated-commented.json")
    )
    config_path, group_id, path = prepare(tmp_path, issue=payload["issue"])
    # A second organization with its own Jira: its deliveries are applied in
    # a lane of their own, so the job worker runs two at once.
    other_group_id, other_path = add_tenant(config_path, "beta", payload["issue"])
    paths = (path, other_path)
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
        acknowledged, refused = deliver_all(
            DELIVERIES,
            SENDERS,
            lambda n: post(port, paths[n % 2], comment(n, payload)),
            lambda stop, answered: _chaos(
                web, worker, env, logs, kills, stop, answered
            ),
        )
        if worker["process"].poll() is not None:
            worker["process"] = _start_worker(env, logs, kills["job"] + 1)
        wait_until_applied(config_path)
    finally:
        for process in (worker["process"], web):
            process.send_signal(signal.SIGTERM)
        for process in (worker["process"], web):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

    comments = applied(config_path, group_id) + applied(config_path, other_group_id)
    misplaced = [n for n in applied(config_path, group_id) if n % 2]
    wrong = tally(comments, acknowledged, refused)
    log_text = "".join(path.read_text(errors="replace") for path in logs.iterdir())
    print(
        f"\ncrash test: {DELIVERIES} deliveries, {len(acknowledged)} acknowledged,"
        f" {len(refused)} refused or cut by a kill; killed {kills['web']} web workers"
        f" and the job worker {kills['job']} times; lost {len(wrong['lost'])},"
        f" applied twice {len(wrong['doubled'])}"
    )
    assert kills["web"] >= 40 and kills["job"] >= 10, kills
    assert len(acknowledged) > DELIVERIES * 0.8
    assert wrong == {"lost": [], "doubled": [], "unasked": []}
    assert misplaced == []
    assert "database is locked" not in log_text


def _chaos(web, worker, env, logs, kills, stop, answered) -> None:
    """Kill a random gunicorn worker every ~50 deliveries answered (once all
    three are up again), the job worker every ~200."""
    rng = random.Random(7)
    next_web_kill = rng.randint(30, 70)
    next_job_kill = rng.randint(120, 280)
    while not stop.wait(0.02):
        done = answered()
        web_workers = children(web.pid)
        if done >= next_web_kill and len(web_workers) == WEB_WORKERS:
            os.kill(rng.choice(web_workers), signal.SIGKILL)
            kills["web"] += 1
            next_web_kill = done + rng.randint(30, 70)
        if done >= next_job_kill:
            worker["process"].send_signal(signal.SIGKILL)
            worker["process"].wait()
            kills["job"] += 1
            worker["process"] = _start_worker(env, logs, kills["job"])
            next_job_kill = done + rng.randint(120, 280)


def _start(command, env, log: Path) -> subprocess.Popen:
    output = log.open("a")
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=output, stderr=output)


def _start_worker(env, logs: Path, number: int) -> subprocess.Popen:
    return _start(
        [sys.executable, "-m", "host.cli", "worker"], env, logs / f"worker-{number}.log"
    )
