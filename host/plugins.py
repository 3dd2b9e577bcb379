"""The plugin manager factory and plugin introspection.

The manager is built on demand (by the app factory, the CLI and tests), never
at import time, so each test and each process gets a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

import hookspecs
from hookspecs import PROJECT

log = logging.getLogger(__name__)


def get_plugin_manager(
    *, load_entrypoints: bool = True, blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """Build a plugin manager with the hookspecs and the installed plugins.

    :param load_entrypoints: Load plugins from the ``trackbridge`` entry-point
        group (tests that register their own plugins pass ``False``).
    :param blocked: Entry-point names not to load (``[plugins] disabled``).
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(PROJECT)
    pm.check_pending()
    return pm


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Each registered plugin with its distribution, version and hooks."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    plugins = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        callers = pm.get_hookcallers(plugin) or []
        plugins.append(
            PluginInfo(
                name=name,
                distribution=dist.project_name if dist else None,
                version=dist.version if dist else None,
                hooks=tuple(sorted(caller.name for caller in callers)),
            )
        )
    return sorted(plugins, key=lambda info: info.name)
