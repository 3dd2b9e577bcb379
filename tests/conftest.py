"""Fixtures: a fresh host, database and plugin manager for every test."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import falcon.testing
import pytest

from host.config import load_config
from host.core import Host
from host.plugins import get_plugin_manager
from host.store import Store
from host.types import IntegrationSpec, TrackerIssue
from tests import tiny_tracker
from tests.contract import checked_app, take_problems

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


#: What ``--database`` and ``TRACKBRIDGE_TEST_DATABASE`` choose from.
ENGINES = ("sqlite", "postgresql")
#: The sealing key of every test database on PostgreSQL (where a key file
#: beside the database is refused).
TEST_SECRET_KEY = "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="


def pytest_addoption(parser):
    parser.addoption(
        "--database",
        choices=("both", *ENGINES),
        default=os.environ.get("TRACKBRIDGE_TEST_DATABASE", "both"),
        help="the engines tests that use the store run on (default: both, or"
        " TRACKBRIDGE_TEST_DATABASE; PostgreSQL's are skipped, saying why, where"
        " its server is not installed unless it was asked for by name)",
    )


def pytest_report_header(config):
    return (
        f"sqlite: {sqlite3.sqlite_version}, python: {sys.version.split()[0]},"
        f" engines: {', '.join(_engines(config))}"
    )


def _engines(config) -> tuple[str, ...]:
    chosen = config.getoption("--database")
    return ENGINES if chosen == "both" else (chosen,)


def pytest_generate_tests(metafunc):
    """Tests that use ``database`` run once per chosen engine; a test marked
    ``sqlite_only`` (WAL, checkpoints, the writer lock) or
    ``postgresql_only`` on that engine alone."""
    if "database" not in metafunc.fixturenames:
        return
    engines = _engines(metafunc.config)
    for marker, engine in (("sqlite_only", "sqlite"),
                           ("postgresql_only", "postgresql")):  # fmt: skip
        if metafunc.definition.get_closest_marker(marker):
            engines = [e for e in engines if e == engine] or [
                pytest.param(engine, marks=pytest.mark.skip(
                    reason=f"{engine} only; --database chose another"))
            ]  # fmt: skip
    metafunc.parametrize("database", engines, indirect=True)


@pytest.fixture(scope="session")
def postgres_server(request):
    """One PostgreSQL server for the session (see tests/postgres.py)."""
    from tests.postgres import Server, ServerUnavailable

    try:
        server = Server()
    except ServerUnavailable as ex:
        if request.config.getoption("--database") == "postgresql" or os.environ.get(
            "TRACKBRIDGE_TEST_DATABASE"
        ) in ("both", "postgresql"):
            pytest.fail(f"PostgreSQL was asked for but cannot start: {ex}")
        pytest.skip(f"no PostgreSQL server here: {ex}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database the host's migrations ran on, once per session."""
    path = tmp_path_factory.mktemp("template") / "trackbridge.db"
    _migrate(str(path))
    return path


@pytest.fixture
def database(request, tmp_path):
    """Where this test's data lives: ``trackbridge.db`` (SQLite, beside the
    config file) or a fresh PostgreSQL database of its own (its URL).

    Both start migrated, as copies of a template (a file copy takes 1 ms
    where the migrations take 60), so on either engine a test gets what the
    host's migrations make, and a plugin's are applied by its host."""
    if request.param == "sqlite":
        shutil.copyfile(
            request.getfixturevalue("sqlite_template"), tmp_path / "trackbridge.db"
        )
        yield "trackbridge.db"
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.take()
    try:
        yield url
    finally:
        databases.give_back(url)


@pytest.fixture(scope="session")
def postgres_databases(postgres_server):
    """Each test's PostgreSQL database, made ahead (tests/postgres.py)."""
    from tests.postgres import DatabasePool

    pool = DatabasePool(postgres_server, _migrate)
    try:
        yield pool
    finally:
        pool.close()


def _migrate(url: str) -> None:
    """Run the host's migrations on the database at ``url`` (a template)."""
    store = Store.open(url, secret_key=TEST_SECRET_KEY)
    try:
        store.migrate()
    finally:
        store.close()


#: The config of a control node with one region (nothing listens there).
CONTROL_NODE = """
[regions]
eu = http://127.0.0.1:9
[routing]
secret = routing secret shared by all hosts
"""


def host_in(directory: Path, clock, text: str = "", **plugins) -> Host:
    """A migrated host of its own in ``directory`` (made here), with the
    plugins given by name and no entry points; the caller closes it."""
    directory.mkdir()
    config = load_config(write_config(directory, text), env={})
    pm = get_plugin_manager(load_entrypoints=False)
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    host = Host(config, Store.for_config(config), pm, clock=clock)
    host.migrate()
    return host


def write_config(directory: Path, text: str = "", database: str = "trackbridge.db"):
    """A config file in ``directory``; its database lives beside it, or at
    ``database`` (a PostgreSQL URL from the ``database`` fixture)."""
    path = directory / "config.ini"
    key = f"secret_key = {TEST_SECRET_KEY}\n" if database.startswith("postgres") else ""
    path.write_text(
        textwrap.dedent(
            f"""
            [host]
            database = {database}
            public_url = http://tb.example
            allow_loopback_destinations = true
            """
        )
        + key
        + textwrap.dedent(text)
    )
    return path


def run_cli(env: dict[str, str], *args: str, input: str | None = None) -> str:
    """Run ``trackbridge ARGS`` in a real process with ``env`` added; its stdout."""
    return subprocess.run(
        [sys.executable, "-m", "host.cli", *args],
        env={**os.environ, **env},
        input=input,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def install_tiny(host, organization, external_id="tiny.example", **metadata):
    """Install a tiny-provider integration for ``organization`` directly."""
    integration, _ = host.integrations.install(
        organization,
        "tiny",
        IntegrationSpec(
            external_id=external_id,
            name=external_id,
            metadata={"base_url": f"https://{external_id}", **metadata},
            credentials={"api_key": "tiny-key"},
            shared_credentials={"secret": "tiny-secret"},
        ),
    )
    return integration


def link_issue(host, group_id, integration_id, key, external_id, url=""):
    """Link the tracker issue ``key`` (the tracker's id ``external_id``) to
    a group directly, as if it had been linked through the tracker; the
    external issue."""
    with host.store.transaction():
        issue = host.store.integrations.upsert_external_issue(
            integration_id,
            TrackerIssue(key=key, external_id=str(external_id), title="",
                         description="", url=url),
        )  # fmt: skip
        host.store.integrations.link(group_id, issue)
    return issue


def linked_group(host, organization, integration_id, key, external_id, *,
                 title="KeyError", url=""):  # fmt: skip
    """A new group of ``organization`` linked to the tracker issue ``key``."""
    group = host.groups.create(organization, title, "app.py")
    link_issue(host, group.id, integration_id, key, external_id, url)
    return group


@pytest.fixture
def config(tmp_path, database):
    return load_config(write_config(tmp_path, database=database), env={})


class Clock:
    """A clock tests move by hand: leases and backoff without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def host(config, clock):
    """A host with the tiny provider registered directly (no entry points)."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(tiny_tracker, name="tiny")
    tiny_tracker.CALLS.clear()
    tiny_tracker.CHANGES.clear()
    host = Host(config, Store.for_config(config), pm, clock=clock)
    host.migrate()
    yield host
    host.close()


@pytest.fixture
def client(host):
    """A test client whose every answer is checked against the OpenAPI
    contract (see tests/contract.py)."""
    return falcon.testing.TestClient(checked_app(host))


@pytest.fixture(autouse=True)
def answers_match_the_contract():
    """Fail a test whose apps answered what the contract does not describe."""
    take_problems()
    yield
    problems = take_problems()
    assert not problems, "answers the contract does not describe:\n" + "\n".join(
        problems
    )


@pytest.fixture
def run_jobs(host):
    """Run every due job in this process; the kinds that ran, in order."""
    from host.jobs import Worker

    worker = Worker(host, name="test")

    def run():
        ran = []
        while (job := worker.run_once()) is not None:
            ran.append(job["kind"])
        return ran

    return run


@pytest.fixture
def org(host):
    return host.organizations.create("acme", "Acme")


@pytest.fixture
def auth(host, org):
    return {"Authorization": f"Bearer {host.organizations.create_token(org)}"}


@pytest.fixture
def api(client, auth):
    """Call the organization's API: ``api("get", "/groups")``."""

    def call(method, path, **kwargs):
        headers = {**auth, **kwargs.pop("headers", {})}
        url = f"/api/0/organizations/acme{path}"
        return getattr(client, f"simulate_{method}")(url, headers=headers, **kwargs)

    return call


def dump(store, skip: tuple[str, ...] = ()) -> str:
    """Every row of every table as text, in a stable order, on either
    engine (tables in ``skip`` left out)."""
    lines = []
    for table in sorted(store.db.table_names()):
        if table in skip:
            continue
        for row in store.db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall():
            lines.append(f"{table}: {tuple(row)!r}")
    return "\n".join(lines)


def shared_fixture(name: str) -> bytes:
    """A file from ../shared/fixtures (skips the test, saying why, when absent)."""
    path = SHARED / "fixtures" / name
    if not path.exists():
        pytest.skip(f"shared fixture {path} is not available (../shared is missing)")
    return path.read_bytes()
