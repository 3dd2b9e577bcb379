import sqlite3

import pytest

from host.store import Store
from host.store.migrations import core


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


def test_connection_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    store = Store.open(tmp_path / "t.db")
    pragma = lambda name: store.db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 30_000


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
        with pytest.raises(sqlite3.IntegrityError), host.store.transaction():
            host.store.organizations.create("inner", "Inner")
            host.store.organizations.create("inner", "Again")
    assert [o.slug for o in host.store.organizations.list()] == ["outer"]


def test_a_second_connection_sees_committed_writes(host, config):
    other = Store.open(config.database)
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
