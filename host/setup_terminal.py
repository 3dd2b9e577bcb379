"""Running a provider's setup pipeline in a terminal (``trackbridge install``).

The same steps as the browser pages: each field is prompted for (secrets
hidden) unless given with ``--set name=value`` (``name=@path`` reads a file,
for PEM keys); a redirect is printed for the user to open, after which the
step asks for what the tracker shows (e.g. a verification code).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from host.errors import TrackbridgeError, ValidationError
from host.services.setup import PipelineStatus
from host.types import FormField, Organization

MAX_TRIES = 3


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """``name=value`` pairs; ``name=@path`` reads the value from a file."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: use name=value", param_hint="--set")
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text()
            except OSError as ex:
                raise click.BadParameter(
                    f"{pair!r}: {ex.strerror}", param_hint="--set"
                ) from None
        values[name] = value
    return values


def run(
    host, organization: Organization, provider: str, given: Mapping[str, str]
) -> int:
    """Drive the pipeline to completion; return the integration id."""
    status = host.setup.start(organization, provider)
    tries = 0
    errors: dict[str, list[str]] = {}
    while not status.complete:
        _show(status, errors)
        data: dict[str, Any] = {}
        for field in status.view.fields:
            if _applies(field, status.view.fields, data):
                data[field.name] = _value(field, given, errors)
        try:
            status = host.setup.submit(organization, status.pipeline_id, data)
        except ValidationError as ex:
            errors, tries = ex.errors, tries + 1
            given = {k: v for k, v in given.items() if k not in ex.errors}
        except TrackbridgeError as ex:
            click.secho(f"Setup error: {ex.detail}", fg="red", err=True)
            errors, tries = {}, tries + 1
        else:
            errors, tries = {}, 0
            if status.redirect_url:
                click.echo(
                    f"\nOpen this address in your browser and approve access:\n"
                    f"  {status.redirect_url}\n"
                )
        if tries >= MAX_TRIES:
            raise click.ClickException("Setup stopped after repeated errors.")
    return status.integration_id


def _show(status: PipelineStatus, errors: Mapping[str, list[str]]) -> None:
    click.secho(
        f"\n== {status.step.title} (step {status.step_index + 1} of "
        f"{status.total_steps}) ==",
        bold=True,
    )
    if status.view.intro:
        click.echo(status.view.intro)
    for label, value in status.view.instructions:
        click.echo(f"\n{label}:\n  " + "\n  ".join(value.splitlines()))
    for name, messages in errors.items():
        click.secho(f"{name}: {' '.join(messages)}", fg="red", err=True)


def _applies(field: FormField, fields, answered: Mapping[str, Any]) -> bool:
    """False for a field whose ``show_if`` condition the answers rule out."""
    if field.show_if is None:
        return True
    name, wanted = field.show_if
    default = next((f.default for f in fields if f.name == name), None)
    return str(answered.get(name, default)) == wanted


def _value(field: FormField, given: Mapping[str, str], errors) -> Any:
    if field.name in given and field.name not in errors:
        return given[field.name]
    label = field.label + ("" if field.required else " (optional)")
    if field.type == "boolean":
        return click.confirm(label, default=bool(field.default))
    if field.choices:
        values = [c.value for c in field.choices]
        return click.prompt(
            label, type=click.Choice(values), default=field.default or values[0]
        )
    if field.type == "textarea" and field.secret:
        path = click.prompt(f"{label}: path to a file", default="", show_default=False)
        return Path(path).expanduser().read_text() if path else ""
    return click.prompt(
        label,
        default="" if not field.required else None,
        show_default=False,
        hide_input=field.secret or field.type == "password",
    )
