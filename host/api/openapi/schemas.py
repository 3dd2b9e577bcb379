"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the API
takes and answers: one per object, named as :mod:`host.shapes` and
:mod:`host.api.serialize` name the functions that make them.

Objects the host writes are closed (``additionalProperties: false``): a key
added to an answer without a word here fails the contract test, so the
contract cannot drift from the code. Objects a provider or the user fills
(integration config and metadata, form values, event data) stay open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.jsontext import INT_MAX
from host.services.events import TYPES
from host.services.groups import STATUSES
from host.services.inbound import DELIVERY_STATUSES
from host.validation import TYPE_NAMES, Field

#: Text the store can hold (no U+0000), and such text that is not blank.
STORABLE = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
JSON_TYPES = {str: "string", bool: "boolean", int: "integer", list: "array"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(required: Mapping[str, Any], optional: Mapping[str, Any] = ()) -> dict:
    """An object with exactly these keys (the ``optional`` ones may be absent)."""
    return {
        "type": "object",
        "properties": {**required, **dict(optional)},
        "required": list(required),
        "additionalProperties": False,
    }


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def body(fields: Mapping[str, Field], patterns: Mapping[str, str] = {}) -> dict:
    """The schema of a body :func:`host.validation.check` takes with
    ``fields``: the same map, so the two cannot disagree (``patterns``: what
    the responder checks of a text field beyond the map, as an email)."""
    properties = {}
    for name, spec in fields.items():
        kinds = spec.type if isinstance(spec.type, tuple) else (spec.type,)
        assert all(kind in TYPE_NAMES for kind in kinds), kinds
        types = [JSON_TYPES[kind] for kind in kinds]
        schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        if str in kinds:
            if spec.max_length:
                schema["maxLength"] = spec.max_length
            # Text the host stores: no NUL (see host.jsontext); a required
            # field is not blank.
            schema["pattern"] = patterns.get(
                name, NOT_BLANK if spec.required else STORABLE
            )
            if spec.choices:
                schema["enum"] = list(spec.choices)
        if int in kinds:
            schema.update(minimum=-INT_MAX, maximum=INT_MAX)
        properties[name] = nullable(schema) if spec.nullable else schema
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name, spec in fields.items() if spec.required],
        "additionalProperties": False,
    }


ID = {"type": "integer", "minimum": 1, "maximum": INT_MAX}
TEXT = {"type": "string"}
TIME = {"type": "string", "description": "UTC, ISO 8601"}
OPEN = {"type": "object", "description": "Shaped by the provider or the user."}
CHOICE = closed({"value": TEXT, "label": TEXT})
EVENT_TYPE = {"type": "string", "enum": list(TYPES)}

GROUP = {
    "id": ID,
    "title": TEXT,
    "culprit": TEXT,
    "status": {"enum": list(STATUSES)},
    "assignee": nullable(TEXT),
}
GROUP_TIMES = {"created_at": TIME, "updated_at": TIME}
HOOK = {
    "id": ID,
    "url": TEXT,
    "events": array(EVENT_TYPE),
    "active": {"type": "boolean"},
    "failing_since": nullable(TIME),
    "disabled_reason": nullable(TEXT),
    "created_at": TIME,
    "updated_at": TIME,
}

SCHEMAS: dict[str, dict] = {
    "Error": {
        **closed(
            {"detail": TEXT},
            {"errors": {"type": "object", "additionalProperties": array(TEXT)}},
        ),
        "description": "Every 4xx and 5xx: what went wrong; ``errors`` maps"
        " each field (dotted for nested ones) to its problems.",
    },
    "Health": closed({"status": {"enum": ["ok", "unavailable"]}}, {"detail": TEXT}),
    "Received": closed({"received": {"type": "boolean"}}),
    "Organization": closed(
        {"id": ID, "slug": TEXT, "name": TEXT, "region": nullable(TEXT)}
    ),
    "Member": closed({"id": ID, "email": TEXT, "name": TEXT}),
    "Token": closed(
        {
            "id": ID,
            "label": TEXT,
            "prefix": TEXT,
            "created_at": TIME,
            "last_used_at": nullable(TIME),
            "expires_at": nullable(TIME),
        }
    ),
    "Group": closed(GROUP, GROUP_TIMES),
    "GroupDetail": closed(
        {**GROUP, **GROUP_TIMES, "external_issues": array(ref("ExternalIssue"))}
    ),
    "ExternalIssue": closed(
        {
            "id": ID,
            "integration_id": ID,
            "key": TEXT,
            "external_id": TEXT,
            "title": TEXT,
            "description": TEXT,
            "url": TEXT,
        }
    ),
    "Activity": closed(
        {
            "id": ID,
            "type": TEXT,
            "data": {"type": "object"},
            "source": TEXT,
            "source_integration_id": nullable(ID),
            "actor_member_id": nullable(ID),
            "created_at": TIME,
        }
    ),
    "Comment": closed(
        {
            "id": ID,
            "text": TEXT,
            "author": closed({"name": TEXT, "email": nullable(TEXT)}),
            "source": TEXT,
            "source_integration_id": nullable(ID),
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Integration": closed(
        {
            "id": ID,
            "provider": closed({"key": TEXT, "name": TEXT}),
            "external_id": TEXT,
            "name": TEXT,
            "status": TEXT,
            "metadata": OPEN,
            "config": OPEN,
            "organization_status": TEXT,
            "tracker_trouble": nullable({"type": "object"}),
        }
    ),
    "RotatedWebhookSecret": closed(
        {
            "integration": ref("Integration"),
            "message": TEXT,
            "webhook_url": nullable(TEXT),
        }
    ),
    "FormField": {
        "type": "object",
        "required": ["name", "label", "type"],
        "properties": {
            "name": TEXT,
            "label": TEXT,
            "type": TEXT,
            "required": {"type": "boolean"},
            "choices": array(CHOICE),
            "columns": array(CHOICE),
            "search_url": TEXT,
        },
    },
    "Form": closed({"fields": array(ref("FormField"))}),
    "SettingsForm": closed(
        {
            "config": OPEN,
            "fields": array(ref("FormField")),
            "projects": array(CHOICE),
            "statuses": {"type": "object", "additionalProperties": array(CHOICE)},
            "problems": array(TEXT),
        }
    ),
    "Choice": CHOICE,
    "Pipeline": closed(
        {
            "pipeline": TEXT,
            "provider": TEXT,
            "status": {"enum": ["step", "redirect", "complete"]},
            "step_index": {"type": "integer"},
            "total_steps": {"type": "integer"},
        },
        {
            "integration_id": ID,
            "step": closed({"name": TEXT, "title": TEXT}),
            "intro": TEXT,
            "fields": array(ref("FormField")),
            "instructions": array(closed({"label": TEXT, "value": TEXT})),
            "redirect_url": TEXT,
            "data": {"type": "object"},
        },
    ),
    "Delivery": closed(
        {
            "id": ID,
            "integration_id": nullable(ID),
            "provider": TEXT,
            "received_at": TIME,
            "status": {"enum": list(DELIVERY_STATUSES)},
            "error": nullable(TEXT),
            "processed_at": nullable(TIME),
        }
    ),
    "Job": closed(
        {
            "id": ID,
            "kind": TEXT,
            "payload": {"type": "object"},
            "state": TEXT,
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "last_error": nullable(TEXT),
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Event": closed(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9]+$"},
            "type": EVENT_TYPE,
            "time": TIME,
            "organization": closed({"id": ID, "slug": TEXT}),
            "data": {"type": "object"},
        }
    ),
    "EventPage": closed(
        {
            "events": array(ref("Event")),
            "next": {
                "type": "string",
                "description": "The cursor to pass as ``after`` next time.",
            },
            "has_more": {"type": "boolean"},
        }
    ),
    "Hook": closed(HOOK),
    "HookWithSecret": closed({**HOOK, "secret": TEXT}),
    "HookInput": {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "events": array(EVENT_TYPE),
            "active": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Secret": closed({"secret": TEXT}),
    "HookAttempt": closed(
        {
            "id": ID,
            "event_id": {"type": "string", "pattern": "^evt_[0-9]+$"},
            "event_type": EVENT_TYPE,
            "status_code": nullable({"type": "integer"}),
            "error": nullable(TEXT),
            "ok": {"type": "boolean"},
            "at": TIME,
        }
    ),
    "Rule": closed(
        {
            "id": ID,
            "integration_id": ID,
            "when": ref("RuleCondition"),
            "fields": OPEN,
            "active": {"type": "boolean"},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "RuleCondition": {
        **closed(
            {"event": {"enum": ["group.created"]}},
            {
                "title_matches": nullable({"type": "string", "minLength": 1}),
                "culprit_matches": nullable({"type": "string", "minLength": 1}),
            },
        ),
        "description": "Shell patterns (``*KeyError*``), matched without case.",
    },
    "RuleInput": {
        "type": "object",
        "properties": {
            "integration_id": ID,
            "when": ref("RuleCondition"),
            "fields": OPEN,
            "active": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
}
