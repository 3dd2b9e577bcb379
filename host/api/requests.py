"""Reading requests safely: size limits, JSON, the caller's organization."""

from __future__ import annotations

import json
from typing import Any

import falcon

from host.errors import (
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
)
from host.types import Organization


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (declared or sent)."""
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    body = req.bounded_stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    return body


def read_json(req: falcon.Request, limit: int) -> Any:
    """The body parsed as JSON; 415 for another media type, 400 if malformed."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json.")
    body = read_body(req, limit)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise ValidationError({}, f"Malformed JSON: {ex}") from None


def organization(req: falcon.Request, slug: str) -> Organization:
    """The token's organization, if ``slug`` names it; else 404 (never 403)."""
    current: Organization | None = req.context.organization
    if current is None:
        raise NotAuthenticated("Authentication required.")
    if current.slug != slug:
        raise NotFound(f"Organization {slug!r} not found.")
    return current


def int_param(req: falcon.Request, name: str, default: int, maximum: int) -> int:
    raw = req.get_param(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["Must be an integer."]}) from None
    if not 0 <= value <= maximum:
        raise ValidationError({name: [f"Must be between 0 and {maximum}."]})
    return value


class TokenAuth:
    """Middleware: ``Authorization: Bearer <token>`` names the organization.

    Only ``/api/`` paths require it; webhooks authenticate through their
    provider and ``/healthz`` is public.
    """

    def __init__(self, host) -> None:
        self.host = host

    def process_resource(self, req, resp, resource, params) -> None:
        # After routing (not before), so a refused request is still counted
        # under its route; a path no route matches is a 404 either way.
        req.context.organization = None
        req.context.token_id = None
        if not req.path.startswith("/api/"):
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "Authentication required: Authorization: Bearer <token>."
            )
        organization, token_id = self.host.organizations.authenticate(token.strip())
        req.context.organization = organization
        req.context.token_id = token_id
