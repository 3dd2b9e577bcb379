"""Atlassian's Jira DC 10.3 REST spec as a test oracle for our requests.

The fake Jira hands every ``/rest/api/2/...`` request it receives to
:func:`violations`: the method and path must be in the spec, every query
parameter must be one the operation declares, required ones must be there,
and a JSON body must be an object where the spec says so. The spec lives
in ../shared (read in place, never copied); without it nothing is checked,
and ``test_fake_jira`` says so by skipping its oracle test.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

SPEC = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "specs"
    / "jira-software-dc-10.3-openapi.json"
)
#: The spec covers Jira's REST API; OAuth and webhook resources are not in it.
COVERED = "/rest/api/2/"
#: Query parameters Jira documents and accepts that the generated spec omits.
#: ``expand=transitions.fields`` is how a transition's required fields are
#: read (Jira Server REST docs, "Get transitions"); the 10.3 document drops it.
KNOWN_OMISSIONS = {("GET", "/api/2/issue/{issueIdOrKey}/transitions"): {"expand"}}
#: Operations of older Jira the 10.3 document no longer has, with their query
#: parameters. Legacy ``issue/createmeta`` is all Jira before 8.4 offers;
#: trackbridge asks it only after the current endpoint answered 404.
LEGACY_OPERATIONS = {
    ("GET", "/api/2/issue/createmeta"): {"projectIds", "issuetypeIds", "expand"}
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern
    query: dict[str, bool]  # name -> required
    json_object_body: bool


def available() -> bool:
    return SPEC.exists()


@functools.cache
def operations() -> tuple[Operation, ...]:
    spec = json.loads(SPEC.read_text())
    found = []
    for template, item in spec["paths"].items():
        regex = "/".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in template.split("/")
        )
        for method, op in item.items():
            if not isinstance(op, dict) or method == "parameters":
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            found.append(
                Operation(
                    method.upper(),
                    template,
                    re.compile(f"^{regex}$"),
                    {
                        p["name"]: bool(p.get("required"))
                        for p in params
                        if p.get("in") == "query"
                    },
                    schema.get("type") == "object" or "$ref" in schema,
                )
            )
    # Prefer templates with fewer placeholders (more literal) when both match.
    return tuple(sorted(found, key=lambda o: o.template.count("{")))


def violations(method: str, path: str, query: dict, body: bytes) -> list[str]:
    """What is wrong with one request, by the spec (empty when it conforms)."""
    if not available() or not path.startswith(COVERED):
        return []
    api_path = path[len("/rest") :]
    legacy = LEGACY_OPERATIONS.get((method, api_path))
    if legacy is not None:
        return [
            f"{method} {api_path} (legacy): query parameter {name!r} is unknown"
            for name in query
            if name not in legacy
        ]
    op = next(
        (o for o in operations() if o.method == method and o.pattern.match(api_path)),
        None,
    )
    if op is None:
        return [f"{method} {path} is not in the Jira DC 10.3 spec"]
    allowed = op.query.keys() | KNOWN_OMISSIONS.get((method, op.template), set())
    problems = [
        f"{method} {op.template}: query parameter {name!r} is not in the spec"
        for name in query
        if name not in allowed
    ]
    problems += [
        f"{method} {op.template}: required query parameter {name!r} is missing"
        for name, required in op.query.items()
        if required and name not in query
    ]
    if body and op.json_object_body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(f"{method} {op.template}: body must be a JSON object")
    return problems
