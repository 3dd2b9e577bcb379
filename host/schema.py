"""Migrations for plugins that own tables, whatever engine the host runs.

A plugin returns a :class:`MigrationSet` from ``register_migrations``; each
step is a function given a :class:`Schema`, which runs SQL in the subset
SQLite and PostgreSQL share (``CREATE TABLE`` with ``INTEGER``/``TEXT``/
``REAL`` columns and ``PRIMARY KEY``, ``CREATE INDEX``, ``ALTER TABLE ADD
COLUMN``, plain ``INSERT``/``UPDATE``). A step that must differ by engine
reads :attr:`Schema.dialect`. Steps run once each, in the order they were
added, after the host's own; append new steps, never edit one that shipped.

The plugin never sees the engine's own connection object: the same set
runs on every backend the host has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlite_utils import Database, Migrations

from host.errors import PluginError

Step = Callable[["Schema"], None]


class Schema:
    """What a migration step is given: SQL to run, and the engine's name."""

    def __init__(self, db: Database, dialect: str = "sqlite") -> None:
        self._db = db
        #: ``"sqlite"`` (or, with the PostgreSQL backend, ``"postgresql"``).
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement (``?`` placeholders)."""
        self._db.execute(sql, list(params))

    def table_names(self) -> list[str]:
        return self._db.table_names()


class MigrationSet:
    """A plugin's migrations, named after the plugin (the name records what
    ran, so it must never change)::

        migrations = MigrationSet("tiny")

        @migrations.step
        def m001_notes(schema):
            schema.execute("CREATE TABLE tiny_notes (id INTEGER PRIMARY KEY)")
    """

    def __init__(self, name: str) -> None:
        if not name or not name.replace("_", "").isalnum():
            raise PluginError(f"A migration set needs a plain name, not {name!r}")
        self.name = name
        self.steps: list[tuple[str, Step]] = []

    def step(self, function: Step) -> Step:
        """Add ``function`` as the next step (its name is its record)."""
        if any(name == function.__name__ for name, _ in self.steps):
            raise PluginError(
                f"Migration set {self.name!r} has two steps named {function.__name__!r}"
            )
        self.steps.append((function.__name__, function))
        return function

    def for_sqlite(self) -> Migrations:
        """The set as the SQLite store runs it (sqlite-utils' bookkeeping)."""
        runner = Migrations(self.name)
        for name, function in self.steps:

            def run(db: Database, function: Step = function) -> None:
                function(Schema(db))

            run.__name__ = name
            runner()(run)
        return runner


def plugin_sets(returned: Iterable[Any]) -> list[MigrationSet]:
    """What plugins returned from ``register_migrations``, checked.

    :raises PluginError: something that is not a :class:`MigrationSet`
        (a sqlite-utils ``Migrations`` would bind a plugin to one engine).
    """
    sets = []
    for found in returned:
        if found is None:
            continue
        if not isinstance(found, MigrationSet):
            raise PluginError(
                "register_migrations must return a host.schema.MigrationSet (or"
                f" None), not {type(found).__name__}"
            )
        sets.append(found)
    return sets
