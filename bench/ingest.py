"""Webhook ingest ceiling ratio, and the peak memory of the processes.

    .venv/bin/python bench/ingest.py [--seconds 8] [--concurrency 16] [--workers 2]

Real gunicorn with the same worker count and class serves (a) a bare Falcon
app that answers 200 and (b) trackbridge's Jira Server webhook endpoint with a
valid token and real payloads (token check, durable store, job enqueue). A
separate wrk process posts at fixed concurrency to each in turn. Reported:
requests/s of (b) / (a) (target >= 0.5), p50/p99 of each, then the peak RSS
of a gunicorn worker and of the job worker after it applied what came in.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import (
    REPO,
    free_port,
    gunicorn,
    peak_rss_mib,
    prepare,
    record,
    template,
    wrk,
)

#: What gunicorn serves, in turn: (a) the ceiling, (b) trackbridge.
APPS = {"bare": "bench.bare_app:create_app()", "trackbridge": "host.app:create_app()"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        prepared = prepare(Path(directory))
        body = template(Path(directory))
        env = {"TRACKBRIDGE_CONFIG": prepared["config"]}
        runs, web_rss = {}, {}
        for name, app in APPS.items():
            port = free_port()
            with gunicorn(app, port, args.workers, env) as pids:
                runs[name] = wrk(
                    port,
                    prepared["path"],
                    body,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                )
                web_rss[name] = max(peak_rss_mib(pid) for pid in pids)
        worker_rss = _drain(prepared["config"])
    ratio = runs["trackbridge"]["rps"] / runs["bare"]["rps"]
    record(
        "ingest",
        {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "bare": runs["bare"],
            "trackbridge": runs["trackbridge"],
            "ratio": round(ratio, 3),
            "target": 0.5,
            "met": ratio >= 0.5,
            "peak_rss_mib": {
                "web_worker": web_rss["trackbridge"],
                "job_worker": worker_rss,
            },
        },
    )


def _drain(config: str) -> float:
    """Run ``trackbridge worker --once`` over what was ingested; its peak RSS."""
    process = subprocess.Popen(
        [sys.executable, "-m", "host.cli", "worker", "--once"],
        cwd=REPO,
        env={**os.environ, "TRACKBRIDGE_CONFIG": config},
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"the job worker failed ({process.returncode})")
    return round(usage.ru_maxrss / 1024, 1)


if __name__ == "__main__":
    main()
