"""``trackbridge copy-db``: a SQLite installation moved to PostgreSQL."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from host.cli import CliContext, build_cli
from host.config import load_config
from host.core import Host
from host.plugins import get_plugin_manager
from host.store import Store
from tests import tiny_tracker
from tests.conftest import install_tiny, write_config


@pytest.fixture
def sqlite_host(tmp_path):
    """A migrated SQLite installation with a key file, as the quick start
    makes one."""
    config = load_config(write_config(tmp_path), env={})
    pm = _pm()
    host = Host(config, Store.for_config(config), pm)
    host.migrate()
    yield host
    host.close()


def _pm():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(tiny_tracker, name="tiny")
    return pm


def _copy(host, target):
    pm = _pm()
    return CliRunner().invoke(
        build_cli(pm), ["copy-db", "--to", target], obj=CliContext(host.config, pm)
    )


def test_an_installation_arrives_whole_with_its_secrets_and_ids(
    sqlite_host, postgres_server
):
    host = sqlite_host
    acme = host.organizations.create("acme", "Acme")
    integration = install_tiny(host, acme)
    groups = [host.groups.create(acme, f"boom {n}", "app.py") for n in range(3)]
    host.groups.delete(acme, groups[-1].id)  # its id must not come back
    host.organizations.create_token(acme)
    target = postgres_server.create_database()

    result = _copy(host, target)

    assert result.exit_code == 0, result.output
    assert "groups: 2 row(s)" in result.output
    assert f"[host] database = {target}" in result.output
    assert "TRACKBRIDGE_SECRET_KEY" in result.output
    copied = Store.open(target, secret_key=_key_of(host))
    try:
        titles = [g.title for g in copied.groups.list(acme.id, None, 10, 0)]
        assert titles == ["boom 0", "boom 1"]
        # Sealed values arrive as they were, and open with the same key.
        assert copied.integrations.credentials(integration.id) == (
            host.store.integrations.credentials(integration.id)
        )
        with copied.transaction():
            new_id = copied.groups.create(acme.id, "after the move", "")
        assert new_id > groups[-1].id
        assert _host_on(copied, host).pending_migrations() == []
    finally:
        copied.close()


def test_a_target_with_rows_is_refused_and_left_as_it_was(sqlite_host, postgres_server):
    host = sqlite_host
    host.organizations.create("acme", "Acme")
    target = postgres_server.create_database()
    assert _copy(host, target).exit_code == 0
    again = _copy(host, target)
    assert again.exit_code != 0
    assert "not empty" in again.output


def test_copy_db_says_what_is_wrong_with_its_arguments(sqlite_host):
    result = _copy(sqlite_host, "/tmp/elsewhere.db")
    assert result.exit_code == 2
    assert "must be a postgresql:// URL" in result.output


def _key_of(host) -> str:
    from host import sealing

    return ",".join(sealing.read_key_file(sealing.key_file(host.config.database)))


def _host_on(store, like):
    return Host(like.config, store, _pm())
