"""``trackbridge serve``: gunicorn and one job worker, started and stopped together.

Both children get the resolved config through the environment. SIGTERM or
SIGINT stops both cleanly (gunicorn finishes its requests, the worker its
job in hand); if either child dies on its own, the other is stopped too and
the exit status says so.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from host.config import Config

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30


def child_commands(bind: str, workers: int) -> dict[str, list[str]]:
    return {
        "web": [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--graceful-timeout",
            "20",
            "--no-control-socket",
            "--worker-class",
            "host.gunicorn_worker.JsonErrorWorker",
            "--logger-class",
            "host.gunicorn_logging.RedactingLogger",
            "host.app:create_app()",
        ],
        "worker": [sys.executable, "-m", "host.cli", "worker"],
    }


def serve(config: Config, *, bind: str, workers: int) -> int:
    env = dict(os.environ, TRACKBRIDGE_DATABASE=str(config.database))
    if config.source is not None:
        env["TRACKBRIDGE_CONFIG"] = str(config.source.resolve())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    children = {
        name: subprocess.Popen(command, env=env)
        for name, command in child_commands(bind, workers).items()
    }
    log.info("serving on http://%s (pids %s)", bind, [p.pid for p in children.values()])
    while not stop.wait(0.2):
        exited = [name for name, p in children.items() if p.poll() is not None]
        if exited:
            log.error("%s exited unexpectedly; stopping", ", ".join(exited))
            break
    _stop_all(children)
    return 0 if stop.is_set() else 1


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for name, process in children.items():
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s did not stop in %ss; killing it", name, STOP_TIMEOUT_SECONDS
            )
            process.kill()
            process.wait()
