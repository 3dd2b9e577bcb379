"""Reading requests safely: size limits, JSON, the caller's organization.

Every body (API, pages, webhooks, replicas) is read by :func:`read_body`,
and every JSON body parsed by :func:`host.jsontext.loads`: one size limit
(``[host] max_body_bytes``), one nesting limit (``[host] max_json_depth``),
one rule for text and integers.
"""

from __future__ import annotations

from typing import Any

import falcon

from host import jsontext
from host.config import Config
from host.errors import (
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
)
from host.types import Organization


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (declared or sent).

    A chunked body (no ``Content-Length``) is read to its end, within the
    same limit; Falcon's bounded stream would read it as empty.
    """
    read = req.context.get("body")
    if read is not None:
        return read  # read before (to fingerprint it, see api.idempotency)
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    chunked = (
        req.content_length is None
        and "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    )
    stream = req.stream if chunked else req.bounded_stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    req.context.body = body
    return body


def read_json(req: falcon.Request, config: Config) -> Any:
    """The body parsed as JSON; 415 for another media type, 400 if it is not
    JSON the host takes (see :mod:`host.jsontext`)."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json.")
    return parse_json(read_body(req, config.max_body_bytes), config)


def parse_json(body: bytes, config: Config) -> Any:
    """``body`` as JSON within the host's limits; 400 with what to fix."""
    try:
        return jsontext.loads(body, max_depth=config.max_json_depth)
    except jsontext.JsonRefused as ex:
        raise ValidationError({}, str(ex)) from None


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


#: The API's contract: the same for every organization, so no token.
PUBLIC_DOCUMENT = "/api/0/openapi.json"


class TokenAuth:
    """Middleware: ``Authorization: Bearer <token>`` names the organization.

    Only ``/api/`` paths require it (but the contract); webhooks
    authenticate through their provider and ``/healthz`` is public.
    """

    def __init__(self, host) -> None:
        self.host = host

    def process_resource(self, req, resp, resource, params) -> None:
        # After routing (not before), so a refused request is still counted
        # under its route; a path no route matches is a 404 either way.
        req.context.organization = None
        req.context.token_id = None
        if not req.path.startswith("/api/") or req.path == PUBLIC_DOCUMENT:
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
