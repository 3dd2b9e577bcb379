"""Every tracker call ends by its deadline (``host.deadlines``), whatever the
tracker does: never answer, or trickle its answer a byte at a time (each
byte well within requests' own read timeout, which alone never ends it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from host import deadlines


@contextmanager
def tracker(behaviour: str) -> Iterator[str]:
    """A loopback server that ``hangs`` (reads, never answers),
    ``trickles`` (a byte every 0.05 s of a long body) or answers ``ok``."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                if behaviour == "ok":  # keeps the connection alive
                    while conn.recv(65536):
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    return
                conn.recv(65536)
                if behaviour == "trickles":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    while not stop.wait(0.05):
                        conn.sendall(b" ")
                stop.wait()
            except OSError:
                pass  # the client gave up: what the test wants

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/rest/api/2/myself"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.mark.parametrize("behaviour", ["hangs", "trickles"])
def test_a_call_ends_by_its_deadline(host, behaviour):
    session = host.outbound_session()
    with tracker(behaviour) as url, deadlines.calls_within(0.5):
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            session.get(url, timeout=(10, 30))
        took = time.monotonic() - started
    assert 0.4 < took < 1.0, f"{behaviour}: ended after {took:.2f} s"


def test_outside_a_block_the_jobs_deadline_applies(host):
    assert deadlines.budget(host.config.jobs.tracker_timeout_seconds) == 15.0
    with deadlines.calls_within(2.5):
        assert deadlines.budget(15.0) == 2.5
    assert deadlines.budget(15.0) == 15.0


def test_an_answer_within_the_deadline_is_read_whole(host):
    session = host.outbound_session()
    with tracker("ok") as url, deadlines.calls_within(0.5):
        response = session.get(url, timeout=(10, 30))
        assert response.json() == {}
        assert session.get(url).content == b"{}"  # the connection was reusable
