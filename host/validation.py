"""Checking JSON bodies: types, required fields, unknown fields.

Every problem is collected and reported per field at once, so a client fixes
its request in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from host.errors import ValidationError

#: What an email address may not hold: @, spaces and control characters,
#: written out rather than as \s, so that the OpenAPI contract's regex
#: dialect (ECMA 262) reads the same pattern the same way.
_NOT_IN_EMAIL = (
    "@\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
EMAIL_PATTERN = f"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\\.[^{_NOT_IN_EMAIL}]+$"
EMAIL = re.compile(EMAIL_PATTERN)
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")

TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", list: "a list"}


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = False
    nullable: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()


def check(data: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Return ``data`` if it matches ``fields``; else raise ValidationError."""
    if not isinstance(data, dict):
        raise ValidationError({}, "Request body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in data.keys() - fields.keys():
        errors[name] = ["Unknown field."]
    for name, spec in fields.items():
        if name not in data:
            if spec.required:
                errors[name] = ["This field is required."]
            continue
        if int in _kinds(spec) and (number := whole_number(data[name])) is not None:
            data[name] = number
        message = _problem(data[name], spec)
        if message:
            errors[name] = [message]
    if errors:
        raise ValidationError(errors)
    return data


def whole_number(value: Any) -> int | None:
    """``value`` as an integer if it is one: JSON does not tell ``3`` from
    ``3.0`` (JSON Schema's ``integer`` takes both), so neither does the
    host; ``True`` is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _kinds(spec: Field) -> tuple[type, ...]:
    return spec.type if isinstance(spec.type, tuple) else (spec.type,)


def _problem(value: Any, spec: Field) -> str | None:
    if value is None:
        return None if spec.nullable else "This field may not be null."
    kinds = _kinds(spec)
    # bool is an int in Python; JSON true is not an integer.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        return f"Must be {' or '.join(TYPE_NAMES.get(k, k.__name__) for k in kinds)}."
    if isinstance(value, str):
        if spec.required and not value.strip():
            return "This field may not be blank."
        if spec.max_length and len(value) > spec.max_length:
            return f"Ensure this field has no more than {spec.max_length} characters."
        if spec.choices and value not in spec.choices:
            return f"Must be one of: {', '.join(spec.choices)}."
    return None


def email(value: str, field: str = "email") -> str:
    value = value.strip()
    if not EMAIL.match(value):
        raise ValidationError({field: ["Enter a valid email address."]})
    return value


def slug(value: str, field: str = "slug") -> str:
    if not SLUG.match(value):
        raise ValidationError(
            {
                field: [
                    "Use 1-50 lowercase letters, digits and hyphens,"
                    " starting and ending with a letter or digit."
                ]
            }
        )
    return value


_DURATION = re.compile(r"(\d{1,6})\s*([dhm])")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60}


def duration(value: str, field: str = "duration") -> float:
    """``90d``, ``12h`` or ``30m`` in seconds.

    :raises ValidationError: anything else, or a zero duration.
    """
    found = _DURATION.fullmatch(value.strip().lower())
    if not found or int(found[1]) == 0:
        raise ValidationError(
            {field: ["A duration like 90d (days), 12h (hours) or 30m (minutes)."]}
        )
    return int(found[1]) * _UNIT_SECONDS[found[2]]
