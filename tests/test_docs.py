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
    internal = {"jobs", "sections", "source", "warnings"}
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
