"""Webhook ingest ceiling ratio, and the peak memory of the processes.

    .venv/bin/python bench/ingest.py [--seconds 5] [--rounds 3]
        [--concurrency 16] [--workers 2] [--model asyncio+threads|sync|both]

Real gunicorn with the same worker count and class serves (a) a bare Falcon
app that answers 200 and (b) trackbridge's Jira Server webhook endpoint with a
valid token and real payloads (token check, durable store, job enqueue). Both
servers run side by side; a separate wrk process posts at fixed concurrency
to one, then the other, for each round, so that noise hits both alike.
Reported: the median round's requests/s of (b) / (a) (target >= 0.5) with
p50/p99 of each, then the peak RSS of a gunicorn worker and of the job
worker after it applied what came in.

``--model both`` runs all four servers side by side: trackbridge's worker
model (``host.web``) and the sync worker it replaced, each with its own
bare app, so what the model costs or gains is read from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from common import (
    MODELS,
    REPO,
    free_port,
    gunicorn,
    peak_rss_mib,
    prepare,
    record,
    template,
    wrk,
)

from host.jobs import CHECKPOINT_SECONDS

#: Load before the measured rounds, not reported.
WARM_UP_SECONDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", choices=[*MODELS, "both"], default="asyncio+threads")
    parser.add_argument(
        "--threads", type=int, help="[host] threads (default: the host's default)"
    )
    args = parser.parse_args()
    models = list(MODELS) if args.model == "both" else [args.model]
    servers_of = {
        (model, app): (MODELS[model]["worker_class"], MODELS[model][app])
        for model in models
        for app in ("bare", "trackbridge")
    }
    with tempfile.TemporaryDirectory() as directory:
        prepared = prepare(Path(directory), threads=args.threads)
        body = template(Path(directory))
        env = {"TRACKBRIDGE_CONFIG": prepared["config"]}
        with contextlib.ExitStack() as servers:
            servers.enter_context(_checkpoints(prepared["database"]))
            ports, pids = {}, {}
            for name, (worker_class, app) in servers_of.items():
                ports[name] = free_port()
                pids[name] = servers.enter_context(
                    gunicorn(app, ports[name], args.workers, env, worker_class)
                )
            for port in ports.values():
                # Steady state: every worker has booted its app and its
                # caches, and the WAL file has grown to its working size.
                wrk(
                    port,
                    prepared["path"],
                    body,
                    seconds=WARM_UP_SECONDS,
                    concurrency=args.concurrency,
                )
            rounds = {model: [] for model in models}
            for _ in range(args.rounds):
                for model in models:
                    runs = {
                        app: wrk(
                            ports[(model, app)],
                            prepared["path"],
                            body,
                            seconds=args.seconds,
                            concurrency=args.concurrency,
                        )
                        for app in ("bare", "trackbridge")
                    }
                    runs["ratio"] = round(
                        runs["trackbridge"]["rps"] / runs["bare"]["rps"], 3
                    )
                    rounds[model].append(runs)
            web_rss = {
                model: max(peak_rss_mib(pid) for pid in pids[(model, "trackbridge")])
                for model in models
            }
        worker_rss = _drain(prepared["database"], prepared["config"])
    for model in models:
        median = sorted(rounds[model], key=lambda runs: runs["ratio"])[
            len(rounds[model]) // 2
        ]
        record(
            "ingest",
            {
                "model": model,
                "threads": args.threads,
                "workers": args.workers,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "rounds": [runs["ratio"] for runs in rounds[model]],
                "bare": median["bare"],
                "trackbridge": median["trackbridge"],
                "ratio": median["ratio"],
                "target": 0.5,
                "met": median["ratio"] >= 0.5,
                "peak_rss_mib": {
                    "web_worker": web_rss[model],
                    "job_worker": worker_rss,
                },
            },
        )


@contextlib.contextmanager
def _checkpoints(database: str) -> Iterator[None]:
    """Checkpoint the database every second, as the job worker does.

    Web requests leave checkpoints to the worker (``host/store/db.py``), but
    the worker itself is not run during the load: applying deliveries is not
    part of ingest, and would take CPU from it.
    """
    stop = threading.Event()

    def run() -> None:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
            while not stop.wait(CHECKPOINT_SECONDS):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _drain(database: str, config: str) -> float:
    """Run ``trackbridge worker`` until it has applied everything; its peak RSS.

    The peak is read from ``/proc`` while the worker runs. ``ru_maxrss`` from
    ``wait4`` would not do: a child started with vfork or fork counts the
    parent's (this script's) memory in its peak.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "host.cli", "worker"],
        cwd=REPO,
        env={**os.environ, "TRACKBRIDGE_CONFIG": config},
    )
    try:
        while _jobs_left(database):
            if process.poll() is not None:
                raise RuntimeError(f"the job worker failed ({process.returncode})")
            time.sleep(0.2)
        return peak_rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(30)


def _jobs_left(database: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
        ).fetchone()[0]


if __name__ == "__main__":
    main()
