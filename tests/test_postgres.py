"""What only the PostgreSQL engine has: several processes writing at once.

Each concurrent test runs its writers in threads, each thread with its own
connection (as processes would have), against a real server.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from host.errors import Unavailable
from host.sealing import SecretKeyError
from host.store import Store
from host.store.db import DatabaseUnavailable
from host.store.engine import connect
from tests.conftest import TEST_SECRET_KEY, install_tiny

pytestmark = pytest.mark.postgresql_only


def _together(count: int, work) -> list:
    """Run ``work(n)`` in ``count`` threads released at once; the results."""
    start, results, errors = threading.Barrier(count), [None] * count, []

    def run(n):
        start.wait()
        try:
            results[n] = work(n)
        except Exception as ex:  # reported below, with the test's failure
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_a_shared_database_needs_a_shared_secret_key(database):
    with pytest.raises(SecretKeyError, match="TRACKBRIDGE_SECRET_KEY"):
        Store.open(database)


def test_an_unreachable_server_is_said_in_one_line_without_the_password(database):
    from tests.postgres import _free_port

    url = f"postgresql://tb:hunter2@127.0.0.1:{_free_port()}/nowhere"
    with pytest.raises(DatabaseUnavailable) as raised:
        connect(url, 1.0)
    assert "hunter2" not in str(raised.value)
    assert "tb:***@127.0.0.1" in str(raised.value)


def test_a_write_waits_for_a_locked_row_at_most_its_timeout(host, org):
    other = Store.for_config(host.config)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with other.transaction():
            other.db.execute(
                "SELECT id FROM organizations WHERE id = ? FOR UPDATE", [org.id]
            ).fetchall()
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with (
            pytest.raises(Unavailable, match="locked"),
            host.store.transaction(timeout=0.3),
        ):
            host.store.db.execute(
                "UPDATE organizations SET name = 'x' WHERE id = ?", [org.id]
            )
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join()
        other.close()
    assert host.organizations.get("acme").name == "Acme"  # nothing written


def test_migrations_run_once_when_hosts_start_together(postgres_server):
    url = postgres_server.create_database()
    stores = [Store.open(url, secret_key=TEST_SECRET_KEY) for _ in range(4)]
    try:
        applied = _together(4, lambda n: stores[n].migrate())
    finally:
        for store in stores:
            store.close()
    assert sorted(len(names) for names in applied)[:3] == [0, 0, 0]
    assert max(len(names) for names in applied) > 10


def test_concurrent_claims_keep_every_cap_and_claim_each_job_once(host):
    """Eight workers claim at once from 60 jobs of 3 integrations, capped
    at 2 each: never more than 2 of one integration run, none runs twice."""
    with host.store.transaction():
        for n in range(60):
            host.jobs.enqueue("sync.outbound", {}, integration_id=1 + n % 3)
    stores = [Store.for_config(host.config) for _ in range(8)]
    claimed, running, peak, lock = [], Counter(), Counter(), threading.Lock()
    now = host.clock()

    def claim_and_finish(n):
        store = stores[n]
        while True:
            job = store.jobs.claim(f"w{n}", now=now, lease_seconds=60,
                                   per_integration=2)  # fmt: skip
            if job is None:
                with lock:
                    if len(claimed) == 60:
                        return
                time.sleep(0.001)
                continue
            with lock:
                claimed.append(job["id"])
                running[job["lane"]] += 1
                peak[job["lane"]] = max(peak[job["lane"]], running[job["lane"]])
            time.sleep(0.002)
            with lock:
                running[job["lane"]] -= 1
            assert store.jobs.finish(job["id"], f"w{n}", job["attempts"])

    try:
        _together(8, claim_and_finish)
    finally:
        for store in stores:
            store.close()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60
    assert max(peak.values()) <= 2, peak


def test_two_schedulers_queue_each_due_pass_once(host, org, clock):
    for n in range(20):
        install_tiny(host, org, external_id=f"tiny{n}.example")
    host.reconcile.schedule_due()  # first sight: each scheduled, none queued
    clock.advance(host.config.jobs.reconcile_interval_seconds + 1)
    hosts = [_host_like(host) for _ in range(2)]
    try:
        queued = _together(2, lambda n: hosts[n].reconcile.schedule_due())
    finally:
        for other in hosts:
            other.close()
    assert sum(queued) == 20
    jobs = host.store.jobs.list(("queued",), 100)
    assert len([j for j in jobs if j["kind"] == "integration.reconcile"]) == 20


def test_two_organizations_installing_one_tracker_at_once_share_it(host):
    hosts = [_host_like(host) for _ in range(2)]
    organizations = [host.organizations.create(slug) for slug in ("one", "two")]
    try:
        installed = _together(
            2, lambda n: install_tiny(hosts[n], organizations[n], "shared.example")
        )
    finally:
        for other in hosts:
            other.close()
    assert installed[0].id == installed[1].id
    for organization in organizations:
        assert [i.id for i, _ in host.integrations.list(organization)] == [
            installed[0].id
        ]


def _host_like(host):
    from host.core import Host

    return Host(host.config, Store.for_config(host.config), host.pm, clock=host.clock)


def test_a_lost_connection_is_a_503_once_then_opened_again(host, org, client, auth):
    """The server restarted (or a proxy cut us off): the request that meets
    the dead connection is told to retry, the next one gets a new one."""
    database = host.config.database.rsplit("/", 1)[1]
    import psycopg

    from tests.postgres import USER

    server_url = host.config.database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server_url, user=USER, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
    answers = [
        client.simulate_get("/api/0/organizations/acme", headers=auth) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [503, 200]
    assert answers[0].json["detail"].startswith("The database cannot be reached")
    assert answers[0].headers["Retry-After"] == "2"
