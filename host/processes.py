"""Processes that do not outlive the one that started them, and ports that
are free before a server binds them."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import sys
import time

#: ``prctl(PR_SET_PDEATHSIG, ...)``: Linux sends the signal when the parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies.

    A gunicorn worker whose master was killed (``kill -9``) otherwise keeps
    serving, and holding the port, until it notices by itself. Linux only;
    elsewhere a no-op (gunicorn's own parent check still applies).
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the call took effect
        os.kill(os.getpid(), signum)


def port_problem(host: str, port: int, wait_seconds: float = 2.0) -> str | None:
    """Why ``host:port`` cannot be bound, or ``None`` when it can.

    Tried as gunicorn binds (``SO_REUSEADDR``), for up to ``wait_seconds``
    while it is in use: a server just stopped may still be letting go.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait_seconds
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host.strip("[]"), port))
                return None
            except OSError as ex:
                if ex.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    return ex.strerror or str(ex)
        time.sleep(0.1)
