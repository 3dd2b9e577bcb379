"""Apply latency: from the webhook's 2xx to the group changed in the database.

    .venv/bin/python bench/apply.py [--deliveries 300] [--rate 20]

Real gunicorn serves trackbridge and a real ``trackbridge worker`` runs the
jobs, with the default configuration. Each delivery is a real Jira assignee
payload naming another member, so each one changes the linked group. The
latency of delivery k is the time of the group's k-th "assigned" activity
entry minus the moment its 2xx arrived. Reported: p50 and p99.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    MODELS,
    REPO,
    free_port,
    gunicorn,
    payloads,
    percentile,
    prepare,
    record,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        prepared = prepare(Path(directory))
        latencies = measure(prepared, args.deliveries, args.rate)
    record(
        "apply",
        {
            "deliveries": args.deliveries,
            "rate_per_second": args.rate,
            "applied": len(latencies),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        },
    )


def measure(prepared: dict, count: int, rate: float) -> list[float]:
    """Sorted apply latencies in seconds, one per delivery applied."""
    env = {"TRACKBRIDGE_CONFIG": prepared["config"]}
    worker = subprocess.Popen(
        [sys.executable, "-m", "host.cli", "worker"],
        cwd=REPO,
        env={**os.environ, **env},
    )
    acked: list[float] = []
    port = free_port()
    try:
        with gunicorn(MODELS["asyncio+threads"]["trackbridge"], port, 2, env):
            for body in payloads(count):
                started = time.monotonic()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request(
                    "POST", prepared["path"], body, {"Content-Type": "application/json"}
                )
                if connection.getresponse().status == 200:
                    acked.append(time.time())
                connection.close()
                time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
            database = Path(prepared["config"]).parent / "tb.db"
            applied = _wait_for_activity(database, len(acked))
    finally:
        worker.terminate()
        worker.wait(30)
    return sorted(done - ack for ack, done in zip(acked, applied, strict=False))


def _wait_for_activity(database: str, wanted: int) -> list[float]:
    """The times of group 1's "assigned" entries, once all are there."""
    deadline = time.monotonic() + 60
    while True:
        with sqlite3.connect(database) as db:
            rows = db.execute(
                "SELECT created_at FROM group_activity WHERE group_id = 1"
                " AND type = 'assigned' ORDER BY id"
            ).fetchall()
        if len(rows) >= wanted or time.monotonic() > deadline:
            return [_epoch(created) for (created,) in rows]
        time.sleep(0.2)


def _epoch(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    main()
