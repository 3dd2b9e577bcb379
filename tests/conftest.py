"""Fixtures: a fresh host, database and plugin manager for every test."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import falcon.testing
import pytest

from host.app import create_app
from host.config import load_config
from host.core import Host
from host.plugins import get_plugin_manager
from host.store import Store
from host.types import IntegrationSpec, TrackerIssue
from tests import tiny_tracker

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_report_header(config):
    return f"sqlite: {sqlite3.sqlite_version}, python: {sys.version.split()[0]}"


def write_config(directory: Path, text: str = "") -> Path:
    """A config file in ``directory`` whose database lives beside it."""
    path = directory / "config.ini"
    path.write_text(
        textwrap.dedent(
            """
            [host]
            database = trackbridge.db
            public_url = http://tb.example
            allow_loopback_destinations = true
            """
        )
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
    a group directly, as if it had been linked through the tracker."""
    with host.store.transaction():
        issue = host.store.integrations.upsert_external_issue(
            integration_id,
            TrackerIssue(key=key, external_id=str(external_id), title="",
                         description="", url=url),
        )  # fmt: skip
        host.store.integrations.link(group_id, issue)


def linked_group(host, organization, integration_id, key, external_id, *,
                 title="KeyError", url=""):  # fmt: skip
    """A new group of ``organization`` linked to the tracker issue ``key``."""
    group = host.groups.create(organization, title, "app.py")
    link_issue(host, group.id, integration_id, key, external_id, url)
    return group


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path), env={})


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
    host = Host(config, Store.open(config.database), pm, clock=clock)
    host.migrate()
    yield host
    host.close()


@pytest.fixture
def client(host):
    return falcon.testing.TestClient(create_app(host))


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


def shared_fixture(name: str) -> bytes:
    """A file from ../shared/fixtures (skips the test, saying why, when absent)."""
    path = SHARED / "fixtures" / name
    if not path.exists():
        pytest.skip(f"shared fixture {path} is not available (../shared is missing)")
    return path.read_bytes()
