"""Migrations, the host's and plugins', whatever engine the host runs.

A plugin returns a :class:`MigrationSet` from ``register_migrations``; each
step is a function given a :class:`Schema`, which runs SQL in the subset
SQLite and PostgreSQL share (``CREATE TABLE`` with ``INTEGER``/``TEXT``/
``REAL``/``BLOB`` columns and ``PRIMARY KEY``, ``CREATE INDEX``, ``ALTER
TABLE ADD COLUMN``, plain ``INSERT``/``UPDATE``); on PostgreSQL the column
types become its own (``BIGINT``, ``DOUBLE PRECISION``, ``BYTEA``, an
identity column for ``id INTEGER PRIMARY KEY``). A step that must differ by
engine reads :attr:`Schema.dialect`. Steps run once each, in the order they
were added, after the host's own; append new steps, never edit one that
shipped.

The plugin never sees the engine's own connection object: the same set
runs on every backend the host has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from host.errors import PluginError
from host.times import utcnow

if TYPE_CHECKING:
    from host.store.engine import Engine

Step = Callable[["Schema"], None]


class Schema:
    """What a migration step is given: SQL to run, and the engine's name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: ``"sqlite"`` or ``"postgresql"``.
        self.dialect = engine.dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list:
        """Run one statement (``?`` placeholders); the rows it returned."""
        cursor = self._engine.execute_schema(sql, list(params))
        return cursor.fetchall() if cursor.description else []

    def table_names(self) -> list[str]:
        return self._engine.table_names()


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
        #: (table, key column, column) of the secrets the plugin seals with
        #: the host's key (``host.store.box.seal``): the host checks and
        #: re-seals them with its own when the key rotates.
        self.sealed_columns: list[tuple[str, str, str]] = []

    def sealed(self, table: str, key: str, column: str) -> None:
        """Say that ``table.column`` holds sealed secrets, rows keyed by ``key``."""
        self.sealed_columns.append((table, key, column))

    def step(self, function: Step) -> Step:
        """Add ``function`` as the next step (its name is its record)."""
        if any(name == function.__name__ for name, _ in self.steps):
            raise PluginError(
                f"Migration set {self.name!r} has two steps named {function.__name__!r}"
            )
        self.steps.append((function.__name__, function))
        return function

    def pending(self, engine: Engine) -> list[str]:
        """The names of the steps not yet applied, in order."""
        done = applied(engine)
        return [name for name, _ in self.steps if (self.name, name) not in done]

    def apply(self, engine: Engine) -> list[str]:
        """Apply the pending steps (call inside ``engine.migrating()``)."""
        ran = []
        for name in self.pending(engine):
            dict(self.steps)[name](Schema(engine))
            engine.execute(
                f"INSERT INTO {engine.migrations_table}"
                " (migration_set, name, applied_at) VALUES (?, ?, ?)",
                [self.name, name, utcnow()],
            )
            ran.append(name)
        return ran


def applied(engine: Engine) -> set[tuple[str, str]]:
    """(set, step) of every migration the database records as applied."""
    if engine.migrations_table not in engine.table_names():
        return set()
    return {
        (row[0], row[1])
        for row in engine.execute(
            f"SELECT migration_set, name FROM {engine.migrations_table}"
        )
    }


def ensure_record_table(engine: Engine) -> None:
    """The table of applied migrations (on SQLite: sqlite-utils' own, which
    older versions of trackbridge wrote, with the same columns)."""
    if engine.migrations_table in engine.table_names():
        return
    engine.execute_schema(
        f"CREATE TABLE {engine.migrations_table} (id INTEGER PRIMARY KEY,"
        " migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    engine.execute(
        f"CREATE UNIQUE INDEX idx_{engine.migrations_table}_migration_set_name"
        f" ON {engine.migrations_table} (migration_set, name)"
    )


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
