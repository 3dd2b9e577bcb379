"""How the command line shows lists: a table with a header, or ``--json``.

One place decides, so every listing reads the same: columns aligned under
their headings, ``-`` for nothing, times in ISO 8601 UTC (the store keeps
some as Unix times; JSON output converts those too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click

from host.times import iso_time

#: Keys the store keeps as Unix times; shown as ISO 8601 everywhere.
EPOCH_KEYS = ("run_at", "lease_until", "failing_since", "next_try_at")

Column = tuple[str, str | Callable[[Mapping[str, Any]], Any]]


def readable(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with its Unix times as ISO 8601 text."""
    return {
        key: iso_time(value)
        if key in EPOCH_KEYS and isinstance(value, int | float) and value
        else value
        for key, value in row.items()
    }


def show(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool = False,
    empty: str = "(none)",
) -> None:
    """Print ``rows`` as JSON (every key) or as a table of ``columns``:
    (heading, key or function of the row)."""
    rows = [readable(row) for row in rows]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo(empty)
        return
    cells = [[heading for heading, _ in columns]]
    for row in rows:
        cells.append(
            [
                _text(value(row) if callable(value) else row.get(value))
                for _, value in columns
            ]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        click.echo(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        )


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # one line per row
