"""Slow clients beside real ones: does the host still answer?

    .venv/bin/python bench/slow_clients.py [--slow 50] [--seconds 10] [--workers 2]

For each worker model (trackbridge's ``host.web`` and the sync worker it
replaced), real gunicorn serves trackbridge while ``--slow`` connections
send a webhook's headers and then trickle its body at one byte a second.
Meanwhile another client calls ``/healthz`` and posts a real webhook every
0.2 s. Reported per model: how many of those calls answered, and their
latency (median, worst). Target (the robustness issue): with 50 trickling
connections, ``/healthz`` and webhooks answer within a second.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import socket
import tempfile
import threading
import time
from pathlib import Path

from common import MODELS, free_port, gunicorn, percentile, prepare, record, template

#: How long a probe waits for its answer before it counts as failed.
PROBE_TIMEOUT_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as directory:
        prepared = prepare(Path(directory))
        body = template(Path(directory)).read_text()
        env = {"TRACKBRIDGE_CONFIG": prepared["config"]}
        for model, served in MODELS.items():
            port = free_port()
            with gunicorn(
                served["trackbridge"], port, args.workers, env, served["worker_class"]
            ):
                figures[model] = _measure(port, prepared["path"], body, args)
    record(
        "slow_clients",
        {
            "slow_connections": args.slow,
            "seconds": args.seconds,
            "workers": args.workers,
            "target_ms": 1000,
            "models": figures,
            "met": all(
                probe["answered"] == probe["sent"] and probe["worst_ms"] < 1000
                for probe in figures["asyncio+threads"].values()
            ),
        },
    )


def _measure(port: int, path: str, body: str, args) -> dict:
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        for _ in range(args.slow):
            stack.enter_context(_trickling(port, path, stop))
        time.sleep(1.0)  # every slow client is connected and trickling
        results = {"healthz": [], "webhook": []}
        deadline = time.monotonic() + args.seconds
        n = 0
        while time.monotonic() < deadline:
            n += 1
            results["healthz"].append(_timed(port, "GET", "/healthz", None))
            payload = body.replace("__N__", str(1_800_000_000_000 + n))
            results["webhook"].append(_timed(port, "POST", path, payload))
            time.sleep(0.2)
        stop.set()
    return {
        name: {
            "sent": len(latencies),
            "answered": sum(1 for s in latencies if s is not None),
            "p50_ms": percentile(sorted(s for s in latencies if s is not None), 50),
            "worst_ms": round(
                max((s if s is not None else PROBE_TIMEOUT_SECONDS) for s in latencies)
                * 1000,
                1,
            ),
        }
        for name, latencies in results.items()
    }


def _timed(port: int, method: str, path: str, body: str | None) -> float | None:
    """Seconds to a 2xx answer, or ``None`` (no answer in time, or not 2xx)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        ok = 200 <= response.status < 300
    except OSError:
        return None
    finally:
        connection.close()
    return time.monotonic() - started if ok else None


@contextlib.contextmanager
def _trickling(port: int, path: str, stop: threading.Event):
    """A client that sends its headers, then one body byte a second."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
    )

    def trickle() -> None:
        while not stop.wait(1.0):
            try:
                sock.sendall(b" ")
            except OSError:
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sock.close()


if __name__ == "__main__":
    main()
