"""What the benchmarks share: a prepared host, real servers, load, results.

Every figure is a ratio or a count measured side by side in one run, since
absolute speeds say more about the machine than about trackbridge. Results
are appended to ``bench/results.jsonl`` with the date, commit and cores.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results.jsonl"
FIXTURE = (
    SHARED / "fixtures" / "jira-webhooks" / "real-server-issue-updated-assignee.json"
)
WEBHOOK_SECRET = "bench webhook secret, long enough for HS256 and more"
EXTERNAL_ID = "jira.bench.example:0"
EMAILS = [f"member{i}@example.com" for i in range(20)]

sys.path.insert(0, str(REPO))


# ---- databases ----

#: The sealing key of every benchmark database on PostgreSQL.
SECRET_KEY = "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYmU="


class Databases:
    """Fresh databases for each measured run, on the engines ``--database``
    chose: ``sqlite`` (a file in the run's folder), ``postgresql`` (a server
    this benchmark starts on loopback, as the tests do), ``both``, or a
    ``postgresql://`` URL (databases are created on that server with its
    credentials, and dropped after)."""

    def __init__(self, choice: str) -> None:
        self.choice = choice
        self.server = None
        self._names = iter(range(1, 1_000_000))

    @property
    def engines(self) -> list[str]:
        return {"sqlite": ["sqlite"], "both": ["sqlite", "postgresql"]}.get(
            self.choice, ["postgresql"]
        )

    def __enter__(self) -> Databases:
        if "postgresql" in self.engines and "://" not in self.choice:
            from tests.postgres import Server

            self.server = Server()
        return self

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()

    def config_lines(self, engine: str) -> str:
        """``[host]`` lines for a new database of ``engine``."""
        database = self.new(engine)
        if engine == "sqlite":
            return f"database = {database}\n"
        return f"database = {database}\nsecret_key = {SECRET_KEY}\n"

    def new(self, engine: str) -> str:
        """A new database of ``engine`` (SQLite: beside the config file)."""
        if engine == "sqlite":
            return "tb.db"
        if self.server is not None:
            return self.server.create_database()
        else:
            import psycopg

            name = f"tbbench_{os.getpid()}_{next(self._names)}"
            with psycopg.connect(self.choice, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return self.choice.rsplit("/", 1)[0] + f"/{name}"

    def server_cpu_seconds(self) -> float | None:
        """CPU time the started server's processes used so far (``None``
        for SQLite or a server elsewhere)."""
        if self.server is None:
            return None
        pid_file = self.server.folder / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [postmaster, *children(postmaster)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
            except FileNotFoundError:
                continue
            utime, stime = fields.split()[11:13]
            total += int(utime) + int(stime)
        return total / ticks


def engine_option(parser) -> None:
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (default), postgresql (a server started here), both, or a"
        " postgresql:// URL whose server may create databases",
    )


# ---- a prepared host ----


def prepare(
    directory: Path,
    *,
    integrations: int = 1,
    linked_issues: int = 1,
    threads: int | None = None,
    database: str = "database = tb.db\n",
) -> dict:
    """A database with one organization, ``integrations`` Jira installs and
    ``linked_issues`` groups each linked to one Jira issue; every sync on.

    Returns the config path, the webhook URL path of the first integration
    and the Jira issue every payload names (linked to group 1).
    """
    import jwt

    from host.config import load_config
    from host.core import Host
    from host.types import IntegrationSpec

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "config.ini"
    config_path.write_text(
        "[host]\n" + database + "public_url = http://127.0.0.1\nlog_level = warning\n"
        "allow_loopback_destinations = true\n"
        + (f"threads = {threads}\n" if threads else "")
    )
    host = Host.from_config(load_config(config_path, env={}))
    try:
        organization = host.organizations.create("bench")
        for email in EMAILS:
            host.store.organizations.add_member(organization.id, email, email)
        first = None
        for number in range(integrations):
            integration, _ = host.integrations.install(
                organization,
                "jira_server",
                IntegrationSpec(
                    external_id=f"jira.bench.example:{number}",
                    name=f"bench {number}",
                    metadata={"base_url": "http://127.0.0.1:9", "auth_mode": "token"},
                    credentials={"personal_access_token": "unused"},
                    shared_credentials={"webhook_secret": WEBHOOK_SECRET},
                ),
            )
            first = first or integration
            host.integrations.update_config(
                organization, integration.id, {"sync_reverse_assignment": True}
            )
        payload = json.loads(FIXTURE.read_text())
        _link_many(host, organization.id, first.id, payload["issue"], linked_issues)
    finally:
        host.close()
    token = jwt.encode({"id": EXTERNAL_ID}, WEBHOOK_SECRET, algorithm="HS256")
    return {
        "config": str(config_path),
        "path": f"/extensions/jira-server/issue-updated/{token}/",
    }


def _link_many(host, organization_id: int, integration_id: int, issue, count: int):
    """``count`` groups, each linked to its own Jira issue (bulk SQL: fast).

    Group 1 is linked to the issue of the real payload; the others to
    made-up keys, so lookups must use the indexes to find it.
    """
    db = host.store.db
    now = "2026-01-01T00:00:00.000000Z"
    batch = 50_000
    with host.store.transaction():
        for start in range(0, count, batch):
            numbers = range(start, min(start + batch, count))
            db.executemany(
                "INSERT INTO groups (id, organization_id, title, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                [(n + 1, organization_id, f"group {n}", now, now) for n in numbers],
            )
            db.executemany(
                "INSERT INTO external_issues (id, integration_id, key, external_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        n + 1,
                        integration_id,
                        issue["key"] if n == 0 else f"BENCH-{n}",
                        issue["id"] if n == 0 else str(10_000_000 + n),
                        now,
                        now,
                    )
                    for n in numbers
                ],
            )
            db.executemany(
                "INSERT INTO group_links (group_id, external_issue_id, created_at)"
                " VALUES (?, ?, ?)",
                [(n + 1, n + 1, now) for n in numbers],
            )
        for table in ("groups", "external_issues"):  # rows came with their ids
            db.ids_start_after(table, count)


def payloads(count: int, start_ms: int = 1_700_000_000_000) -> list[bytes]:
    """Distinct real assignee payloads, each newer than the one before.

    Distinct, because identical bodies are deduplicated; newer, because
    older deliveries for an issue are dropped as stale.
    """
    base = json.loads(FIXTURE.read_text())
    bodies = []
    for n in range(count):
        body = copy.deepcopy(base)
        moment = start_ms + n * 1000
        body["timestamp"] = moment
        stamp = datetime.datetime.fromtimestamp(moment / 1000, datetime.UTC)
        body["issue"]["fields"]["updated"] = stamp.strftime(
            "%Y-%m-%dT%H:%M:%S.000+0000"
        )
        body["issue"]["fields"]["assignee"]["emailAddress"] = EMAILS[n % len(EMAILS)]
        bodies.append(json.dumps(body).encode())
    return bodies


# ---- real servers ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The worker models compared: trackbridge's (``host.web``) and gunicorn's
#: sync worker it replaced. Each serves (a) the bare app and (b) trackbridge.
MODELS = {
    "asyncio+threads": {
        "worker_class": "host.web.Worker",
        "bare": "bench.bare_app:create_bridged_app()",
        "trackbridge": "host.web:create_app()",
    },
    "sync": {
        "worker_class": "sync",
        "bare": "bench.bare_app:create_app()",
        "trackbridge": "host.app:create_app()",
    },
}


@contextlib.contextmanager
def gunicorn(
    app: str, port: int, workers: int, env: dict, worker_class: str = "host.web.Worker"
) -> Iterator[list[int]]:
    """``gunicorn app`` on loopback, as ``trackbridge serve`` runs it; yields
    the worker pids once it answers, and stops it afterwards."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            *(["--reuse-port"] if worker_class != "sync" else []),
            "--log-level",
            "warning",
            "--no-control-socket",
            app,
        ],
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"gunicorn {app} did not start") from None
                time.sleep(0.05)
        time.sleep(0.5)  # every worker booted
        yield children(process.pid)
    finally:
        process.terminate()
        process.wait(30)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# ---- load ----


def template(directory: Path) -> Path:
    """The real assignee payload with ``__N__`` as its timestamp, for wrk."""
    body = json.loads(FIXTURE.read_text())
    body["timestamp"] = 987654321987654321
    path = directory / "payload.json"
    path.write_text(json.dumps(body).replace("987654321987654321", "__N__"))
    return path


def wrk(
    port: int,
    path: str,
    body_template: Path,
    *,
    seconds: float,
    concurrency: int,
    threads: int = 2,
) -> dict:
    """Fixed-concurrency load from wrk (a separate process); rps and latency.

    :raises SystemExit: wrk is not installed (``apt-get install wrk``).
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    finished = subprocess.run(
        [
            "wrk",
            f"--threads={threads}",
            f"--connections={concurrency}",
            f"--duration={round(seconds)}s",
            "--timeout=10s",
            f"--script={REPO / 'bench' / 'post.lua'}",
            f"http://127.0.0.1:{port}{path}",
            "--",
            str(body_template),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    ok = figures["requests"] - figures["non_2xx"]
    return {
        "requests": figures["requests"],
        "errors": figures["non_2xx"] + figures["socket_errors"],
        "rps": round(ok / (figures["duration_us"] / 1e6), 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
    }


def percentile(sorted_seconds: list[float], pct: float) -> float | None:
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, round(pct / 100 * (len(sorted_seconds) - 1)))
    return round(sorted_seconds[index] * 1000, 2)


# ---- results ----


def record(benchmark: str, figures: dict) -> dict:
    """Print the figures and append them to ``bench/results.jsonl``."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    row = {
        "benchmark": benchmark,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit or "unknown",
        "cores": os.cpu_count(),
        **figures,
    }
    print(json.dumps(row, indent=2))
    with RESULTS.open("a", encoding="utf-8") as file:
        file.write(json.dumps(row) + "\n")
    return row


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()
