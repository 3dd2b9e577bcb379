"""Several machines on one PostgreSQL database: two hosts (gunicorn, as
``trackbridge serve`` runs it) and two job workers, webhooks spread over
both hosts, while a whole host and a worker are killed with SIGKILL.

Every delivery a host acknowledged must be applied exactly once, whichever
host took it and whichever worker applied it; and reconciliation, scheduled
by both workers every second, is never queued twice for one due time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from host.serve import child_commands
from tests.comment_deliveries import (
    add_tenant,
    applied,
    comment,
    deliver_all,
    post,
    prepare,
    reading,
    tally,
    wait_until_applied,
)
from tests.conftest import REPO
from tests.servers import free_port, wait_for

DELIVERIES = 1500
SENDERS = 8
RECONCILE_EVERY = 1


@pytest.mark.e2e
@pytest.mark.postgresql_only
def test_two_hosts_and_two_workers_lose_nothing_and_double_nothing(tmp_path, database):
    config_path, group_id, path = prepare(
        tmp_path,
        database=database,
        jobs_keys=f"reconcile_interval_seconds = {RECONCILE_EVERY}\n",
    )
    other_group_id, other_path = add_tenant(config_path, "beta")
    paths = (path, other_path)
    env = {**os.environ, "TRACKBRIDGE_CONFIG": str(config_path),
           "PYTHONPATH": str(REPO)}  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = [free_port(), free_port()]
    hosts = [_host(port, env, logs, 0) for port in ports]
    workers = [_worker(env, logs, n) for n in (0, 1)]
    kills = {"host": 0, "worker": 0}
    started = time.monotonic()
    try:
        for port in ports:
            wait_for(lambda port=port: _healthy(port), f"host on {port}")
        acknowledged, refused = deliver_all(
            DELIVERIES,
            SENDERS,
            # Each tenant's deliveries go to both hosts.
            lambda n: post(ports[(n // 2) % 2], paths[n % 2], comment(n), timeout=10),
            lambda stop, answered: _chaos(
                ports, hosts, workers, env, logs, kills, stop, answered
            ),
        )
        for n, worker in enumerate(workers):
            if worker.poll() is not None:
                workers[n] = _worker(env, logs, 10 + n)
        wait_until_applied(config_path)
        elapsed = time.monotonic() - started
    finally:
        for process in [*workers, *hosts]:
            process.send_signal(signal.SIGTERM)
        for process in [*workers, *hosts]:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

    comments = applied(config_path, group_id) + applied(config_path, other_group_id)
    wrong = tally(comments, acknowledged, refused)
    print(
        f"\nmulti-host: {DELIVERIES} deliveries over 2 hosts, {len(acknowledged)}"
        f" acknowledged, {len(refused)} refused or cut; killed a host"
        f" {kills['host']} times and a worker {kills['worker']} times;"
        f" lost {len(wrong['lost'])}, applied twice {len(wrong['doubled'])}"
    )
    assert kills["host"] == 2 and kills["worker"] >= 10, kills
    assert len(acknowledged) > DELIVERIES * 0.6
    assert wrong == {"lost": [], "doubled": [], "unasked": []}
    # Both workers schedule passes; each due time is queued once.
    store = reading(config_path)
    try:
        queued = store.db.execute(
            "SELECT payload, count(*) FROM jobs WHERE kind = 'integration.reconcile'"
            " GROUP BY payload"
        ).fetchall()
    finally:
        store.close()
    for payload, count in queued:
        assert count <= elapsed / RECONCILE_EVERY + 1, (payload, count, elapsed)


def _chaos(ports, hosts, workers, env, logs, kills, stop, answered) -> None:
    """Kill worker 0 every ~70 deliveries answered, and host 0 (master and
    workers) twice: a down host refuses its share at once, so each outage
    costs more deliveries than a dozen worker kills."""
    rng = random.Random(11)
    next_worker_kill = rng.randint(40, 100)
    host_kills = [DELIVERIES // 3, DELIVERIES * 2 // 3]
    while not stop.wait(0.02):
        done = answered()
        if done >= next_worker_kill:
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            kills["worker"] += 1
            workers[0] = _worker(env, logs, kills["worker"])
            next_worker_kill = done + rng.randint(40, 100)
        if host_kills and done >= host_kills[0]:
            host_kills.pop(0)
            hosts[0].send_signal(signal.SIGKILL)  # its workers die with it
            hosts[0].wait()
            kills["host"] += 1
            time.sleep(0.5)
            hosts[0] = _host(ports[0], env, logs, kills["host"])


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def _host(port: int, env, logs: Path, number: int) -> subprocess.Popen:
    command = child_commands(f"127.0.0.1:{port}", 2)["web"]
    return _start(command, env, logs / f"host-{port}-{number}.log")


def _worker(env, logs: Path, number: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "host.cli", "worker"]
    return _start(command, env, logs / f"worker-{number}.log")


def _start(command, env, log: Path) -> subprocess.Popen:
    output = log.open("a")
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=output, stderr=output)
