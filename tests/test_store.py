import os
import threading
import time

import pytest

from host.jobs import Worker
from host.store import IntegrityError, Store, db
from host.store.migrations import core
from tests.conftest import install_tiny


def test_migrations_are_idempotent(tmp_path):
    store = Store.open(tmp_path / "db" / "t.db")
    applied = store.migrate()
    assert applied[0] == "trackbridge:m0001_organizations"
    assert store.migrate() == []
    assert core.pending(store.db) == []
    assert {
        "organizations",
        "users",
        "members",
        "groups",
        "group_activity",
        "comments",
        "integrations",
        "organization_integrations",
        "credentials",
        "external_issues",
        "group_links",
        "comment_links",
        "webhook_deliveries",
        "jobs",
        "api_tokens",
        "setup_pipelines",
    } <= set(store.db.table_names())
    # Dropped by m0009: nothing read it, and it cost every webhook a page.
    assert "webhook_deliveries_received" not in _indexes(store)


def test_connection_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    store = Store.open(tmp_path / "t.db")
    pragma = lambda name: store.db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 5_000  # [host] write_timeout_seconds


@pytest.mark.sqlite_only
def test_a_writer_in_another_connection_waits_for_the_one_writing(config, host):
    """Writers queue on the lock file, and the second goes on once the first
    commits: no "database is locked", nothing lost, in commit order."""
    other = Store.for_config(config)
    holding, release, second_done = (threading.Event() for _ in range(3))

    def first() -> None:
        with host.store.transaction():
            host.store.organizations.create("first", "First")
            holding.set()
            release.wait(5)

    def second() -> None:
        holding.wait(5)
        with other.transaction():
            other.organizations.create("second", "Second")
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert holding.wait(5)
    assert not second_done.wait(0.3), "the second writer did not wait"
    release.set()
    for thread in threads:
        thread.join(5)
    assert second_done.is_set()
    ids = {o.slug: o.id for o in host.store.organizations.list()}
    assert ids["first"] < ids["second"]
    other.close()


@pytest.mark.sqlite_only
def test_commits_leave_checkpoints_to_the_worker(host, config):
    """A commit only appends to the WAL; the idle worker folds it back."""
    database = str(config.database)
    before = os.path.getsize(database)
    _write_pages(host, 600)
    assert os.path.getsize(database) == before
    assert os.path.getsize(database + "-wal") > 600 * 4096

    worker = Worker(host, name="w1")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = threading.Event()
        while os.path.getsize(database) == before and not deadline.wait(0.05):
            pass
    finally:
        worker.stop()
        thread.join(5)
    assert os.path.getsize(database) > before + 600 * 4096


@pytest.mark.sqlite_only
def test_a_wal_past_its_limit_is_checkpointed_by_the_writer(host, config, monkeypatch):
    """Without a worker running, the WAL still never grows unbounded."""
    monkeypatch.setattr(db, "WAL_LIMIT_BYTES", 100 * 4096)
    monkeypatch.setattr(db, "WAL_CHECK_EVERY", 1)
    before = os.path.getsize(config.database)
    _write_pages(host, 150)
    assert os.path.getsize(config.database) > before + 100 * 4096


def _write_pages(host, count: int) -> None:
    """``count`` commits of one delivery each, with a body of about a page."""
    organization = host.organizations.create("acme", "Acme")
    integration = install_tiny(host, organization)
    for number in range(count):
        with host.store.transaction():
            host.store.deliveries.add(
                integration.id, "tiny", {}, b"%05d" % number + b"x" * 4000
            )


def _indexes(store) -> set[str]:
    return {
        row[0]
        for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
    }


def test_a_failed_transaction_leaves_nothing(host):
    with pytest.raises(RuntimeError), host.store.transaction():
        host.store.organizations.create("acme", "Acme")
        host.jobs.enqueue("delivery.process", {"delivery_id": 1})
        raise RuntimeError("boom")
    assert host.store.organizations.list() == []
    assert host.store.jobs.list() == []


def test_nested_transactions_roll_back_only_the_inner_part(host):
    with host.store.transaction():
        host.store.organizations.create("outer", "Outer")
        with pytest.raises(IntegrityError), host.store.transaction():
            host.store.organizations.create("inner", "Inner")
            host.store.organizations.create("inner", "Again")
    assert [o.slug for o in host.store.organizations.list()] == ["outer"]


def test_a_second_connection_sees_committed_writes(host, config):
    other = Store.for_config(config)
    host.organizations.create("acme", "Acme")
    assert other.organizations.get_by_slug("acme").name == "Acme"


def test_deleting_a_group_removes_its_links_activity_and_comments(host, org):
    group = host.groups.create(org, "boom", "")
    host.groups.add_comment(group, "hello", source=_user())
    host.groups.delete(org, group.id)
    counts = {
        table: host.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("groups", "comments", "group_activity")
    }
    assert counts == {"groups": 0, "comments": 0, "group_activity": 0}


def _user():
    from host.services.groups import Source

    return Source(user=True)


@pytest.mark.sqlite_only
def test_linked_groups_are_found_from_the_issues_links(host, org):
    """The apply path's lookup starts at the issue's links (an index on
    external_issue_id), not at every group of the organization: with a
    million groups the other order took 240 ms a delivery (bench/growth.py)."""
    seen = []
    conn = host.store.db.conn
    conn.set_trace_callback(seen.append)
    host.store.integrations.linked_group_ids(1, org.id)
    conn.set_trace_callback(None)
    [query] = [s for s in seen if "group_links" in s]
    plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}")]
    assert plan[0].startswith("SEARCH group_links USING"), plan
    assert "group_links_external" in plan[0] or "external_issue_id" in plan[0], plan
    assert plan[1].startswith("SEARCH groups USING INTEGER PRIMARY KEY"), plan


@pytest.fixture
def holding(config):
    """Another process's writer (its own lock file handle) inside a write
    transaction until the event is set."""
    other = Store.for_config(config)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with other.transaction():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    yield
    release.set()
    thread.join()
    other.close()


@pytest.mark.sqlite_only
def test_a_write_waits_for_the_lock_at_most_its_timeout_then_is_unavailable(
    config, host, holding
):
    from host.errors import Unavailable

    for timeout in (0.05, 0.3):
        started = time.monotonic()
        with (
            pytest.raises(Unavailable, match="locked"),
            host.store.transaction(timeout=timeout),
        ):
            pass
        assert time.monotonic() - started < timeout + 0.2


@pytest.mark.sqlite_only
def test_health_answers_within_its_timeout_while_another_writer_holds_the_lock(
    host, holding
):
    started = time.monotonic()
    problem = host.store.health(timeout=0.3)
    assert time.monotonic() - started < 0.6
    assert "locked" in problem


def test_each_thread_has_its_own_connection(host):
    seen = []
    thread = threading.Thread(target=lambda: seen.append(host.store.db.conn))
    thread.start()
    thread.join()
    assert seen[0] is not host.store.db.conn
    assert host.store.health(timeout=0.3) is None
