"""Drain rates of one job worker process, side by side in one run.

    .venv/bin/python bench/drain.py [--latency 0.1] [--outbound 240]
        [--inbound 3000] [--backlog 20000]
        [--database sqlite|postgresql|both|postgresql://...]

- **outbound**: comments sent to Jira, every Jira call answered after
  ``--latency`` seconds (the fake Jira on loopback), by one worker process
  running one job at a time (what the worker did before ``[jobs]
  concurrency``) and with the default concurrency, for 8 organizations
  each with its own integration, and for one integration alone (which
  ``per_integration_concurrency`` holds to 2 jobs at once). Target: >= 50
  jobs/s with 8 organizations (the issue measured 6.9 before).
- **inbound**: stored comment deliveries applied (no Jira call). Target:
  >= 1,000 deliveries/s.
- **backlog**: the inbound rate over the first deliveries with
  ``--backlog`` queued, against the rate with 100 queued. Target: >= 0.8.

With ``--database both`` every figure is measured on SQLite, then on a
PostgreSQL server started here (one row each in ``results.jsonl``).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from common import (  # noqa: F401  (REPO puts the repo on sys.path)
    REPO,
    SECRET_KEY,
    Databases,
    engine_option,
    record,
)

from host.config import load_config
from host.core import Host
from host.jobs import Worker
from host.services.groups import Source
from host.types import IntegrationSpec
from tests.comment_deliveries import comment
from tests.comment_deliveries import prepare as prepare_inbound
from tests.conftest import linked_group
from tests.fake_jira import FakeJira, add_issue

ORGANIZATIONS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--outbound", type=int, default=240)
    parser.add_argument("--inbound", type=int, default=3000)
    parser.add_argument("--backlog", type=int, default=20_000)
    engine_option(parser)
    args = parser.parse_args()
    with Databases(args.database) as databases:
        for engine in databases.engines:
            figures = _measure(args, lambda engine=engine: databases.new(engine))
            record("drain", {"engine": engine, **figures})


def _measure(args, new_database) -> dict:
    figures: dict = {"latency_s": args.latency}
    with FakeJira() as jira:
        jira.delays["*"] = args.latency
        for name, organizations, concurrency in (
            ("sequential_8_orgs", ORGANIZATIONS, 1),
            ("concurrent_8_orgs", ORGANIZATIONS, None),
            ("concurrent_1_integration", 1, None),
        ):
            with tempfile.TemporaryDirectory() as directory:
                figures[f"outbound_{name}_jobs_per_s"] = _outbound(
                    _host(Path(directory), new_database()),
                    jira,
                    organizations,
                    args.outbound,
                    concurrency,
                )
    sequential = figures["outbound_sequential_8_orgs_jobs_per_s"]
    concurrent = figures["outbound_concurrent_8_orgs_jobs_per_s"]
    figures["outbound_speedup"] = round(concurrent / sequential, 2)
    with tempfile.TemporaryDirectory() as directory:
        figures["inbound_per_s"] = _inbound(
            Path(directory), new_database(), args.inbound, args.inbound
        )
    with tempfile.TemporaryDirectory() as directory:
        small = _inbound(Path(directory) / "small", new_database(), 100, 100, rounds=10)
        big = _inbound(
            Path(directory) / "big",
            new_database(),
            args.backlog,
            min(1000, args.backlog),
        )
    figures.update(
        inbound_100_queued_per_s=small,
        inbound_backlog_per_s=big,
        backlog=args.backlog,
        backlog_ratio=round(big / small, 2),
    )
    return figures


# ---- outbound ----


def _outbound(host, jira, organizations, jobs, concurrency) -> float:
    """Jobs a second: ``jobs`` comments to send, spread over the
    organizations (each its own integration on the same fake Jira)."""
    try:
        jira.personal_tokens["pat"] = "svc"
        groups = []
        for number in range(organizations):
            organization = host.organizations.create(f"org{number}")
            integration, _ = host.integrations.install(
                organization,
                "jira_server",
                IntegrationSpec(
                    external_id=f"drain-{number}#token:svc",
                    name=f"drain {number}",
                    metadata={"base_url": jira.url, "auth_mode": "token"},
                    credentials={"personal_access_token": "pat"},
                    shared_credentials={"webhook_secret": "s" * 32},
                ),
            )
            host.integrations.update_config(
                organization, integration.id, {"sync_comments": True}
            )
            key = f"DRN{number}-1"
            add_issue(jira, key, str(50_000 + number))
            groups.append(
                linked_group(
                    host, organization, integration.id, key, 50_000 + number,
                    title="drain",
                )
            )  # fmt: skip
        for n in range(jobs):
            host.groups.add_comment(groups[n % len(groups)], f"c{n}", Source(user=True))
        return _drain(host, jobs, concurrency)
    finally:
        host.close()


# ---- inbound ----


def _inbound(
    directory: Path, database: str, queued: int, measured: int, rounds: int = 1
) -> float:
    """Deliveries a second over the first ``measured`` of ``queued``
    comment deliveries (``rounds`` times, queued anew each time)."""
    import falcon.testing

    from host.app import create_app

    directory.mkdir(parents=True, exist_ok=True)
    config_path, _, path = prepare_inbound(directory, database=database)
    host = Host.from_config(load_config(config_path, env={}))
    try:
        client = falcon.testing.TestClient(create_app(host))
        headers = {"Content-Type": "application/json"}
        seconds = 0.0
        for round_number in range(rounds):
            for n in range(queued):
                body = comment(round_number * queued + n)
                answer = client.simulate_post(path, body=body, headers=headers)
                assert answer.status_code == 200, answer.text
            seconds += _drain(host, measured, None, seconds=True)
        return round(measured * rounds / seconds, 1)
    finally:
        host.close()


# ---- shared ----


def _host(directory: Path, database: str) -> Host:
    config = directory / "config.ini"
    config.write_text(
        f"[host]\ndatabase = {database}\nsecret_key = {SECRET_KEY}\n"
        "log_level = warning\nallow_loopback_destinations = true\n"
    )
    return Host.from_config(load_config(config, env={}))


def _drain(host, count, concurrency, *, seconds=False) -> float:
    """Run a worker until ``count`` more jobs are done; their rate a second
    (or, with ``seconds``, the time it took)."""
    db = host.store.db

    def done() -> int:  # an index count: the watching must not cost the worker
        return db.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()[
            0
        ]

    target = done() + count
    worker = Worker(host, name="drain", concurrency=concurrency)
    started = time.perf_counter()
    thread = threading.Thread(target=worker.run)
    thread.start()
    while done() < target:
        time.sleep(0.01)
    took = time.perf_counter() - started
    worker.stop()
    thread.join()
    return took if seconds else round(count / took, 1)


if __name__ == "__main__":
    main()
