"""Validating an organization's Jira Server settings.

The host owns the on/off sync toggles; this module checks the rest against
Jira itself, so a mapping can only name statuses the project really has
(Sentry checks names against one global list, which lets a typo through).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from host.errors import IntegrationError, ValidationError
from host.types import Choice, FormField
from plugins.jira_core import metadata
from plugins.jira_core.client import JiraError

RESOLUTION_STRATEGIES = ("resolve", "resolve_current_release", "resolve_next_release")
INBOUND_STATUS_MAPPING = "sync_status_reverse_mapping"


def validate(host, integration, config: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned settings; every problem is a per-field error.

    :raises ValidationError: a value is wrong, or a key is not a setting.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in config.items():
        check = CHECKS.get(key)
        if check is None:
            errors[key] = ["Unknown field."]
            continue
        try:
            cleaned[key] = check(host, integration, value)
        except ValueError as ex:
            errors[key] = [str(ex)]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _resolution_strategy(host, integration, value: Any) -> str:
    if value not in RESOLUTION_STRATEGIES:
        raise ValueError(f"Must be one of: {', '.join(RESOLUTION_STRATEGIES)}.")
    return value


def _inbound_status_mapping(host, integration, value: Any) -> dict[str, Any]:
    """``{project id or key: {"resolve": [ids], "unresolve": [ids]}}``.

    Projects are stored by id (keys can be renamed); every status id must be
    one of that project's statuses.
    """
    if not isinstance(value, dict):
        raise ValueError("Must be an object of Jira project → status ids.")
    cleaned: dict[str, Any] = {}
    for project_ref, rule in value.items():
        if not isinstance(rule, dict) or set(rule) - {"resolve", "unresolve"}:
            raise ValueError(
                f'{project_ref}: must be {{"resolve": [ids], "unresolve": [ids]}}.'
            )
        lists = {name: _ids(project_ref, name, rule.get(name)) for name in rule}
        resolve, unresolve = lists.get("resolve", []), lists.get("unresolve", [])
        if not resolve and not unresolve:
            raise ValueError(f"{project_ref}: name at least one status.")
        if both := sorted(set(resolve) & set(unresolve)):
            raise ValueError(
                f"{project_ref}: status {', '.join(both)} cannot both resolve "
                "and unresolve."
            )
        project_id = _check_statuses(
            host, integration, project_ref, resolve + unresolve
        )
        cleaned[project_id] = {"resolve": resolve, "unresolve": unresolve}
    return cleaned


def _check_statuses(host, integration, project_ref, ids: list[str]) -> str:
    """The project's id, once every status id is known to be one of its own."""
    project_id, known = _project_statuses(host, integration, str(project_ref))
    if unknown := [i for i in ids if i not in known]:
        raise ValueError(
            f"{project_ref}: no status {', '.join(unknown)} in this project "
            f"(it has {', '.join(f'{i} {n}' for i, n in known.items())})."
        )
    return project_id


def _ids(project_ref: str, name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{project_ref}.{name}: must be a list of status ids.")
    return [str(v) for v in value]


def _project_statuses(host, integration, project_ref: str) -> tuple[str, dict]:
    """The project's id and ``{status id: name}``, or a message for the user."""
    try:
        return metadata.project_statuses(host, integration, project_ref)
    except JiraError as ex:
        if ex.http_status == 404:
            raise ValueError(f"{project_ref}: no such Jira project.") from None
        raise IntegrationError(
            f"Unable to communicate with the Jira instance to check the statuses: {ex}"
        ) from None


def _outbound_status_mapping(host, integration, value: Any) -> dict[str, Any]:
    """``{project id or key: {"on_resolve": id, "on_unresolve": id}}``."""
    if not isinstance(value, dict):
        raise ValueError("Must be an object of Jira project → statuses.")
    cleaned: dict[str, Any] = {}
    for project_ref, rule in value.items():
        if not isinstance(rule, dict) or set(rule) - {"on_resolve", "on_unresolve"}:
            raise ValueError(
                f'{project_ref}: must be {{"on_resolve": id, "on_unresolve": id}}.'
            )
        statuses = {k: _text_id(rule.get(k)) for k in ("on_resolve", "on_unresolve")}
        if not all(statuses.values()):
            raise ValueError(
                f"{project_ref}: Resolve and unresolve status are required."
            )
        project_id = _check_statuses(
            host, integration, project_ref, list(statuses.values())
        )
        cleaned[project_id] = statuses
    return cleaned


def _text_id(value: Any) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def _user_mappings(host, integration, value: Any) -> dict[str, str]:
    """``{member email: Jira user name}``, tried before matching by email.

    The settings page sends it as text, one ``email = name`` per line.
    """
    if isinstance(value, str):
        value = _pairs(value)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("Must be an object of member email → Jira user name.")
    if bad := [k for k in value if "@" not in k]:
        raise ValueError(f"Not an email: {', '.join(bad)}.")
    return {k.strip().lower(): v.strip() for k, v in value.items() if v.strip()}


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        email, sep, name = line.partition("=")
        if not sep or not email.strip() or not name.strip():
            raise ValueError(f"Line {number}: write member@example.com = jira.name.")
        pairs[email.strip()] = name.strip()
    return pairs


def _ignored_fields(host, integration, value: Any) -> list[str]:
    """Jira field ids hidden from the create form (text or a list)."""
    if isinstance(value, str):
        value = re.split(r"[,\n\r]+", value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("Must be comma-separated Jira field ids.")
    return [v.strip() for v in value if v.strip()]


CHECKS = {
    "resolution_strategy": _resolution_strategy,
    INBOUND_STATUS_MAPPING: _inbound_status_mapping,
    "sync_status_forward_mapping": _outbound_status_mapping,
    "user_mappings": _user_mappings,
    "issues_ignored_fields": _ignored_fields,
}


def fields() -> list[FormField]:
    """The settings form's Jira fields (the host adds its sync toggles)."""
    return [
        FormField(
            name="sync_status_forward_mapping",
            label="Jira status to move an issue to",
            type="mapping",
            columns=(
                Choice(value="on_resolve", label="When resolved"),
                Choice(value="on_unresolve", label="When unresolved"),
            ),
            help="Per Jira project, when sending resolve / unresolve is on.",
        ),
        FormField(
            name=INBOUND_STATUS_MAPPING,
            label="Jira statuses that resolve or unresolve a group",
            type="mapping",
            multiple=True,
            columns=(
                Choice(value="resolve", label="Resolve"),
                Choice(value="unresolve", label="Unresolve"),
            ),
            help="Per Jira project; other projects resolve on Jira's Done category.",
        ),
        FormField(
            name="resolution_strategy",
            label="Resolve as",
            type="select",
            choices=tuple(
                Choice(value=value, label=label)
                for value, label in zip(
                    RESOLUTION_STRATEGIES,
                    (
                        "Resolve",
                        "Resolve in current release",
                        "Resolve in next release",
                    ),
                    strict=True,
                )
            ),
            default="resolve",
        ),
        FormField(
            name="user_mappings",
            label="Members and their Jira users",
            type="textarea",
            placeholder="ann@example.com = ann.k",
            help="One per line; tried before matching by email.",
        ),
        FormField(
            name="issues_ignored_fields",
            label="Ignored fields",
            type="textarea",
            placeholder="components, security, customfield_10006",
            help="Comma-separated Jira field ids to hide from the create form"
            " (required fields are always shown).",
        ),
    ]
