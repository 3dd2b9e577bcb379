"""Webhook ingest ceiling ratio, and the peak memory of the processes.

    .venv/bin/python bench/ingest.py [--seconds 5] [--rounds 3]
        [--concurrency 16] [--workers 2] [--model asyncio+threads|sync|both]
        [--database sqlite|postgresql|both|postgresql://...]

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

``--database both`` serves trackbridge twice more, once on SQLite and once
on a PostgreSQL server started here, side by side with the same bare app;
for PostgreSQL it also reports the server's CPU time per webhook (what one
database core carries, once the hosts run on other machines).
"""

from __future__ import annotations

import argparse
import contextlib
import os
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
    Databases,
    engine_option,
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
    engine_option(parser)
    args = parser.parse_args()
    models = list(MODELS) if args.model == "both" else [args.model]
    with Databases(args.database) as databases, tempfile.TemporaryDirectory() as tmp:
        rows = _measure(Path(tmp), databases, models, args)
    for row in rows:
        record("ingest", row)


def _measure(directory: Path, databases: Databases, models, args) -> list[dict]:
    engines = databases.engines
    prepared = {
        engine: prepare(
            directory / engine,
            threads=args.threads,
            database=databases.config_lines(engine),
        )
        for engine in engines
    }
    body = template(directory)
    apps = ["bare", *engines]
    with contextlib.ExitStack() as servers:
        if "sqlite" in engines:
            servers.enter_context(_checkpoints(directory / "sqlite" / "tb.db"))
        ports, pids = {}, {}
        for model in models:
            worker_class = MODELS[model]["worker_class"]
            for app in apps:
                name = MODELS[model]["bare" if app == "bare" else "trackbridge"]
                config = prepared[engines[0] if app == "bare" else app]["config"]
                ports[(model, app)] = free_port()
                pids[(model, app)] = servers.enter_context(
                    gunicorn(
                        name,
                        ports[(model, app)],
                        args.workers,
                        {"TRACKBRIDGE_CONFIG": config},
                        worker_class,
                    )
                )
        path = prepared[engines[0]]["path"]
        for port in ports.values():
            # Steady state: every worker has booted its app and its caches,
            # and the WAL file has grown to its working size.
            wrk(port, path, body, seconds=WARM_UP_SECONDS, concurrency=args.concurrency)
        rounds = {(model, engine): [] for model in models for engine in engines}
        for _ in range(args.rounds):
            for model in models:
                runs = {}
                for app in apps:
                    cpu = (
                        databases.server_cpu_seconds() if app == "postgresql" else None
                    )
                    runs[app] = wrk(
                        ports[(model, app)],
                        path,
                        body,
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                    )
                    if cpu is not None:
                        used = databases.server_cpu_seconds() - cpu
                        runs[app]["server_cpu_us_per_webhook"] = round(
                            used * 1e6 / max(runs[app]["requests"], 1), 1
                        )
                for engine in engines:
                    rounds[(model, engine)].append(
                        {
                            "bare": runs["bare"],
                            "trackbridge": runs[engine],
                            "ratio": round(
                                runs[engine]["rps"] / runs["bare"]["rps"], 3
                            ),
                        }
                    )
        web_rss = {
            key: max(peak_rss_mib(pid) for pid in pids[key])
            for key in pids
            if key[1] != "bare"
        }
    worker_rss = {engine: _drain(prepared[engine]["config"]) for engine in engines}
    rows = []
    for (model, engine), measured in rounds.items():
        median = sorted(measured, key=lambda runs: runs["ratio"])[len(measured) // 2]
        row = {
            "model": model,
            "engine": engine,
            "threads": args.threads,
            "workers": args.workers,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "rounds": [runs["ratio"] for runs in measured],
            "bare": median["bare"],
            "trackbridge": median["trackbridge"],
            "ratio": median["ratio"],
            "target": 0.5,
            "met": median["ratio"] >= 0.5,
            "peak_rss_mib": {
                "web_worker": web_rss[(model, engine)],
                "job_worker": worker_rss[engine],
            },
        }
        per_webhook = median["trackbridge"].get("server_cpu_us_per_webhook")
        if per_webhook:
            row["webhooks_per_database_core_s"] = round(1e6 / per_webhook)
        rows.append(row)
    return rows


@contextlib.contextmanager
def _checkpoints(database: Path) -> Iterator[None]:
    """Checkpoint the database every second, as the job worker does.

    Web requests leave checkpoints to the worker (``host/store/db.py``), but
    the worker itself is not run during the load: applying deliveries is not
    part of ingest, and would take CPU from it.
    """
    stop = threading.Event()

    def run() -> None:
        import sqlite3

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


def _drain(config: str) -> float:
    """Run ``trackbridge worker`` until it has applied everything; its peak RSS.

    The peak is read from ``/proc`` while the worker runs. ``ru_maxrss`` from
    ``wait4`` would not do: a child started with vfork or fork counts the
    parent's (this script's) memory in its peak.
    """
    from host.config import load_config
    from host.store import Store

    process = subprocess.Popen(
        [sys.executable, "-m", "host.cli", "worker"],
        cwd=REPO,
        env={**os.environ, "TRACKBRIDGE_CONFIG": config},
    )
    store = Store.for_config(load_config(Path(config), env={}))
    try:
        while _jobs_left(store):
            if process.poll() is not None:
                raise RuntimeError(f"the job worker failed ({process.returncode})")
            time.sleep(0.2)
        return peak_rss_mib(process.pid)
    finally:
        store.close()
        process.terminate()
        process.wait(30)


def _jobs_left(store) -> int:
    return store.db.execute(
        "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
    ).fetchone()[0]


if __name__ == "__main__":
    main()
