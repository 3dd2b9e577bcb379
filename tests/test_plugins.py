"""The plugin manager factory: entry points, blocking, validation."""

import falcon.testing
import pluggy
import pytest

from host import hookimpl
from host.config import load_config
from host.core import Host
from host.errors import PluginError
from host.plugins import describe_plugins, get_plugin_manager
from host.store import Store
from host.types import Provider
from tests import tiny_tracker
from tests.conftest import CONTROL_NODE, host_in, write_config
from tests.contract import checked_app


def test_jira_server_comes_from_its_entry_point():
    pm = get_plugin_manager()
    [info] = [i for i in describe_plugins(pm) if i.name == "jira_server"]
    assert info.distribution == "trackbridge"
    assert info.version
    assert "register_providers" in info.hooks


def test_without_entry_points_nothing_is_loaded():
    pm = get_plugin_manager(load_entrypoints=False)
    assert pm.get_plugins() == set()


def test_a_disabled_plugin_is_not_loaded(tmp_path):

    config = load_config(write_config(tmp_path, "[plugins]\ndisabled = jira_server\n"))
    host = Host.from_config(config)
    assert "jira_server" not in host.providers
    assert not host.pm.has_plugin("jira_server")
    enabled = Host.from_config(load_config(write_config(tmp_path)))
    assert enabled.providers["jira_server"].name == "Jira Server"


class Provides:
    def __init__(self, *providers):
        self.providers = providers

    @hookimpl
    def register_providers(self, host):
        return list(self.providers)


def make_host(config, *plugins):
    pm = get_plugin_manager(load_entrypoints=False)
    for n, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{n}")
    return Host(config, Store.open(":memory:"), pm)


def test_duplicate_provider_keys_are_refused(config):
    one = Provider(key="x", name="X")
    with pytest.raises(PluginError, match="'x' is registered by two plugins"):
        make_host(config, Provides(one), Provides(one))


def test_unknown_features_are_refused(config):
    bad = Provider(key="x", name="X", features=frozenset({"telepathy"}))
    with pytest.raises(PluginError, match="unknown features: telepathy"):
        make_host(config, Provides(bad))


def test_a_misspelled_hook_fails_check_pending():
    class Typo:
        @hookimpl
        def parse_webhok(self, host):
            return []

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError, match="parse_webhok"):
        pm.check_pending()


def test_an_unknown_argument_is_refused_at_registration():
    class Wrong:
        @hookimpl
        def register_providers(self, host, nonsense):
            return []

    with pytest.raises(pluggy.PluginValidationError):
        get_plugin_manager(load_entrypoints=False).register(Wrong())


def test_provider_slugs(config):
    host = make_host(config, Provides(Provider(key="jira_cloud", name="Jira Cloud")))
    assert host.provider_by_slug("jira-cloud").key == "jira_cloud"
    assert host.provider_by_slug("jira_cloud") is None


def test_a_plugins_route_wins_over_the_webhook_catch_all(client):
    response = client.simulate_get("/extensions/tiny/status")
    assert response.json == {"provider": "tiny", "integrations": 0}


def test_a_plugins_migrations_run_after_the_core_set(host):
    from host.schema import applied

    assert "tiny_notes" in host.store.db.table_names()
    [tiny] = host.plugin_migrations()
    assert tiny.pending(host.store.db) == []
    assert ("tiny", "m001_notes") in applied(host.store.db)
    assert host.pending_migrations() == []


def test_a_plugin_gets_no_engine_objects_and_must_return_a_migration_set(host):
    """A step is given a Schema (SQL and the dialect), not sqlite-utils; a
    plugin returning an engine's own migration object is refused clearly."""
    from sqlite_utils import Migrations

    from host.errors import PluginError
    from host.schema import MigrationSet, Schema, plugin_sets

    given = []
    steps = MigrationSet("probe")
    steps.step(lambda schema: given.append(schema))
    with host.store.db.migrating():
        steps.apply(host.store.db)
    [schema] = given
    assert isinstance(schema, Schema) and schema.dialect == host.store.db.dialect
    assert not hasattr(schema, "conn") and not hasattr(schema, "table")
    with pytest.raises(PluginError, match=r"must return a host\.schema\.MigrationSet"):
        plugin_sets([Migrations("legacy")])
    with pytest.raises(PluginError, match="two steps named"):
        twice = MigrationSet("twice")

        def m1(schema):
            pass

        twice.step(m1)
        twice.step(m1)


def test_a_verdict_naming_no_integration_is_acknowledged_and_never_stored(
    client, host, tmp_path, clock
):
    """A tracker that calls before any organization connected it (a Jira
    Cloud site that installed the app first): 200, nothing kept; a control
    node answers as for an integration no organization uses (400)."""
    headers = {
        "Content-Type": "application/json",
        "X-Tiny-Secret": "tracker-wide secret",
    }
    body = '{"events": [{"type": "status"}]}'
    answer = client.simulate_post(
        "/extensions/tiny/unconnected/x", body=body, headers=headers
    )
    assert answer.status_code == 200 and answer.json == {"received": False}
    stored = host.store.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()
    assert stored[0] == 0
    forged = client.simulate_post(
        "/extensions/tiny/unconnected/x",
        body=body,
        headers={**headers, "X-Tiny-Secret": "guess"},
    )
    assert forged.status_code == 400

    control = host_in(tmp_path / "control", clock, CONTROL_NODE, tiny=tiny_tracker)
    try:
        routed = falcon.testing.TestClient(checked_app(control)).simulate_post(
            "/extensions/tiny/unconnected/x", body=body, headers=headers
        )
        assert routed.status_code == 400
        assert "No organization" in routed.json["detail"]
        assert control.store.jobs.list() == []
    finally:
        control.close()
