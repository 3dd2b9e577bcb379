"""The host API's OpenAPI 3.1 contract, served at ``/api/0/openapi.json``.

Kept beside the code it describes (:mod:`.operations`, :mod:`.schemas`)
and checked against it by ``tests/test_openapi.py``: every route the app
serves is in it, and the answers the suite and schemathesis get match it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from host.api.openapi.operations import PAGES, ROUTES
from host.api.openapi.schemas import ID, SCHEMAS
from host.api.requests import PUBLIC_DOCUMENT
from host.errors import ValidationError

__all__ = [
    "PAGES",
    "ROUTES",
    "OpenApiDocument",
    "QueryCheck",
    "document",
    "path_of",
    "query_names",
]

PATH = PUBLIC_DOCUMENT
_PARAMETER = re.compile(r"{(\w+)(?::(\w+))?}")


def path_of(template: str) -> str:
    """``/groups/{group_id:id}`` (Falcon's template) → ``/groups/{group_id}``."""
    return _PARAMETER.sub(lambda m: "{" + m.group(1) + "}", template)


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trackbridge",
            "version": _version(),
            "description": "Keep an application's issues in two-way sync with"
            " issue trackers. Every route under /api/0/organizations/{slug}"
            " takes an organization's token (Authorization: Bearer ...); a"
            " slug that is not the token's is a 404. Every JSON body is at"
            " most [host] max_body_bytes, nested at most [host] max_json_depth"
            " deep, with integers within 64 bits; a provider's forms (setup"
            " steps, settings, the create form) are described by the form"
            " endpoints, not here.",
        },
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": {
            path_of(template): {
                "parameters": _path_parameters(template),
                **methods,
            }
            if "{" in template
            else methods
            for template, methods in ROUTES.items()
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An organization's API token"
                    " (``trackbridge token create``).",
                }
            },
        },
    }


def _version() -> str:
    try:
        return version("trackbridge")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


def _path_parameters(template: str) -> list[dict]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ID if converter == "id" else {"type": "string", "minLength": 1},
        }
        for name, converter in _PARAMETER.findall(template)
    ]


def query_names(template: str, method: str) -> frozenset[str] | None:
    """The query parameters the contract names for that operation; None
    when it takes any (a form's values) or the contract does not describe it."""
    operation = ROUTES.get(template, {}).get(method.lower())
    if operation is None:
        return None
    query = [p for p in operation.get("parameters", ()) if p["in"] == "query"]
    if any(p["schema"].get("type") == "object" for p in query):
        return None
    return frozenset(p["name"] for p in query)


class QueryCheck:
    """Middleware: an API request with a query parameter its operation does
    not take is a 400 naming it (``?staus=resolved`` would otherwise list
    every group, silently unfiltered)."""

    def process_resource(self, req, resp, resource, params) -> None:
        if not req.path.startswith("/api/") or not req.params:
            return
        allowed = query_names(req.uri_template or "", req.method)
        unknown = sorted(set(req.params) - allowed) if allowed is not None else []
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise ValidationError(
                {name: ["Unknown query parameter."] for name in unknown},
                f"Unknown query parameter(s): {', '.join(unknown)}"
                f" (this endpoint takes: {takes}).",
            )


@cache
def document_text() -> str:
    """The contract as served: written once per process, on its first
    request (indented JSON is Python's slow encoder: 60 ms, which every app
    made paid at its creation)."""
    return json.dumps(document(), indent=1)


class OpenApiDocument:
    """``GET /api/0/openapi.json``: the contract (public: no token, the
    same for every organization)."""

    def on_get(self, req, resp):
        resp.text = document_text()
        resp.content_type = "application/json"
