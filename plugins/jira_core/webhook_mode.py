"""The setup's webhook step, for both Jira providers where trackbridge
creates the webhook itself (Server; Cloud with an API token): made for an
administrator, or added by hand by one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from host.errors import ValidationError
from host.types import Choice, FormField, StepResult

FIELD = FormField(
    name="webhook_mode",
    label="Webhook",
    type="select",
    default="automatic",
    choices=(
        Choice(value="automatic", label="Create it for me"),
        Choice(value="manual", label="A Jira administrator adds it"),
    ),
)


def submit(data: Mapping[str, Any]) -> StepResult:
    mode = str(data.get("webhook_mode") or "automatic")
    if mode not in ("automatic", "manual"):
        raise ValidationError({"webhook_mode": ["Choose automatic or manual."]})
    return StepResult(state={"webhook_mode": mode})
