"""Real processes for tests: a free loopback port, waiting, ``trackbridge serve``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def wait_for(condition, what: str):
    """Poll ``condition`` until it returns something truthy, or fail."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            result = condition()
        except (requests.ConnectionError, requests.Timeout):
            result = None  # not up yet, or too busy starting to answer
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@contextlib.contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """Run ``trackbridge serve`` on ``port`` until the block ends (always stopped)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok,
            "the server",
        )
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class LoopbackFake:
    """A fake HTTP service on a free 127.0.0.1 port, served from a thread:
    ``with Fake() as fake:``, ``fake.url`` its base URL. Subclasses call
    ``super().__init__(handler_class)`` once their state is set."""

    def __init__(self, handler: type) -> None:
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits up to one interval.
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client gave up before the answer (a deadline)."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
