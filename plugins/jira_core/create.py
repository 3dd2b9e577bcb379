"""Creating a Jira issue from a group: the form, and the submit.

The form follows Jira's create metadata for the chosen project and issue
type, mapped to form fields as Sentry's Jira Server integration maps them
(reference §4.4), with what its users asked for on top: a required field of
a type we do not know is shown as text instead of dropped, priorities and
versions come from the field's own allowed values (the project's scheme)
when Jira lists them, a required field is never hidden, and Jira's field
errors come back against the form's fields.
"""

from __future__ import annotations

import re
from typing import Any

from host.errors import IntegrationError, ValidationError
from host.types import Choice, FormField, Group, TrackerIssue
from plugins.jira_core import dialect, metadata
from plugins.jira_core.client import JiraError, dicts
from plugins.jira_core.issues import browse_url

#: Fields the form builds itself, whatever the metadata says.
OWN_FIELDS = {"project", "issuetype", "summary", "description"}
#: Fields that cannot be filled from a form.
NEVER_SHOWN = {"issuelinks", "attachment", "worklog"}
#: Display order: these first, then every other field by id.
FIRST = {"priority": -150, "fixVersions": -125, "components": -100, "security": -50}
#: Create-form choices the host remembers per organization.
REMEMBERED = ("project", "issuetype", "priority", "labels")
#: Jira's summary limit.
SUMMARY_MAX = 255

_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
SELECT = f"{_CUSTOM}select"
TEXTAREA = f"{_CUSTOM}textarea"
SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"
EPIC_LINK = "com.pyxis.greenhopper.jira:gh-epic-link"

NO_PROJECTS = (
    "Could not fetch the project list from Jira. Check that Jira is available"
    " and that trackbridge's Jira user is still active and can browse projects."
)
NO_METADATA = (
    "Could not fetch issue creation metadata from Jira. Check that"
    " trackbridge's Jira user can create issues in this project"
)


# ---- the form ----


def form(host, integration, org_integration, group: Group, params) -> list[FormField]:
    """Project, title, description, issue type, then the type's own fields."""
    defaults = org_integration.create_defaults
    try:
        projects = metadata.projects(host, integration)
    except JiraError as ex:
        raise IntegrationError(f"{NO_PROJECTS} ({ex})") from None
    if not projects:
        raise IntegrationError(NO_PROJECTS)
    by_key = {p["key"]: p["id"] for p in projects}
    project_id = _pick(
        [p["id"] for p in projects],
        *(by_key.get(v, v) for v in (params.get("project"), defaults.get("project"))),
    )
    fields = [
        FormField(
            name="project",
            label="Jira project",
            type="select",
            required=True,
            choices=tuple(
                Choice(value=p["id"], label=metadata.project_label(p)) for p in projects
            ),
            default=project_id,
            updates_form=True,
            search="project",
        ),
        FormField(name="title", label="Title", required=True, default=group.title),
        FormField(
            name="description",
            label="Description",
            type="textarea",
            default=default_description(host, integration, group),
            help="A link back to this group is always kept.",
        ),
    ]
    try:
        types = metadata.issue_types(host, integration, project_id)
        issue_type_id = _pick(
            [str(t["id"]) for t in types],
            params.get("issuetype"),
            defaults.get("issuetype"),
        )
        metas = (
            metadata.issue_type_fields(host, integration, project_id, issue_type_id)
            if issue_type_id
            else []
        )
    except JiraError as ex:
        return [fields[0], _notice(f"{NO_METADATA}: {ex}")]
    if not types:
        return [fields[0], _notice(f"{NO_METADATA}: it has no issue types.")]
    fields.append(
        FormField(
            name="issuetype",
            label="Issue type",
            type="select",
            required=True,
            choices=tuple(Choice(value=str(t["id"]), label=t["name"]) for t in types),
            default=issue_type_id,
            updates_form=True,
        )
    )
    hidden = set(org_integration.config.get("issues_ignored_fields") or ())
    shown = [
        meta
        for meta in metas
        if meta["fieldId"] not in OWN_FIELDS | NEVER_SHOWN
        and (meta["fieldId"] not in hidden or meta.get("required"))
    ]
    shown.sort(key=lambda m: (FIRST.get(m["fieldId"], 0), m["fieldId"]))
    for meta in shown:
        field = _field(host, integration, project_id, meta, defaults)
        if field is not None:
            fields.append(field)
    return fields


def _pick(known: list[str], *wanted: Any) -> str | None:
    """The first wanted value that is known, else the first known."""
    for value in wanted:
        if value is not None and str(value) in known:
            return str(value)
    return known[0] if known else None


def _notice(text: str) -> FormField:
    return FormField(name="error", label="Cannot create here", type="notice", help=text)


def _field(host, integration, project_id, meta, defaults) -> FormField | None:
    """One create-metadata field as a form field (None: cannot be filled)."""
    schema = meta.get("schema") or {}
    kind, items, custom = schema.get("type"), schema.get("items"), schema.get("custom")
    field_id = meta["fieldId"]
    allowed = meta.get("allowedValues")
    base: dict[str, Any] = {
        "name": field_id,
        "label": meta.get("name") or field_id,
        "required": bool(meta.get("required")),
    }
    if items in ("worklog", "attachment"):
        return None
    if kind == "timetracking":
        return FormField(
            **base, placeholder="2d 4h", help="Original estimate, as Jira writes it."
        )
    if field_id == "priority":
        values = allowed or metadata.priorities(host, integration)
        return FormField(
            **base,
            type="select",
            choices=_choices(values),
            default=defaults.get("priority") or "",
        )
    if field_id in ("fixVersions", "versions") and allowed is None:
        allowed = metadata.versions(host, integration, project_id)
    if kind == "user" or items == "user" or custom in (SPRINT, EPIC_LINK):
        return FormField(
            **base,
            type="select",
            search=field_id,
            multiple=kind == "array" and custom != SPRINT,
        )
    if field_id == "labels" or (kind == "array" and items == "string"):
        return FormField(
            **base,
            help="Comma-separated.",
            default=(defaults.get("labels") or "") if field_id == "labels" else "",
        )
    if kind == "issuelink" or field_id == "parent":
        return FormField(**base, type="select", search="parent")
    if kind in ("priority", "securitylevel", "option", "array") or custom == SELECT:
        if allowed is None:
            return FormField(
                **base, type="select", search=field_id, multiple=kind == "array"
            )
        return FormField(
            **base,
            type="select",
            choices=_choices(allowed),
            multiple=kind == "array",
            default="",
        )
    if custom == TEXTAREA:
        return FormField(**base, type="textarea")
    if kind == "number":
        return FormField(**base, type="number")
    if kind in ("date", "datetime"):
        return FormField(
            **base, placeholder="2026-01-31" if kind == "date" else "2026-01-31T09:00"
        )
    return FormField(**base)


def _choices(values) -> tuple[Choice, ...]:
    """Jira's allowed values as choices: by id, else by value, else by label."""
    choices = []
    for item in values or []:
        if not isinstance(item, dict):
            continue
        if "name" in item and "id" in item:
            choices.append(Choice(value=str(item["id"]), label=str(item["name"])))
        elif "value" in item:
            choices.append(Choice(value=str(item["value"]), label=str(item["value"])))
        elif "label" in item:
            choices.append(Choice(value=str(item["label"]), label=str(item["label"])))
    return tuple(choices)


def default_description(host, integration, group: Group) -> str:
    text = backlink(host, integration, group)
    if group.culprit:
        if dialect.of(integration).wiki:
            text += f"\n\n{{code}}\n{group.culprit}\n{{code}}"
        else:
            text += f"\n\n{group.culprit}"
    return text


def backlink(host, integration, group: Group) -> str:
    """A link back to the group: wiki markup on Server (the id keeps it
    unbroken), plain text on Cloud (whose ADF turns the URL into a link)."""
    if dialect.of(integration).wiki:
        return f"trackbridge group: [#{group.id}|{host.group_url(group)}]"
    return f"trackbridge group #{group.id}: {host.group_url(group)}"


# ---- the submit ----


def create(host, integration, org_integration, group: Group, data) -> TrackerIssue:
    """``POST /rest/api/{2,3}/issue`` from the submitted form.

    :raises ValidationError: a field is missing or wrong, here or in Jira.
    """
    project_id = _text(data.get("project"))
    issue_type_id = _text(data.get("issuetype"))
    title = " ".join(_text(data.get("title")).split())
    errors = {
        name: [message]
        for name, value, message in (
            ("project", project_id, "Jira project is required."),
            ("issuetype", issue_type_id, "Issue type is required."),
            ("title", title, "Title is required."),
        )
        if not value
    }
    if errors:
        raise ValidationError(errors)
    try:
        metas = metadata.issue_type_fields(host, integration, project_id, issue_type_id)
    except JiraError as ex:
        if ex.http_status in (400, 404):
            raise ValidationError(
                {"issuetype": ["Jira has no such issue type in this project."]}
            ) from None
        raise
    summary = title[:SUMMARY_MAX]
    description = _text(data.get("description"))
    link = backlink(host, integration, group)
    if host.group_url(group) not in description:
        description = f"{description}\n\n{link}" if description else link
    fields: dict[str, Any] = {
        "project": {"id": project_id},
        "issuetype": {"id": issue_type_id},
        "summary": summary,
        "description": description,
    }
    for meta in metas:
        field_id = meta["fieldId"]
        value = data.get(field_id)
        if field_id in OWN_FIELDS or value in (None, "", []):
            continue
        try:
            fields[field_id] = _value(meta, value, dialect.of(integration).user_field)
        except ValueError as ex:
            errors[field_id] = [str(ex)]
    if errors:
        raise ValidationError(errors)
    speaks = dialect.of(integration)
    client = speaks.client(host, integration)
    sent = {**fields, "description": speaks.text_body(fields["description"])}
    try:
        created = client.request(
            "POST", speaks.api + "/issue", json_body={"fields": sent}
        )
    except JiraError as ex:
        found = (
            _created_meanwhile(speaks, client, project_id, host.group_url(group))
            if ex.kind == "timeout"
            else None
        )
        if found is not None:
            created = found
        elif ex.http_status == 400 and ex.errors:
            raise ValidationError(
                {
                    ("title" if name == "summary" else name): [message]
                    for name, message in ex.errors.items()
                },
                f"Jira refused the issue: {ex.jira_message}",
            ) from None
        else:
            raise
    key = created.get("key")
    if not isinstance(key, str) or not key:
        raise IntegrationError("Jira answered without the new issue's key.")
    return TrackerIssue(
        key=key,
        external_id=str(created["id"])
        if isinstance(created.get("id"), str | int) and created["id"] != ""
        else None,
        title=summary,
        description=description,
        url=browse_url(integration, key),
    )


#: How far back a create whose answer was lost is looked for.
LOST_CREATE_MINUTES = 15


def _created_meanwhile(speaks, client, project_id: str, group_url: str) -> dict | None:
    """The issue a create whose answer was lost (a timeout) made anyway:
    the project's newest issue whose description links back to the group.
    ``None`` when there is none, or Jira cannot be asked either (then the
    create failed, as far as anyone can tell)."""
    try:
        found = client.request(
            "GET",
            speaks.search_path,
            params={
                "jql": f"project = {int(project_id)} AND created >="
                f" -{LOST_CREATE_MINUTES}m ORDER BY created DESC",
                "fields": "description",
                "maxResults": 50,
            },
        )
    except (JiraError, ValueError):
        return None
    ours = re.compile(re.escape(group_url) + r"(?!\d)")  # not group 50 for 5
    for issue in dicts(found.get("issues")):
        description = speaks.body_text(_dict(issue.get("fields")).get("description"))
        if ours.search(description) and issue.get("key") and issue.get("id"):
            return {"id": issue["id"], "key": issue["key"]}
    return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int) else ""


def _many(value: Any) -> list[str]:
    """A list from a list or a comma-separated string; blanks dropped."""
    parts = value if isinstance(value, list) else str(value).split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def _value(meta, value: Any, user_field: str = "name") -> Any:
    """The JSON Jira expects for one field, by its schema.

    :raises ValueError: the value cannot be that field's (message for users).
    """
    schema = meta.get("schema") or {}
    kind, items, custom = schema.get("type"), schema.get("items"), schema.get("custom")
    if custom == SPRINT:
        text = _text(value)
        if not re.fullmatch(r"\d+", text):
            raise ValueError(f"Invalid sprint ({value}) specified.")
        return int(text)
    if kind == "array":
        values = _many(value)
        if items == "string":
            return values
        if items == "user":
            return [{user_field: v} for v in values]
        if items == "option":
            return [{"value": v} for v in values]
        return [{"id": v} for v in values]
    if isinstance(value, list | dict):
        raise ValueError("Expected one value.")
    text = str(value).strip()
    if kind == "user":
        return {user_field: text}
    if kind == "issuelink" or meta["fieldId"] == "parent":
        return {"key": text}
    if kind == "option":
        return {"value": text}
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("Enter a number.") from None
        return int(number) if number.is_integer() else number
    if kind == "timetracking":
        return {"originalEstimate": text}
    if kind in ("priority", "securitylevel", "version", "component", "resolution"):
        return {"id": text}
    return text
