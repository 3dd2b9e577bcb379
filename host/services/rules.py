"""Ticket rules: create (and link) a tracker issue for each new group that
matches, as Sentry's "create a Jira issue" alert action does.

A rule names an integration of the organization, when it applies (``when``:
``{"event": "group.created", "title_matches"?, "culprit_matches"?}``, each a
case-insensitive shell-style pattern such as ``*KeyError*``: patterns, not
regular expressions, so no rule can make matching slow for everyone) and
the create form's ``fields`` (Jira: ``project``, ``issuetype``, ...). It is
checked against the tracker's create form when saved: every field must be
one of the form's, a choice must be one of its choices, a required field
needs a value (the group's own title and description are its defaults).

A matching group is claimed for the rule in the group's own transaction
(once per group: ``rule_runs``) and a job creates the issue through the
provider's create hooks, retried as any tracker call; a refusal is recorded
on the group (its activity) and in the change feed (``rule.failed``).
"""

from __future__ import annotations

import fnmatch
import logging
from typing import TYPE_CHECKING, Any

from host.errors import NotFound, TrackbridgeError, ValidationError
from host.types import Group
from host.validation import whole_number

if TYPE_CHECKING:
    from host.core import Host
    from host.types import FormField, Organization

log = logging.getLogger(__name__)

EVENTS = ("group.created",)
MAX_PATTERN_LENGTH = 500
#: The group a rule's form is checked with when it is saved.
SAMPLE_TITLE = "A new group this rule matches"


class RuleService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def create(self, organization: Organization, data: Any) -> dict:
        fields = self._checked(organization, data, required=True)
        with self.store.transaction():
            rule_id = self.store.rules.create(organization.id, fields)
        return self.get(organization, rule_id)

    def list(self, organization: Organization) -> list[dict]:
        return self.store.rules.list(organization.id)

    def get(self, organization: Organization, rule_id: int) -> dict:
        rule = self.store.rules.get(organization.id, rule_id)
        if rule is None:
            raise NotFound("Rule not found.")
        return rule

    def update(self, organization: Organization, rule_id: int, data: Any) -> dict:
        rule = self.get(organization, rule_id)
        merged = {
            "integration_id": rule["integration_id"],
            "when": {
                "event": "group.created",
                "title_matches": rule["title_matches"],
                "culprit_matches": rule["culprit_matches"],
            },
            "fields": rule["fields"],
            "active": rule["active"],
        }
        if not isinstance(data, dict):
            raise ValidationError({}, "Send a JSON object.")
        merged.update(data)
        fields = self._checked(organization, merged, required=True)
        with self.store.transaction():
            self.store.rules.update(rule["id"], fields)
        return self.get(organization, rule_id)

    def delete(self, organization: Organization, rule_id: int) -> None:
        with self.store.transaction():
            if not self.store.rules.delete(organization.id, rule_id):
                raise NotFound("Rule not found.")

    # ---- acting ----

    def group_created(self, group: Group) -> None:
        """In the group's transaction: a job for each rule it matches."""
        for rule in self.store.rules.list(group.organization_id, active_only=True):
            if matches(rule, group) and self.store.rules.start_run(
                rule["id"], group.id
            ):
                self.host.jobs.enqueue(
                    "rules.create",
                    {"rule_id": rule["id"], "group_id": group.id,
                     "organization_id": group.organization_id,
                     "integration_id": rule["integration_id"]},
                )  # fmt: skip

    def run(self, payload: dict) -> None:
        """The ``rules.create`` job: make and link the rule's issue."""
        organization = self.store.organizations.get(payload["organization_id"])
        rule = self.store.rules.get(payload["organization_id"], payload["rule_id"])
        group = self.store.groups.get(payload["organization_id"], payload["group_id"])
        run = self.store.rules.run(payload["rule_id"], payload["group_id"])
        if None in (organization, rule, group, run) or run["state"] != "queued":
            return  # gone since, or done by an earlier attempt
        try:
            form = self._form(organization, rule, group)
            data = {**_defaults(form), **rule["fields"]}
            issue = self.host.tracker_issues.create(
                organization, group.id, rule["integration_id"], data
            )
        except (ValidationError, NotFound) as ex:
            self.failed(payload, _said(ex))
            return
        with self.store.transaction():
            self.store.rules.finish_run(rule["id"], group.id, "done", issue.id)

    def failed(self, payload: dict, error: str) -> None:
        """The rule could not make its issue: said on the group and in the feed."""
        group = self.store.groups.get(payload["organization_id"], payload["group_id"])
        if group is None:
            return
        with self.store.transaction():
            self.store.rules.finish_run(
                payload["rule_id"], group.id, "failed", error=error[:1000]
            )
            self.store.groups.add_activity(
                group.id,
                "rule_failed",
                {"rule_id": payload["rule_id"], "message": error[:1000]},
                source="system",
                source_integration_id=payload["integration_id"],
            )
            self.host.events.record(
                group.organization_id,
                "rule.failed",
                {"rule_id": payload["rule_id"], "group_id": group.id,
                 "error": error[:1000]},
                group_id=group.id,
            )  # fmt: skip
        log.warning("rule %s on group %s failed: %s", payload["rule_id"], group.id,
                    error)  # fmt: skip

    # ---- checking ----

    def _form(self, organization, rule, group) -> list[FormField]:
        return self.host.tracker_issues.form_for(
            organization, group, rule["integration_id"], _params(rule["fields"])
        )

    def _checked(
        self, organization: Organization, data: Any, *, required: bool
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError({}, "Send a JSON object.")
        errors: dict[str, list[str]] = {}
        for name in sorted(set(data) - {"integration_id", "when", "fields", "active"}):
            errors[name] = ["Unknown field (integration_id, when, fields, active)."]
        integration_id = whole_number(data.get("integration_id"))
        if integration_id is None:
            errors["integration_id"] = ["The id of one of your integrations."]
        when = data.get("when", {})
        if not isinstance(when, dict):
            errors["when"] = ['An object: {"event": "group.created", ...}.']
            when = {}
        if when.get("event") not in EVENTS:
            errors["when.event"] = [f"One of: {', '.join(EVENTS)}."]
        for key in sorted(set(when) - {"event", "title_matches", "culprit_matches"}):
            errors[f"when.{key}"] = ["Unknown condition."]
        for key in ("title_matches", "culprit_matches"):
            pattern = when.get(key)
            if pattern is not None and (
                not isinstance(pattern, str)
                or not 0 < len(pattern) <= MAX_PATTERN_LENGTH
            ):
                errors[f"when.{key}"] = [
                    "A pattern such as *KeyError*"
                    f" (1 to {MAX_PATTERN_LENGTH} characters)."
                ]
        fields = data.get("fields", {})
        if not isinstance(fields, dict):
            errors["fields"] = ["An object of the create form's fields."]
        active = data.get("active", True)
        if not isinstance(active, bool):
            errors["active"] = ["true or false."]
        if errors:
            raise ValidationError(errors)
        self.host.integrations.get(organization, integration_id)  # 404: not yours
        self._check_form(organization, integration_id, fields)
        return {
            "integration_id": integration_id,
            "title_matches": when.get("title_matches"),
            "culprit_matches": when.get("culprit_matches"),
            "fields": fields,
            "active": active,
        }

    def _check_form(self, organization, integration_id: int, fields: dict) -> None:
        """The fields against the tracker's create form, for a sample group."""
        sample = Group(
            id=0,
            organization_id=organization.id,
            title=SAMPLE_TITLE,
            culprit="",
            status="unresolved",
            assignee_email=None,
        )
        form = self.host.tracker_issues.form_for(
            organization, sample, integration_id, _params(fields)
        )
        known = {field.name: field for field in form if field.type != "notice"}
        errors: dict[str, list[str]] = {}
        for name, value in fields.items():
            field = known.get(name)
            if field is None:
                errors[f"fields.{name}"] = [
                    f"Not a field of this create form ({', '.join(sorted(known))})."
                ]
            elif (
                field.choices
                and not field.search
                and str(value) not in {str(choice.value) for choice in field.choices}
            ):
                errors[f"fields.{name}"] = [
                    "Not one of the choices: "
                    + ", ".join(str(c.value) for c in field.choices[:20])
                ]
        for name, field in known.items():
            given = fields.get(name, field.default)
            if field.required and given in (None, "", []):
                errors[f"fields.{name}"] = [f"{field.label} is required."]
        if errors:
            raise ValidationError(
                errors, "The rule's fields do not fit the tracker's create form."
            )


def matches(rule: dict, group: Group) -> bool:
    for pattern, text in (
        (rule["title_matches"], group.title),
        (rule["culprit_matches"], group.culprit),
    ):
        if pattern is not None and not fnmatch.fnmatchcase(
            text.lower(), pattern.lower()
        ):
            return False
    return True


def _defaults(form: list[FormField]) -> dict[str, Any]:
    return {
        field.name: field.default
        for field in form
        if field.type != "notice" and field.default not in (None, "", [])
    }


def _params(fields: dict[str, Any]) -> dict[str, str]:
    """The choices that shape a create form (project, issue type), as the
    form's query parameters."""
    return {
        name: str(value)
        for name, value in fields.items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    }


def _said(ex: TrackbridgeError) -> str:
    errors = getattr(ex, "errors", None) or {}
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
    return f"{ex.detail} {details}".strip() if details else ex.detail
