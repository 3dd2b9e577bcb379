"""The README says what the code does: commands, config keys, hooks, CI."""

import re

import click

from host.cli import build_cli
from host.config import Config, JobsConfig
from host.plugins import get_plugin_manager
from tests.conftest import REPO
from tests.test_hookspecs import SPECS

README = (REPO / "README.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start")[1].split("\n## ")[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    serve, test = quick_start_commands()[:2]
    assert serve.endswith("trackbridge serve")
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == test


def test_every_cli_command_is_documented():
    group = build_cli(get_plugin_manager())

    def walk(g, prefix):
        for name, command in g.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}"

    for command in walk(group, ""):
        assert (
            f"trackbridge {command}" in README or f"`{command.split()[-1]}" in README
        ), command


def test_every_config_key_is_documented():
    internal = {"jobs", "sections", "source", "warnings", "public_url_set"}
    file_names = {"disabled_plugins": "disabled", "routing_secret": "secret"}
    keys = [
        file_names.get(key, key)
        for key in Config.__dataclass_fields__
        if key not in internal
    ]
    for key in [*keys, *JobsConfig.__dataclass_fields__]:
        assert f"`{key}`" in README, key


def test_every_hook_is_listed():
    for name in SPECS:
        assert f"`{name}`" in README, name


def test_config_ini_shows_every_key_with_the_code_default_and_the_readme_agrees():
    """config.ini is the commented list of defaults: every key of the host's
    own sections, each with the code's default, and the README's table says
    the same default."""
    import configparser
    import dataclasses

    from host.config import KNOWN_KEYS, Config, JobsConfig, load_config

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "config.ini", encoding="utf-8")
    code = load_config(REPO / "config.ini", env={}).redacted()
    defaults = {
        "host": {
            **{f.name: f.default for f in dataclasses.fields(Config)},
            "database": "var/trackbridge.db",
            "public_url": "",  # unset: it follows the bind
        },
        "jobs": {f.name: f.default for f in dataclasses.fields(JobsConfig)},
        "plugins": {"disabled": ""},
        "routing": {"secret": ""},
    }
    for section, keys in KNOWN_KEYS.items():
        assert set(parser[section]) == set(keys), section
        for key in keys:
            written = parser[section][key]
            default = defaults[section][key]
            if isinstance(default, bool):
                assert written == str(default).lower(), (section, key)
            elif isinstance(default, int | float):
                assert float(written) == default, (section, key, written)
            else:
                assert written == str(default), (section, key, written)
            row = _readme_row(key, section)
            assert row is not None, (section, key)
            shown = written or "(empty)"
            assert f"`{shown}`" in row or shown in row, (section, key, row)
        if section in ("host", "jobs"):
            assert set(code[section]) >= set(keys)


def _readme_row(key: str, section: str) -> str | None:
    """The README configuration table's row for ``key`` of ``section``."""
    current = None
    for line in README.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) < 4:
            continue
        if cells[0].startswith("`["):
            current = cells[0].strip("`[]")
        if current == section and cells[1] == f"`{key}`":
            return cells[2]
    return None
