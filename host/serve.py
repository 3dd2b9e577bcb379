"""``trackbridge serve``: gunicorn and the job workers, started and stopped together.

The children get the resolved config through the environment. SIGTERM or
SIGINT stops them all cleanly (gunicorn finishes its requests, each worker
its jobs in hand); if one child dies on its own, the others are stopped
too and the exit status says so. The children, and gunicorn's workers, die with
their parent (``host.processes.die_with_parent``): a killed ``serve`` or
gunicorn master leaves nothing behind that holds the port.

gunicorn runs :class:`host.web.Worker` (see :mod:`host.web` for why).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from host.config import Config
from host.processes import die_with_parent, port_problem

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30


def child_commands(
    bind: str, workers: int, job_workers: int = 1
) -> dict[str, list[str]]:
    """The children of ``serve``: gunicorn (``web``) and ``job_workers`` job
    worker processes (``worker``, ``worker-2``...)."""
    job_worker = [sys.executable, "-m", "host.cli", "worker"]
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
            "host.web.Worker",
            # Each worker listens on its own socket and the kernel spreads
            # connections: on one shared socket the first worker to wake
            # took all 16 of a client's keep-alive connections (BENCHMARKS.md).
            "--reuse-port",
            "--logger-class",
            "host.gunicorn_logging.RedactingLogger",
            "host.web:create_app()",
        ],
        **{
            "worker" if n == 1 else f"worker-{n}": job_worker
            for n in range(1, job_workers + 1)
        },
    }


class PortBusy(Exception):
    """The address to bind is taken; the message says which and what to do."""


def serve(config: Config, *, bind: str, workers: int, job_workers: int = 1) -> int:
    """Run both children until a signal or one of them exits.

    :raises PortBusy: ``bind`` cannot be bound (checked before starting, so
        the answer is one line rather than gunicorn's retries).
    """
    address, _, port = bind.rpartition(":")
    problem = port_problem(address, int(port))
    if problem:
        raise PortBusy(
            f"Cannot listen on {bind}: {problem}. Stop what uses it, or choose"
            " another address with --bind (or [host] bind)."
        )
    env = dict(
        os.environ,
        TRACKBRIDGE_DATABASE=str(config.database),
        # As resolved here: it may follow --bind.
        TRACKBRIDGE_PUBLIC_URL=config.public_url,
        TRACKBRIDGE_CONFIG_CHECKED="1",  # its warnings were shown here
    )
    if config.source is not None:
        env["TRACKBRIDGE_CONFIG"] = str(config.source.resolve())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    children = {
        name: subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        for name, command in child_commands(bind, workers, job_workers).items()
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
