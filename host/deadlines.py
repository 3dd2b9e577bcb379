"""A total deadline for each call to a tracker.

``requests`` bounds the wait for a connection and each read, not a call: a
tracker that sends a byte every few seconds holds a call (and the worker
slot or web thread behind it) for as long as it likes. Every outbound
session of the host (:mod:`host.destinations`) bounds the whole call,
connecting, waiting for the answer and reading its body, by the deadline of
the context it runs in: ``[jobs] tracker_timeout_seconds`` in a job (set by
the worker), ``[host] tracker_request_timeout_seconds`` in a web request
(set by :mod:`host.web`), and the job figure anywhere else (the CLI).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from urllib3.util import Timeout

#: Seconds one call may take here; ``None``: the session's default.
_budget: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tracker_call_budget", default=None
)


@contextmanager
def calls_within(seconds: float) -> Iterator[None]:
    """Bound every tracker call made inside the block to ``seconds`` each."""
    token = _budget.set(seconds)
    try:
        yield
    finally:
        _budget.reset(token)


def budget(default: float) -> float:
    """Seconds the next call may take: the block's, else ``default``."""
    seconds = _budget.get()
    return default if seconds is None else seconds


def bounded(timeout, seconds: float) -> Timeout:
    """``requests``' ``timeout`` (a number or a (connect, read) pair), cut so
    that connecting and waiting for the answer's headers end within
    ``seconds`` together."""
    connect = read = None
    if isinstance(timeout, tuple):
        connect, read = timeout
    elif isinstance(timeout, int | float):
        connect = read = timeout
    return Timeout(
        connect=min(connect or seconds, seconds),
        read=min(read or seconds, seconds),
        total=seconds,
    )


def read_body(response: requests.Response, until: float) -> None:
    """Read the whole body before ``until`` (``time.monotonic``) or raise
    ``requests.ReadTimeout``; each socket read may wait only what is left."""
    chunks = []
    stream = response.raw
    while True:
        left = until - time.monotonic()
        if left <= 0:
            response.close()
            raise requests.exceptions.ReadTimeout(
                f"The answer took longer than the call's deadline ({response.url})."
            )
        _wait_at_most(stream, left)
        try:
            # One socket read at most (read() would wait for 64 KiB).
            chunk = stream.read1(65536, decode_content=True)
        except Exception as ex:  # urllib3's timeouts and protocol errors
            response.close()
            if "timed out" in str(ex):
                raise requests.exceptions.ReadTimeout(str(ex)) from None
            raise requests.exceptions.ConnectionError(str(ex)) from None
        if not chunk:
            break
        chunks.append(chunk)
    response._content = b"".join(chunks)
    # Read to its end, the connection went back to urllib3's pool by itself.
    response._content_consumed = True


def _wait_at_most(stream, seconds: float) -> None:
    """Set the socket's read timeout to ``seconds`` (when it can be reached)."""
    connection = getattr(stream, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))
