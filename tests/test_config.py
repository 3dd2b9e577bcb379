import pytest

from host.config import load_config
from host.errors import ConfigError
from tests.conftest import write_config


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.source is None
    assert config.database == tmp_path / "var" / "trackbridge.db"
    assert config.bind == "127.0.0.1:8000"
    assert config.jobs.max_attempts == 8
    assert config.disabled_plugins == ()


def test_database_is_relative_to_the_config_file(tmp_path):
    path = write_config(tmp_path, "[plugins]\ndisabled = jira_server, other\n")
    config = load_config(path, env={})
    assert config.database == tmp_path / "trackbridge.db"
    assert config.public_url == "http://tb.example"
    assert config.disabled_plugins == ("jira_server", "other")


def test_environment_overrides(tmp_path):
    path = write_config(tmp_path)
    env = {"TRACKBRIDGE_CONFIG": str(path), "TRACKBRIDGE_DATABASE": "/tmp/x.db"}
    config = load_config(env=env)
    assert config.source == path
    assert str(config.database) == "/tmp/x.db"


def test_dollar_values_come_from_the_environment(tmp_path):
    path = write_config(tmp_path, "[tiny]\napi_token = $TINY_TOKEN\nurl = plain\n")
    config = load_config(path, env={"TINY_TOKEN": "s3cr3t"})
    assert config.plugin_config("tiny") == {"api_token": "s3cr3t", "url": "plain"}
    assert config.plugin_config("absent") == {}


def test_redacted_hides_secrets(tmp_path):
    path = write_config(tmp_path, "[tiny]\napi_token = $T\nprivate_key = k\nurl = u\n")
    shown = load_config(path, env={"T": "s3cr3t"}).redacted()
    assert shown["tiny"] == {"api_token": "***", "private_key": "***", "url": "u"}
    assert "s3cr3t" not in repr(shown)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[host]\nworkers = many\n",
            "[host] workers must be a whole number, not 'many'",
        ),
        ("[host]\nworkers = 0\n", "[host] workers must be at least 1"),
        ("[jobs]\nmax_attempts = x\n", "[jobs] max_attempts must be a whole number"),
        ("[host\n", "config.ini"),
    ],
)
def test_invalid_values_are_named(tmp_path, text, message):
    path = tmp_path / "config.ini"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path, env={})


def test_a_named_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="Config file not found"):
        load_config(env={"TRACKBRIDGE_CONFIG": str(tmp_path / "nope.ini")})


def test_an_unknown_key_is_a_warning_naming_the_nearest_known_one(tmp_path):
    path = write_config(tmp_path, "bindd = 127.0.0.1:9\n[jobs]\nmax_atempts = 3\n")
    config = load_config(path, env={})
    assert config.warnings == (
        "[host] bindd is not a known key (ignored); did you mean bind?",
        "[jobs] max_atempts is not a known key (ignored); did you mean max_attempts?",
    )
    assert config.bind == "127.0.0.1:8000" and config.jobs.max_attempts == 8


def test_workers_beyond_four_per_core_are_cut_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    config = load_config(write_config(tmp_path, "workers = 500\n"), env={})
    assert config.workers == 8
    assert config.warnings == ("[host] workers = 500 is more than 4 per core; using 8",)


@pytest.mark.parametrize(
    "line, message",
    [
        ("bind = 127.0.0.1:0", "port 0 is not between 1 and 65535"),
        ("bind = [::1]:8000", None),
        ("bind = localhost:8000", None),
        ("public_url = https://tb.example/base/", None),
        ("public_url = http://user:pw@tb.example", "without a user name or password"),
        ("public_url = http://tb.example:99999", "a port from 1 to 65535"),
        ("public_url = tb.example", "an absolute http(s) URL"),
        ("log_level = DEBUG", None),
        ("log_format = yaml", "log_format must be one of text, json"),
        ("threads = 0", "threads must be at least 1"),
        ("max_body_bytes = 1e9", "must be a whole number"),
        ("header_timeout_seconds = 0", "header_timeout_seconds must be at least 0.5"),
    ],
)
def test_host_values_are_checked(tmp_path, line, message):
    path = tmp_path / "config.ini"
    path.write_text(f"[host]\ndatabase = tb.db\n{line}\n")
    if message is None:
        load_config(path, env={})
    else:
        with pytest.raises(
            ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            load_config(path, env={})


def test_backoff_max_below_its_base_is_refused(tmp_path):
    path = write_config(
        tmp_path, "[jobs]\nbackoff_base_seconds = 10\nbackoff_max_seconds = 1\n"
    )
    with pytest.raises(ConfigError, match="at least backoff_base_seconds"):
        load_config(path, env={})


def test_a_group_url_template_makes_the_trackers_back_link(tmp_path):
    from host.core import Host
    from host.plugins import get_plugin_manager
    from host.store import Store
    from host.types import Group

    config = load_config(
        write_config(
            tmp_path,
            "group_url_template ="
            " {public_url}/console/{organization}/groups/{group_id}\n",
        ),
        env={},
    )
    host = Host(
        config, Store.for_config(config), get_plugin_manager(load_entrypoints=False)
    )
    host.migrate()
    try:
        organization = host.organizations.create("acme")
        group = host.groups.create(organization, "KeyError", "app.py")
        assert isinstance(group, Group)
        assert host.group_url(group) == (
            f"http://tb.example/console/acme/groups/{group.id}"
        )
    finally:
        host.close()


@pytest.mark.parametrize(
    "template, problem",
    [
        ("{public_url}/g/{group}", "may name only"),
        ("{public_url}/g/{0}", "may name only"),
        ("ftp://files/{group_id}", r"must make an http\(s\) URL"),
        ("{public_url}/g/{group_id", "may name only"),
    ],
)
def test_a_bad_group_url_template_is_refused(tmp_path, template, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(
            write_config(tmp_path, f"group_url_template = {template}\n"), env={}
        )


def test_a_postgresql_url_is_kept_whole_and_its_password_never_shown(tmp_path):
    url = "postgresql://tb:s3cret@db.example:5432/trackbridge"
    config = load_config(write_config(tmp_path), env={"TRACKBRIDGE_DATABASE_URL": url})
    assert config.database == url
    assert config.data_dir == tmp_path / "var"  # CA bundles: beside the config
    shown = config.redacted()["host"]["database"]
    assert shown == "postgresql://tb:***@db.example:5432/trackbridge"
    sqlite = load_config(write_config(tmp_path), env={})
    assert sqlite.data_dir == tmp_path  # the database's folder


def test_a_postgresql_url_without_a_server_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="names its server"):
        load_config(
            write_config(tmp_path), env={"TRACKBRIDGE_DATABASE_URL": "postgresql:///x"}
        )
