"""Running a provider's setup pipeline in a terminal (``trackbridge install``).

The same steps as the browser pages: each field is prompted for (secrets
hidden) unless given with ``--set name=value`` (``name=@path`` reads a file,
for PEM keys); a redirect is printed for the user to open, after which the
step asks for what the tracker shows (e.g. a verification code). With
``--no-input`` nothing is asked: a script gives every required field with
``--set`` and gets exit status 0 (installed), 1 (setup stopped, saying why)
or 2 (a usage error).
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
    host,
    organization: Organization,
    provider: str,
    given: Mapping[str, str],
    *,
    prompt: bool = True,
) -> int:
    """Drive the pipeline to completion; return the integration id.

    A ``--set`` value is never asked for; without ``prompt`` nothing is
    (an optional field takes its default). A step the tracker refuses (a
    wrong token) is asked again, its answers offered as defaults (not a
    secret's); without ``prompt`` the first refusal ends the setup.

    :raises click.ClickException: the setup cannot go on (exit status 1).
    """
    status = host.setup.start(organization, provider)
    tries = 0
    errors: dict[str, list[str]] = {}
    given = dict(given)
    refused: dict[str, Any] = {}
    while not status.complete:
        _show(status, errors)
        data: dict[str, Any] = {}
        for field in status.view.fields:
            if _applies(field, status.view.fields, data):
                data[field.name] = _value(field, given, errors, prompt, refused)
        try:
            status = host.setup.submit(organization, status.pipeline_id, data)
        except ValidationError as ex:
            if not prompt:
                raise click.ClickException(_stopped(ex.errors)) from None
            errors, tries = ex.errors, tries + 1
            given = {k: v for k, v in given.items() if k not in ex.errors}
        except TrackbridgeError as ex:
            if not prompt:
                raise click.ClickException(f"Setup stopped: {ex.detail}") from None
            click.secho(
                f"Setup error: {ex.detail}\nAnswer this step again.", fg="red", err=True
            )
            errors, tries = {}, tries + 1
            # What was refused is asked for again, not sent again unchanged
            # (the answers offered as defaults, but a secret's).
            given = {k: v for k, v in given.items() if k not in data}
            refused = data
        else:
            errors, tries, refused = {}, 0, {}
        if tries >= MAX_TRIES:
            raise click.ClickException("Setup stopped after repeated errors.")
    return status.integration_id


def _stopped(errors: Mapping[str, list[str]]) -> str:
    problems = "; ".join(f"{name}: {' '.join(m)}" for name, m in errors.items())
    if not problems:
        return "Setup stopped: the step was refused."
    return f"Setup stopped: {problems} (answer with --set NAME=VALUE)."


def _show(status: PipelineStatus, errors: Mapping[str, list[str]]) -> None:
    click.secho(
        f"\n== {status.step.title} (step {status.step_index + 1} of "
        f"{status.total_steps}) ==",
        bold=True,
    )
    if status.view.intro:
        click.echo(status.view.intro)
    if status.redirect_url:
        # First the address, then the question about what it shows.
        click.echo(
            "\nOpen this address in your browser and approve access:\n"
            f"  {status.redirect_url}\n"
        )
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


def _value(
    field: FormField,
    given: Mapping[str, str],
    errors,
    prompt: bool,
    refused: Mapping[str, Any],
) -> Any:
    if field.name in given and field.name not in errors:
        return given[field.name]
    if not prompt:
        if field.required:
            raise click.ClickException(
                f"Setup stopped: {field.label} is required: give it with"
                f" --set {field.name}=VALUE."
            )
        return field.default if field.default is not None else ""
    try:
        return _ask(field, refused.get(field.name))
    except click.Abort:  # end of input: a script without --no-input
        raise click.ClickException(
            f"No answer for {field.label} (the input ended): give it with --set"
            f" {field.name}=VALUE, or run with --no-input to take the defaults."
        ) from None


def _ask(field: FormField, before: Any = None) -> Any:
    """Prompt for ``field``; ``before``: the answer the tracker refused with
    the rest of its step, offered again (never a secret's)."""
    label = field.label + ("" if field.required else " (optional)")
    hidden = field.secret or field.type == "password"
    default = field.default if before is None or hidden else before
    if field.type == "boolean":
        return click.confirm(label, default=default in (True, "true", "y", "on"))
    if field.choices:
        values = [c.value for c in field.choices]
        return click.prompt(
            label, type=click.Choice(values), default=default or values[0]
        )
    if field.type == "textarea" and field.secret:
        path = click.prompt(f"{label}: path to a file", default="", show_default=False)
        return Path(path).expanduser().read_text() if path else ""
    if default not in (None, ""):
        return click.prompt(label, default=default)
    return click.prompt(
        label,
        default="" if not field.required else None,
        show_default=False,
        hide_input=hidden,
    )
