"""JSON shapes of the API's objects. Credentials never appear here."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from host.services.settings import SettingsForm
from host.services.setup import PipelineStatus
from host.shapes import comment, external_issue, group, member, organization
from host.types import FormField, Integration, OrganizationIntegration

__all__ = ["comment", "external_issue", "group", "member", "organization"]

#: Integration metadata keys never shown (secrets live in credentials, but a
#: provider may keep a derived secret in metadata, like a webhook secret).
HIDDEN_METADATA = ("secret", "token", "password", "private")


def integration(
    i: Integration,
    oi: OrganizationIntegration,
    provider_name: str,
    tracker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An integration as one organization sees it; ``tracker``: how its
    tracker has been failing (:meth:`host.breakers.Breakers.status`), if it
    has."""
    return {
        "id": i.id,
        "provider": {"key": i.provider, "name": provider_name},
        "external_id": i.external_id,
        "name": i.name,
        # As this organization sees it: its own credentials may need setup.
        "status": i.status if oi.status == "active" else oi.status,
        "metadata": {
            key: value
            for key, value in i.metadata.items()
            if not any(word in key.lower() for word in HIDDEN_METADATA)
        },
        "config": dict(oi.config),
        "organization_status": oi.status,
        # null while every call is answered.
        "tracker_trouble": tracker,
    }


def form_field(field: FormField, search_url: str | None = None) -> dict[str, Any]:
    """A form field; a searched one also says where to search, when known."""
    data = asdict(field)
    data["choices"] = [asdict(choice) for choice in field.choices]
    data["columns"] = [asdict(column) for column in field.columns]
    if field.search and search_url:
        data["search_url"] = f"{search_url}?{urlencode({'field': field.search})}"
    return data


def pipeline(status: PipelineStatus) -> dict[str, Any]:
    if status.complete:
        state = "complete"
    elif status.redirect_url:
        state = "redirect"
    else:
        state = "step"
    data: dict[str, Any] = {
        "pipeline": status.pipeline_id,
        "provider": status.provider,
        "status": state,
        "step_index": status.step_index,
        "total_steps": status.total_steps,
    }
    if status.complete:
        data["integration_id"] = status.integration_id
        return data
    data["step"] = {"name": status.step.name, "title": status.step.title}
    data["intro"] = status.view.intro
    data["fields"] = [form_field(f) for f in status.view.fields]
    data["instructions"] = [
        {"label": label, "value": value} for label, value in status.view.instructions
    ]
    if status.redirect_url:
        data["redirect_url"] = status.redirect_url
    if status.data:
        data["data"] = dict(status.data)
    return data


def settings_form(form: SettingsForm) -> dict[str, Any]:
    """The settings form with the current config and the tracker's choices."""
    return {
        "config": dict(form.org_integration.config),
        "fields": [form_field(f) for f in form.fields],
        "projects": [asdict(c) for c in form.projects],
        "statuses": {
            project: [asdict(c) for c in choices]
            for project, choices in form.statuses.items()
        },
        "problems": list(form.problems),
    }


def job(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it: what it does, its state and last error
    (the lease and worker name are internals)."""
    return {
        key: job[key]
        for key in (
            "id",
            "kind",
            "payload",
            "state",
            "attempts",
            "max_attempts",
            "last_error",
            "created_at",
            "updated_at",
        )
    }
