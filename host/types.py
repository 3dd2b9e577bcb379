"""Plain data that crosses the hook boundary between the host and providers.

Plugins receive and return these frozen dataclasses, never Falcon requests or
database rows, so a provider can be tested with bytes and dicts alone and the
host can change its storage without touching a plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# ---- registration ---------------------------------------------------------

#: Capabilities a provider may advertise in :class:`Provider.features`.
FEATURES = frozenset(
    {
        "issue_basic",  # create and link external issues
        "issue_sync",  # assignee / status / comment sync
        "user_mapping",  # explicit member -> tracker user mapping
    }
)


@dataclass(frozen=True, kw_only=True)
class Provider:
    """A tracker provider a plugin contributes (e.g. Jira Server)."""

    key: str
    name: str
    features: frozenset[str] = frozenset()
    description: str = ""
    #: Create-form fields remembered per organization as the next defaults.
    remembered_create_fields: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """URL form of the key, as used under ``/extensions/{slug}/``."""
        return self.key.replace("_", "-")


@dataclass(frozen=True)
class Route:
    """A Falcon route a plugin adds to the app (``app.add_route`` arguments)."""

    uri_template: str
    resource: object
    suffix: str | None = None


# ---- host records handed to plugins ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class Organization:
    id: int
    slug: str
    name: str
    region: str | None = None


@dataclass(frozen=True, kw_only=True)
class Member:
    id: int
    organization_id: int
    email: str
    name: str


@dataclass(frozen=True, kw_only=True)
class Integration:
    """One installed tracker (one Jira instance), shareable by organizations."""

    id: int
    provider: str
    external_id: str
    name: str
    metadata: Mapping[str, Any]
    status: str = "active"
    #: The organization on whose behalf the host handed this integration to
    #: a provider: its calls use that organization's credentials. ``None``
    #: where the call concerns the integration as a whole (a webhook, a
    #: reconciliation pass): the credentials of its first installation that
    #: Jira has not refused are used.
    organization_id: int | None = None


#: The ``webhook_status`` values the host itself reads (an integration's
#: metadata; any other value is shown as it is): a webhook a person adds
#: by hand that has not sent anything yet, and one that has.
WEBHOOK_WAITING = "waiting for first webhook"
WEBHOOK_RECEIVING = "receiving"

#: Organization config key under which the host keeps the create-form
#: choices of :attr:`Provider.remembered_create_fields`.
CREATE_DEFAULTS = "create_defaults"


@dataclass(frozen=True, kw_only=True)
class OrganizationIntegration:
    """An organization's use of an integration, with its own sync config.

    ``status``: ``active``; ``needs_reauth`` once the tracker refused this
    organization's credentials (until its setup runs again); or a state a
    provider's lifecycle sets, such as ``disabled``.
    """

    id: int
    organization_id: int
    integration_id: int
    config: Mapping[str, Any]
    status: str = "active"

    @property
    def receives_events(self) -> bool:
        """Whether the tracker's changes are applied here: also while its
        own credentials need re-authentication (webhooks need none)."""
        return self.status in ("active", "needs_reauth")

    @property
    def create_defaults(self) -> Mapping[str, Any]:
        """The create-form choices last made here, kept by the host."""
        return self.config.get(CREATE_DEFAULTS) or {}


@dataclass(frozen=True, kw_only=True)
class Group:
    """The host's own issue (a "group", as in an error tracker)."""

    id: int
    organization_id: int
    title: str
    culprit: str
    status: str
    assignee_email: str | None


@dataclass(frozen=True, kw_only=True)
class ExternalIssue:
    """An issue in a tracker, linked to one or more groups."""

    id: int
    integration_id: int
    key: str
    external_id: str | None
    title: str
    description: str
    url: str


@dataclass(frozen=True, kw_only=True)
class Comment:
    id: int
    group_id: int
    author_email: str | None
    author_name: str
    text: str


# ---- install ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, kw_only=True)
class FormField:
    """One input of a form the host renders (HTML) or describes (JSON)."""

    name: str
    label: str
    type: Literal[
        "text",
        "textarea",
        "password",
        "url",
        "boolean",
        "select",
        "number",
        "notice",
        "mapping",
    ] = "text"
    required: bool = False
    help: str = ""
    placeholder: str = ""
    default: Any = None
    choices: tuple[Choice, ...] = ()
    multiple: bool = False
    #: Never shown again once entered (keys, tokens).
    secret: bool = False
    #: Only asked when another field has a value: ``("auth_mode", "oauth")``.
    show_if: tuple[str, str] | None = None
    #: Choices are found as the user types, through the integration's search
    #: endpoint with ``field=<this value>`` (users, sprints, epics).
    search: str | None = None
    #: Choosing a value changes the rest of the form (project, issue type):
    #: ask for the form again with the choices made so far.
    updates_form: bool = False
    #: ``mapping`` only: one row per tracker project; each column (``value``
    #: = key, ``label`` = heading) holds status ids of that project.
    columns: tuple[Choice, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SetupStep:
    """A named step of a provider's setup pipeline."""

    name: str
    title: str


@dataclass(frozen=True, kw_only=True)
class StepView:
    """What a setup step shows: its form and any instructions to copy."""

    fields: tuple[FormField, ...] = ()
    #: Label/value pairs the user must copy elsewhere (e.g. into Jira).
    instructions: tuple[tuple[str, str], ...] = ()
    intro: str = ""


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """The outcome of submitting a setup step.

    ``state`` is merged into the pipeline state. With ``redirect_url`` the
    user is sent away (e.g. to a Jira authorize page) and the pipeline waits
    for the provider's callback on this same step; otherwise it advances.
    """

    state: Mapping[str, Any] = field(default_factory=dict)
    redirect_url: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class IntegrationSpec:
    """What a provider builds from a finished pipeline, before it is saved."""

    external_id: str
    name: str
    metadata: Mapping[str, Any]
    #: The installing organization's secrets (how its calls sign in),
    #: stored apart from metadata and never shown by the API or CLI. Each
    #: organization using an integration has its own.
    credentials: Mapping[str, Any]
    #: Secrets of the integration itself, the same for every organization
    #: (a webhook's signing secret). Set when the integration is first
    #: installed; another organization joining it never changes them.
    shared_credentials: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RotatedSecret:
    """A provider's new webhook secret, and what became of the webhook."""

    #: Merged into the integration's shared credentials.
    shared_credentials: Mapping[str, Any]
    #: Merged into the integration's metadata (e.g. the webhook's new id).
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The new webhook URL, when a person must enter it in the tracker.
    webhook_url: str | None = None
    #: What happened, for the person who asked (never a secret).
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class TrackerIssue:
    """An issue as the tracker describes it, before the host stores it."""

    key: str
    external_id: str | None
    title: str
    description: str
    url: str


# ---- webhooks ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WebhookRequest:
    """An HTTP request to a provider URL, as plain data."""

    provider: str
    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class WebhookVerdict:
    """A provider's answer to an authenticated webhook request.

    ``store=False`` acknowledges a delivery that carries nothing to apply
    (answered 200, nothing saved); ``reason`` says why, for the logs.
    ``integration_id=None`` (with ``store=False``) is an authentic request
    from a tracker no organization has connected yet (a Jira Cloud site
    that installed the app but was not claimed): acknowledged, never
    stored; a control node answers it as it answers an integration no
    organization uses.
    """

    integration_id: int | None
    store: bool = True
    reason: str = ""
    #: The tracker issue the delivery is about, when the provider can tell
    #: (its stable id, its key): a delivery about an issue no organization
    #: links is acknowledged and not stored.
    issue_id: str | None = None
    issue_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """A webhook delivery the host stored durably before answering."""

    id: int
    integration_id: int
    provider: str
    headers: Mapping[str, str]
    body: bytes
    received_at: str
    status: str = "received"


@dataclass(frozen=True, kw_only=True)
class IssueEvent:
    """Base of the normalized events a provider parses a delivery into.

    ``occurred_at`` (ISO 8601) orders deliveries for the same issue: a
    delivery older than the last one applied is dropped.
    """

    issue_key: str
    issue_id: str | None = None
    occurred_at: str | None = None
    #: Who made the change, as the tracker tells it: the integration's own
    #: tracker account (True), someone else (False), or not said (None).
    #: Someone else's change is never taken for an echo of our write.
    by_integration: bool | None = None

    def echo_of(self) -> tuple[str, str] | None:
        """``(action, value)`` an outbound write of ours would come back as.

        An inbound event matching a write trackbridge just made to the
        tracker (see :attr:`SyncResult.echo`) is that write's echo, and is
        not applied again.
        """
        return None


@dataclass(frozen=True, kw_only=True)
class AssigneeChanged(IssueEvent):
    """The tracker issue's assignee changed. No user at all (no email, id or
    name): unassigned.

    ``user_id`` is the tracker's stable id for the user (Jira's user key, or
    account id); ``email`` None with a user means the tracker keeps the
    email hidden: the host then leaves the group alone, never unassigns.
    """

    email: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    display_name: str | None = None

    def echo_of(self) -> tuple[str, str]:
        return ("assignee", (self.user_id or "").lower())


@dataclass(frozen=True, kw_only=True)
class StatusChanged(IssueEvent):
    """The tracker issue changed status.

    ``resolved`` is the provider's default reading (True: into a "done"
    status, False: out of one, None: neither). An organization may map the
    tracker's status ids per ``project`` instead (see ``sync_flags``).
    """

    resolved: bool | None
    from_status: str | None = None
    to_status: str | None = None
    project: str | None = None

    def echo_of(self) -> tuple[str, str]:
        return ("status", self.to_status or "")


@dataclass(frozen=True, kw_only=True)
class IssueMoved(IssueEvent):
    """The issue got a new key (e.g. moved to another Jira project)."""

    old_key: str
    new_key: str


@dataclass(frozen=True, kw_only=True)
class IssueDeleted(IssueEvent):
    """The tracker issue was deleted; its links are removed."""


@dataclass(frozen=True, kw_only=True)
class CommentAdded(IssueEvent):
    """A comment was created (or, with ``edited``, updated) in the tracker."""

    comment_id: str
    author_name: str
    author_email: str | None = None
    body: str = ""
    edited: bool = False

    def echo_of(self) -> tuple[str, str]:
        return ("comment", self.comment_id)


# ---- sync ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    """The outcome of one outbound sync call, recorded as group activity.

    ``applied`` False with a ``message`` is a clear, final "could not"
    (no matching user, a transition needing a field): it is recorded, not
    retried. Transient failures raise :class:`host.errors.RetryLater`.
    """

    applied: bool
    message: str = ""
    external_comment_id: str | None = None
    #: What the tracker's webhook will report for this write, in the terms
    #: of :meth:`IssueEvent.echo_of` (a user id, a status id, a comment id),
    #: so the host can recognise the echo and not apply it back.
    echo: str | None = None
    #: The tracker says the issue no longer exists: the host unlinks it.
    issue_gone: bool = False
