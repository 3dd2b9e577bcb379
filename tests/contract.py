"""Every answer the test suite gets, checked against the OpenAPI contract.

:class:`ContractCheck` is a Falcon middleware the suite's test apps carry
(``checked_app``): after each request to a route the contract describes,
it checks that the status is one the contract names for that method, that
a documented body is JSON of the documented schema, and that a body-less
answer (204) has none. Problems are collected, and an autouse fixture
(``tests/conftest.py``) fails the test with them, so any test of any
endpoint is also a test that the contract did not drift.
"""

from __future__ import annotations

import json
from functools import cache

import falcon
import falcon.routing
import jsonschema_rs

from host.api import openapi
from host.app import create_app

ERROR = {"$ref": "#/components/schemas/Error"}


@cache
def _validator(template: str, method: str, status: str):
    """The validator of that answer's schema; None: no body; KeyError: the
    contract does not name that answer."""
    if method == "*405":
        answer = {"content": {"application/json": {"schema": ERROR}}}
    else:
        answer = openapi.ROUTES[template][method]["responses"][status]
    content = answer.get("content")
    if content is None:
        return None
    ((media_type, described),) = content.items()
    root = {**described["schema"], "components": openapi.document()["components"]}
    return media_type, jsonschema_rs.Draft202012Validator(root)


def problems_with(template: str, method: str, status: int, content_type, text):
    """What is wrong with this answer by the contract (empty: nothing)."""
    label = f"{method.upper()} {template} -> {status}"
    if template not in openapi.ROUTES:
        return [f"{label}: the route is not in the contract"]
    if method not in openapi.ROUTES[template]:
        # A method the route does not serve: Falcon's 405, an Error.
        if method == "options":
            return []  # Falcon's own answer: the Allow header, no body
        if status != 405:
            return [f"{label}: the method is not in the contract"]
        return _body_problems(
            label, _validator(template, "*405", "405"), content_type, text
        )
    try:
        found = _validator(template, method, str(status))
    except KeyError:
        return [f"{label}: the contract names no {status} answer here"]
    return _body_problems(label, found, content_type, text)


def _body_problems(label: str, found, content_type, text) -> list[str]:
    if found is None:
        return [f"{label}: has a body, the contract none"] if text else []
    media_type, validator = found
    if not (content_type or "").startswith(media_type):
        return [f"{label}: {content_type!r} is not {media_type}"]
    if media_type != "application/json":
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [f"{label}: the body is not JSON: {text[:200]!r}"]
    return [
        f"{label}: {error.instance_path}: {error.message}"
        for error in validator.iter_errors(data)
    ]


class ContractCheck:
    """Middleware: checks each answer of a described route (see module)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        template = req.uri_template
        if template is None or template in openapi.PAGES:
            return  # no route (a 404 of its own), or a page for people
        if template not in openapi.ROUTES:
            if template.startswith("/extensions/"):
                return  # a plugin's own page
            self.problems.append(f"{req.method} {template}: not in the contract")
            return
        text = resp.text
        if text is None and resp.media is not None:
            text = json.dumps(resp.media)
        if text is None and resp.data is not None:
            text = resp.data.decode()
        self.problems.extend(
            problems_with(
                template,
                req.method.lower(),
                resp.status_code,
                # None: the app's default, set as the body is written.
                resp.content_type or resp.options.default_media_type,
                text or "",
            )
        )


#: The checks of the apps made since the current test began.
_MADE: list[ContractCheck] = []


def checked_app(host) -> falcon.App:
    """The host's app with a :class:`ContractCheck` on every answer; what it
    finds fails the test that made it (see :func:`take_problems`)."""
    app = create_app(host)
    check = ContractCheck()
    app.add_middleware(check)
    _MADE.append(check)
    return app


def take_problems() -> list[str]:
    """What the apps made since the last call found; forget them."""
    problems = dict.fromkeys(p for check in _MADE for p in check.problems)
    _MADE.clear()
    return list(problems)


def served_routes(app: falcon.App) -> dict[str, set[str]]:
    """Route template -> the methods the app has a responder for."""
    found: dict[str, set[str]] = {}

    def walk(nodes):
        for node in nodes:
            if node.resource is not None:
                methods = falcon.routing.map_http_methods(node.resource)
                found[node.uri_template] = {m.lower() for m in methods}
            walk(node.children)

    walk(app._router._roots)
    return found
