"""A hung neighbour: organization b's apply latency, with and without it.

    .venv/bin/python bench/isolation.py [--backlog 40] [--deliveries 20]
        [--hang 25] [--database sqlite|postgresql|both|postgresql://...]

Two organizations, each with its own fake Jira (the tests' ``FakeJira``).
Organization a has ``--backlog`` outbound assignments queued; organization b
receives ``--deliveries`` comment webhooks, two a second, through real
gunicorn (as ``trackbridge serve`` runs it) and one ``trackbridge worker``
with the default ``concurrency`` and ``per_integration_concurrency``.
Measured: b's apply latency (2xx to the comment on its group), once with a's
Jira answering at once and once with it taking ``--hang`` seconds to answer.
Target (the isolation issue): p95 with the hung neighbour <= 2x p95 without,
and none over 5 s. ``--database both``: on SQLite, then on a PostgreSQL
server started here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (
    MODELS,
    REPO,
    SECRET_KEY,
    Databases,
    engine_option,
    free_port,
    gunicorn,
    percentile,
    record,
)

sys.path.insert(0, str(REPO))

from tests.comment_deliveries import COMMENTED, comment, post
from tests.conftest import linked_group
from tests.fake_jira import FakeJira, add_issue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=40)
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--hang", type=float, default=25.0)
    engine_option(parser)
    args = parser.parse_args()
    with Databases(args.database) as databases:
        for engine in databases.engines:
            _measure(args, engine, lambda engine=engine: databases.new(engine))


def _measure(args, engine: str, new_database) -> None:
    figures = {}
    for case, hang in (("healthy", 0.0), ("hung", args.hang)):
        with tempfile.TemporaryDirectory() as directory:
            figures[case] = _run(Path(directory), new_database(), hang, args)
    healthy, hung = figures["healthy"]["p95_ms"], figures["hung"]["p95_ms"]
    record(
        "isolation",
        {
            "engine": engine,
            **figures,
            "backlog": args.backlog,
            "hang_seconds": args.hang,
            "p95_ratio": round(hung / healthy, 2) if healthy and hung else None,
            "target": "p95 hung <= 2x healthy, none over 5 s",
            "met": bool(
                healthy
                and hung
                and hung <= 2 * healthy
                and figures["hung"]["worst_ms"] <= 5000
                and figures["hung"]["applied"] == args.deliveries
            ),
        },
    )


def _run(directory: Path, database: str, hang: float, args) -> dict:
    with FakeJira() as jira_a, FakeJira() as jira_b:
        jira_a.personal_tokens["pat-a"] = "admin"
        jira_a.users["ann"] = {
            "name": "ann",
            "key": "ann",
            "displayName": "Ann",
            "emailAddress": "ann@example.com",
        }
        if hang:
            jira_a.delays["/rest/api/2/user/assignable/search"] = hang
        config, path = _prepare(directory, database, jira_a, jira_b, args.backlog)
        env = {"TRACKBRIDGE_CONFIG": str(config)}
        port = free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "host.cli", "worker"],
            cwd=REPO,
            env={**os.environ, **env},
        )
        try:
            with gunicorn(MODELS["asyncio+threads"]["trackbridge"], port, 2, env):
                time.sleep(1.0)  # a's jobs have taken their slots
                latencies = _deliver(port, path, config, args.deliveries)
                a_done = _done_outbound(config)
        finally:
            worker.terminate()
            worker.wait(60)
    seconds = sorted(latencies)
    return {
        "a_outbound_done_meanwhile": a_done,
        "applied": len(seconds),
        "p50_ms": percentile(seconds, 50),
        "p95_ms": percentile(seconds, 95),
        "worst_ms": round(seconds[-1] * 1000, 1) if seconds else None,
    }


def _prepare(directory: Path, database: str, jira_a, jira_b, backlog: int):
    """Organizations a (``backlog`` assignments queued for Jira A) and b (a
    group linked to PRJB-1 on Jira B that applies comments)."""
    import jwt

    from host.config import load_config
    from host.core import Host
    from host.services.groups import Source
    from host.types import IntegrationSpec

    config = directory / "config.ini"
    config.write_text(
        f"[host]\ndatabase = {database}\nsecret_key = {SECRET_KEY}\n"
        "log_level = warning\nallow_loopback_destinations = true\n"
    )
    host = Host.from_config(load_config(config, env={}))
    secret = "isolation-bench-webhook-secret-32b"
    try:
        links = {}
        for slug, jira, issues in (("a", jira_a, backlog), ("b", jira_b, 1)):
            organization = host.organizations.create(slug)
            host.store.organizations.add_member(
                organization.id, "ann@example.com", "Ann"
            )
            integration, _ = host.integrations.install(
                organization,
                "jira_server",
                IntegrationSpec(
                    external_id=f"jira-{slug}.example#token:admin",
                    name=f"Jira {slug}",
                    metadata={"base_url": jira.url, "auth_mode": "token"},
                    credentials={"personal_access_token": f"pat-{slug}"},
                    shared_credentials={"webhook_secret": secret},
                ),
            )
            host.integrations.update_config(
                organization,
                integration.id,
                {"sync_forward_assignment": True, "sync_comments_reverse": True},
            )
            for n in range(issues):
                key = f"PRJ{slug.upper()}-{n + 1}"
                add_issue(jira, key, str(10_000 + n))
                group = linked_group(
                    host, organization, integration.id, key, 10_000 + n,
                    title=f"group {n}", url=f"{jira.url}/browse/{key}",
                )  # fmt: skip
                links[slug] = (organization, group, integration)
        # a's backlog: every group assigned, one outbound job each.
        organization_a = links["a"][0]
        member = host.organizations.member_by_email(organization_a, "ann@example.com")
        for group in host.store.groups.list(organization_a.id, None, backlog, 0):
            host.groups.set_assignee(group, member, Source(user=True))
    finally:
        host.close()
    token = jwt.encode({"id": "jira-b.example#token:admin"}, secret, algorithm="HS256")
    path = f"/extensions/jira-server/issue-updated/{token}/"
    return config, path


def _open(config: Path):
    from host.config import load_config
    from host.store import Store

    return Store.for_config(load_config(config, env={}))


def _done_outbound(config: Path) -> int:
    store = _open(config)
    try:
        return store.db.execute(
            "SELECT count(*) FROM jobs WHERE kind = 'sync.outbound' AND state = 'done'"
        ).fetchone()[0]
    finally:
        store.close()


def _deliver(port: int, path: str, config: Path, count: int) -> list[float]:
    """Post b's comments two a second; seconds from each 2xx to its comment."""
    acknowledged: dict[int, float] = {}
    payload = {**COMMENTED, "issue": {"id": "10000", "key": "PRJB-1", "fields": {}}}
    seen: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        store = _open(config)
        try:
            while not done.is_set() or len(seen) < len(acknowledged):
                for (text,) in store.db.execute("SELECT text FROM comments"):
                    number = int(text.rsplit(" ", 1)[1])
                    seen.setdefault(number, time.monotonic())
                if done.is_set() and time.monotonic() > deadline:
                    return
                time.sleep(0.005)
        finally:
            store.close()

    deadline = time.monotonic() + count / 2 + 60
    watcher = threading.Thread(target=watch)
    watcher.start()
    for n in range(count):
        if post(port, path, comment(n, payload)) == 200:
            acknowledged[n] = time.monotonic()
        time.sleep(0.5)
    done.set()
    watcher.join()
    return [seen[n] - at for n, at in acknowledged.items() if n in seen]


if __name__ == "__main__":
    main()
