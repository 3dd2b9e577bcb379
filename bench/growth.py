"""Growth: ingest throughput and apply latency as data grows.

    .venv/bin/python bench/growth.py [--issues 1000000] [--integrations 1000]

Three databases side by side: the baseline (1 integration, 1,000 linked
Jira issues), many integrations (1,000 integrations, 1,000 issues) and many
issues (1 integration, 1,000,000 issues). In each, real assignee payloads
go through the whole WSGI app in process (token check, durable store, job
enqueue), then each stored delivery is applied as its job applies it.
Rounds alternate between the databases so that machine noise hits all of
them alike; the median round counts. Reported per case: ingest requests/s
and apply ms per delivery, and large/small ratios (target >= 0.8: lookups
use indexes, never scans).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import payloads, prepare, record

ROUNDS = 7
PER_ROUND = 1000


class Case:
    """One prepared database, served in process."""

    def __init__(self, directory: Path, integrations: int, issues: int) -> None:
        from host.app import create_app
        from host.config import load_config
        from host.core import Host

        self.prepared = prepare(
            directory, integrations=integrations, linked_issues=issues
        )
        self.host = Host.from_config(load_config(self.prepared["config"], env={}))
        self.app = create_app(self.host)
        self.ingest: list[float] = []
        self.apply: list[float] = []

    def round(self, bodies: list[bytes]) -> None:
        started = time.perf_counter()
        for body in bodies:
            self._post(body)
        self.ingest.append(len(bodies) / (time.perf_counter() - started))
        pending = self.host.store.db.conn.execute(
            "SELECT id FROM webhook_deliveries WHERE status = 'received' ORDER BY id"
        ).fetchall()
        started = time.perf_counter()
        for (delivery_id,) in pending:
            self.host.inbound.process_delivery(delivery_id)
        self.apply.append((time.perf_counter() - started) / len(pending) * 1000)
        self.host.store.checkpoint()  # as the job worker does once it is idle

    def _post(self, body: bytes) -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": self.prepared["path"],
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
        }
        status = []
        b"".join(self.app(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"webhook answered {status[0]}")

    def figures(self) -> dict:
        return {
            "ingest_rps": round(statistics.median(self.ingest), 1),
            "apply_ms": round(statistics.median(self.apply), 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--integrations", type=int, default=1000)
    args = parser.parse_args()
    os.environ.pop("TRACKBRIDGE_CONFIG", None)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        cases = {
            "baseline": Case(root / "baseline", 1, 1000),
            "integrations": Case(root / "integrations", args.integrations, 1000),
            "issues": Case(root / "issues", 1, args.issues),
        }
        bodies = payloads(ROUNDS * PER_ROUND)
        for number in range(ROUNDS):
            batch = bodies[number * PER_ROUND : (number + 1) * PER_ROUND]
            for case in cases.values():
                case.round(batch)
        figures = {name: case.figures() for name, case in cases.items()}
        for case in cases.values():
            case.host.close()
    base = figures["baseline"]
    ratios = {
        name: {
            "ingest": round(figures[name]["ingest_rps"] / base["ingest_rps"], 3),
            "apply": round(base["apply_ms"] / figures[name]["apply_ms"], 3),
        }
        for name in ("integrations", "issues")
    }
    record(
        "growth",
        {
            "integrations": args.integrations,
            "issues": args.issues,
            "cases": figures,
            "ratios": ratios,
            "target": 0.8,
            "met": all(v >= 0.8 for r in ratios.values() for v in r.values()),
        },
    )


if __name__ == "__main__":
    main()
