"""The fake Jira's create side: projects, create metadata and new issues.

Handlers take ``(h, jira, rest)`` after :mod:`tests.fake_jira` checked the
caller; they answer as Jira DC does, including its 400 ``errors`` map for a
create it refuses (required field missing, field not on the screen, value
not allowed, unknown user).
"""

from __future__ import annotations

import json

USER_URL = "/rest/api/1.0/users/picker?fieldName="
SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"
EPIC_LINK = "com.pyxis.greenhopper.jira:gh-epic-link"
_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"

PRIORITIES = [
    {"id": str(i), "name": name}
    for i, name in enumerate(["Highest", "High", "Medium", "Low", "Lowest"], 1)
]


def _meta(field_id, name, schema, required=False, **extra):
    return {
        "fieldId": field_id,
        "name": name,
        "required": required,
        "schema": schema,
        **extra,
    }


def _values(*names, key="name", start=10000):
    return [{"id": str(start + i), key: n} for i, n in enumerate(names)]


def task_fields() -> list[dict]:
    """A Task's create screen: one field of each kind the form maps."""
    return [
        _meta("summary", "Summary", {"type": "string", "system": "summary"}, True),
        _meta("issuetype", "Issue Type", {"type": "issuetype"}, True),
        _meta("project", "Project", {"type": "project"}, True),
        _meta("description", "Description", {"type": "string"}),
        _meta(
            "reporter",
            "Reporter",
            {"type": "user"},
            True,
            autoCompleteUrl=f"{USER_URL}reporter",
        ),
        _meta("assignee", "Assignee", {"type": "user"}, autoCompleteUrl=USER_URL),
        # The project's priority scheme: three of the five priorities.
        _meta(
            "priority", "Priority", {"type": "priority"}, allowedValues=PRIORITIES[1:4]
        ),
        _meta("labels", "Labels", {"type": "array", "items": "string"}),
        _meta(
            "fixVersions",
            "Fix Version/s",
            {"type": "array", "items": "version"},
            allowedValues=_values("1.0", "1.1"),
        ),
        _meta(
            "components",
            "Component/s",
            {"type": "array", "items": "component"},
            allowedValues=_values("backend", "frontend", start=10100),
        ),
        _meta(
            "customfield_10100",
            "Sprint",
            {"type": "array", "items": "string", "custom": SPRINT},
        ),
        _meta("customfield_10101", "Epic Link", {"type": "any", "custom": EPIC_LINK}),
        _meta(
            "customfield_10200",
            "Mood",
            {"type": "option", "custom": f"{_CUSTOM}select"},
            allowedValues=[{"id": "10300", "value": "sad"}, {"value": "happy"}],
        ),
        _meta(
            "customfield_10201",
            "Reactions",
            {"type": "array", "items": "option", "custom": f"{_CUSTOM}multiselect"},
            allowedValues=[{"value": "wow"}, {"value": "devil"}],
        ),
        _meta(
            "customfield_10202",
            "Story Points",
            {"type": "number", "custom": f"{_CUSTOM}float"},
        ),
        _meta(
            "customfield_10203",
            "Notes",
            {"type": "string", "custom": f"{_CUSTOM}textarea"},
        ),
        _meta("duedate", "Due Date", {"type": "date"}),
        _meta("environment", "Environment", {"type": "string"}),
        _meta("timetracking", "Time tracking", {"type": "timetracking"}),
        _meta("attachment", "Attachment", {"type": "array", "items": "attachment"}),
        _meta("issuelinks", "Linked Issues", {"type": "array", "items": "issuelinks"}),
    ]


def bug_fields() -> list[dict]:
    """A Bug's screen: a Task's, plus a required "Root cause" text area."""
    return [
        *task_fields(),
        _meta(
            "customfield_10204",
            "Root cause",
            {"type": "string", "custom": f"{_CUSTOM}textarea"},
            True,
        ),
    ]


def add_project(jira, key: str, project_id: str, name: str, *, statuses=None):
    """A project with Task (10002) and Bug (10004) create screens."""
    jira.state.projects[key] = {
        "id": project_id,
        "key": key,
        "name": name,
        "statuses": list(statuses or ("1", "3", "5")),
        "issue_types": {
            "10002": {"id": "10002", "name": "Task", "fields": task_fields()},
            "10004": {"id": "10004", "name": "Bug", "fields": bug_fields()},
        },
    }
    return jira.state.projects[key]


def find_project(jira, id_or_key: str) -> dict | None:
    return next(
        (p for p in jira.state.projects.values() if id_or_key in (p["id"], p["key"])),
        None,
    )


def _public(project: dict) -> dict:
    return {k: project[k] for k in ("id", "key", "name")}


# ---- endpoints ----


def projects(h, jira):
    h._json(200, [_public(p) for p in jira.state.projects.values()])


def priorities(h, jira):
    h._json(200, PRIORITIES)


def createmeta(h, jira, rest):
    """``issue/createmeta/{project}/issuetypes[/{id}]``, paginated."""
    parts = rest.split("/")
    project = find_project(jira, parts[0])
    if jira.state.legacy_createmeta or len(parts) not in (2, 3) or project is None:
        return h._json(404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}})
    types = project["issue_types"]
    if len(parts) == 2:
        values = [{"id": t["id"], "name": t["name"]} for t in types.values()]
    elif parts[2] in types:
        values = types[parts[2]]["fields"]
    else:
        return h._json(404, {"errorMessages": ["Issue type not found"], "errors": {}})
    start = int(h.query.get("startAt", 0))
    size = int(h.query.get("maxResults", jira.state.createmeta_page_size))
    page = values[start : start + size]
    h._json(
        200,
        {
            "maxResults": size,
            "startAt": start,
            "total": len(values),
            "isLast": start + size >= len(values),
            "values": page,
        },
    )


def legacy_createmeta(h, jira):
    """Jira before 8.4: every type of the asked projects, fields expanded."""
    if not jira.state.legacy_createmeta:
        return h._json(404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}})
    wanted = h.query.get("projectIds", "").split(",")
    found = [p for p in jira.state.projects.values() if p["id"] in wanted]
    h._json(
        200,
        {
            "projects": [
                {
                    **_public(p),
                    "issuetypes": [
                        {
                            "id": t["id"],
                            "name": t["name"],
                            "fields": {
                                f["fieldId"]: {
                                    k: v for k, v in f.items() if k != "fieldId"
                                }
                                for f in t["fields"]
                            },
                        }
                        for t in p["issue_types"].values()
                    ],
                }
                for p in found
            ]
        },
    )


def versions(h, jira, project):
    h._json(200, jira.state.versions.get(project["key"], []))


def suggestions(h, jira):
    """JQL autocomplete: the values whose text contains ``fieldValue``."""
    typed = h.query.get("fieldValue", "").lower()
    values = jira.state.suggestions.get(h.query.get("fieldName", ""), [])
    h._json(
        200,
        {
            "results": [
                {
                    "value": v["value"],
                    "displayName": v["label"].replace(typed, f"<b>{typed}</b>"),
                }
                for v in values
                if typed in v["label"].lower()
            ]
        },
    )


def create_issue(h, jira):
    body = json.loads(h.body or b"{}")
    fields = body.get("fields") or {}
    project = find_project(jira, str((fields.get("project") or {}).get("id", "")))
    if project is None:
        return _refuse(h, {"project": "valid project is required"})
    issue_type = project["issue_types"].get(
        str((fields.get("issuetype") or {}).get("id", ""))
    )
    if issue_type is None:
        return _refuse(h, {"issuetype": "valid issue type is required"})
    metas = {m["fieldId"]: m for m in issue_type["fields"]}
    errors = {
        name: f"Field '{name}' cannot be set. It is not on the appropriate screen, "
        "or unknown."
        for name in fields
        if name not in metas
    }
    errors.update(
        {
            name: f"{meta['name']} is required."
            for name, meta in metas.items()
            if meta["required"] and name not in fields and name != "reporter"
        }
    )
    for name, value in fields.items():
        if name in metas and (problem := _check_value(jira, metas[name], value)):
            errors[name] = problem
    if errors:
        return _refuse(h, errors)
    from tests.fake_jira import jira_time  # (fake_jira imports this module)

    number = len(jira.state.issues) + 1
    key = f"{project['key']}-{number}"
    jira.state.issues[key] = {
        "id": str(20000 + number),
        "key": key,
        "fields": {**fields, "project": _public(project), "created": jira_time(),
                   "updated": jira_time()},
        "comments": {},
    }  # fmt: skip
    h._json(
        201,
        {"id": str(20000 + number), "key": key, "self": f"{jira.url}/rest/api/2/{key}"},
    )


def _check_value(jira, meta, value) -> str | None:
    """Jira's message for a value this field refuses, else None."""
    schema = meta["schema"]
    allowed = meta.get("allowedValues")
    if meta["fieldId"] == "summary":
        if not isinstance(value, str) or len(value) > 255:
            return "Summary must be less than 255 characters."
        if "\n" in value:
            return "The summary is invalid because it contains newline characters."
    if schema["type"] == "user":
        names = {u["name"] for u in jira.state.users.values()}
        if not isinstance(value, dict) or value.get("name") not in names:
            return f"User '{(value or {}).get('name')}' does not exist."
    # Jira takes one sprint id for the Sprint field, though its schema says array.
    is_sprint = schema.get("custom") == SPRINT
    if is_sprint and not isinstance(value, int):
        return "Number value expected as the Sprint id."
    if schema["type"] == "array" and not is_sprint and not isinstance(value, list):
        return f"Field '{meta['fieldId']}' expects an array."
    if allowed is not None:
        given = value if isinstance(value, list) else [value]
        ids = {str(a.get("id")) for a in allowed} | {
            str(a.get("value")) for a in allowed
        }
        for item in given:
            ref = item.get("id", item.get("value")) if isinstance(item, dict) else item
            if str(ref) not in ids:
                return f"Specify a valid value for {meta['name']}"
    return None


def _refuse(h, errors: dict) -> None:
    h._json(400, {"errorMessages": [], "errors": errors})
