"""Hook specifications for trackbridge provider plugins.

The host calls these hooks; tracker providers (Jira Server, later Jira Cloud
and others) implement them and are found through the ``trackbridge``
entry-point group. Hooks are grouped by phase: registration, install,
webhook, sync.

Provider-specific hooks are ``firstresult``: every implementation first checks
whether the provider or integration is its own and returns ``None`` when it is
not, so the next provider gets its turn (pytest's ``pytest_collect_file``
convention). A firstresult implementation must never itself be a generator
function: a generator object is never ``None`` and would claim every call.

Arguments are plain data from :mod:`host.types`; ``host`` is the running
:class:`host.core.Host` (config, services, plugin config). Implementations may
accept fewer arguments than a spec declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from host.core import Host
    from host.schema import MigrationSet
    from host.types import (
        Choice,
        Comment,
        Delivery,
        ExternalIssue,
        FormField,
        Group,
        Integration,
        IntegrationSpec,
        IssueEvent,
        Member,
        OrganizationIntegration,
        Provider,
        RotatedSecret,
        Route,
        SetupStep,
        StepResult,
        StepView,
        SyncResult,
        TrackerIssue,
        WebhookRequest,
        WebhookVerdict,
    )

PROJECT = "trackbridge"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Marker for plugin implementations: ``from host import hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---- registration hooks, called once when the host starts -------------------


@hookspec
def register_providers(host: Host) -> Iterable[Provider]:
    """Return the tracker providers this plugin contributes.

    :param host: The host being built.
    :returns: An iterable of :class:`host.types.Provider`. A key registered by
        two plugins is a :class:`host.errors.PluginError`.

    Called by: :class:`host.core.Host` at start-up, before any request.
    """


@hookspec
def register_routes(host: Host) -> Iterable[Route]:
    """Return extra Falcon routes (pages, callbacks) this plugin serves.

    :param host: The host whose app is being built.
    :returns: An iterable of :class:`host.types.Route`, added after the
        host's own routes.

    Called by: :func:`host.app.create_app`.
    """


@hookspec
def register_migrations(host: Host) -> MigrationSet | None:
    """Return this plugin's migrations, if it owns tables.

    :param host: The host whose database is being migrated.
    :returns: A :class:`host.schema.MigrationSet` named after the plugin, or
        ``None``. Its steps get a :class:`host.schema.Schema` (SQL in the
        subset every engine shares), never the engine's own objects. The
        host applies its core set first, then each plugin's.

    Called by: ``trackbridge migrate`` and at host start-up.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``trackbridge`` command line.

    :param cli: The root click group; add commands with ``@cli.command()``.
        A command reaches the host through ``click.get_current_context().obj``.
    :returns: Nothing.

    Called by: :func:`host.cli.main`, before arguments are parsed.
    """


# ---- install hooks: the setup pipeline ---------------------------------------


@hookspec(firstresult=True)
def setup_steps(
    host: Host, provider: str, state: Mapping[str, Any]
) -> list[SetupStep] | None:
    """Return the ordered steps of the provider's setup pipeline.

    Stops at first non-None result.

    :param host: The running host.
    :param provider: The provider key being installed; return ``None``
        unless it is yours.
    :param state: The pipeline state so far (empty at the start): the steps
        may depend on earlier answers, e.g. the auth mode chosen. Steps
        already passed must stay where they are.
    :returns: The steps, or ``None``.

    Called by: the host's setup pipeline, at the start and after each step.
    """


@hookspec(firstresult=True)
def setup_step_view(
    host: Host, provider: str, step: str, state: Mapping[str, Any]
) -> StepView | None:
    """Describe what the user sees at one setup step.

    Stops at first non-None result.

    :param host: The running host.
    :param provider: The provider key; return ``None`` unless it is yours.
    :param step: The step name, one of :func:`setup_steps`.
    :param state: The pipeline state so far (secrets included: never echo them).
    :returns: A :class:`host.types.StepView` with the step's form fields and
        the values the user must copy elsewhere.

    Called by: ``GET /extensions/{provider}/setup/`` and the JSON pipeline API.
    """


@hookspec(firstresult=True)
def setup_step_submit(
    host: Host,
    provider: str,
    step: str,
    state: Mapping[str, Any],
    data: Mapping[str, Any],
) -> StepResult | None:
    """Validate and act on the data submitted for one setup step.

    Stops at first non-None result.

    :param host: The running host.
    :param provider: The provider key; return ``None`` unless it is yours.
    :param step: The step being submitted.
    :param state: The pipeline state so far.
    :param data: The submitted form or JSON fields, or a callback's query.
    :returns: A :class:`host.types.StepResult`: state to keep and either a
        redirect (the step waits for its callback) or an advance.
    :raises host.errors.ValidationError: Per-field problems (nothing is sent
        to the tracker until the form is valid).
    :raises host.errors.SetupError: The tracker refused or could not be reached.

    Called by: the setup pipeline on each POST of a step (and on callbacks).
    """


@hookspec(firstresult=True)
def build_integration(
    host: Host, provider: str, state: Mapping[str, Any]
) -> IntegrationSpec | None:
    """Build the integration to save from a finished pipeline's state.

    Stops at first non-None result.

    :param host: The running host.
    :param provider: The provider key; return ``None`` unless it is yours.
    :param state: The complete pipeline state.
    :returns: A :class:`host.types.IntegrationSpec` (external id, metadata,
        credentials). Nothing is saved yet. A ``webhook_status`` key in the
        metadata (a few words for people) is the one the host reads: its
        changes (``host.integrations.update_metadata``) are
        ``integration.webhook_status_changed`` events, and
        :data:`host.types.WEBHOOK_WAITING` (until
        :data:`~host.types.WEBHOOK_RECEIVING`) makes the install's end and
        the console say the tracker has sent nothing yet.

    Called by: the setup pipeline after its last step.
    """


@hookspec(firstresult=True)
def post_install(
    host: Host, provider: str, spec: IntegrationSpec, state: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Do the remote work an install needs (e.g. create the tracker webhook).

    Stops at first non-None result.

    :param host: The running host.
    :param provider: The provider key; return ``None`` unless it is yours.
    :param spec: The integration about to be saved.
    :param state: The complete pipeline state.
    :returns: Metadata to merge into the integration (e.g. the webhook id),
        or ``None`` when not yours. Return ``{}`` when there is nothing to add.
    :raises host.errors.SetupError: The work failed; nothing is saved.

    Called by: the setup pipeline, after :func:`build_integration` and before
    anything is written to the database.
    """


@hookspec(firstresult=True)
def uninstall(
    host: Host, integration: Integration, credentials: Mapping[str, Any]
) -> bool | None:
    """Clean up remotely when an integration loses its last organization.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: The integration being removed; return ``None``
        unless ``integration.provider`` is yours.
    :param credentials: The removing organization's credentials and the
        shared secrets (deleted right after).
    :returns: ``True`` when the remote side was cleaned up, ``False`` when it
        could not be (the removal still proceeds and the failure is logged).

    Called by: ``DELETE /api/0/integrations/{id}/`` for the last organization.
    """


@hookspec(firstresult=True)
def rotate_webhook_secret(
    host: Host, integration: Integration, shared_credentials: Mapping[str, Any]
) -> RotatedSecret | None:
    """Issue a new webhook secret and point the tracker's webhook at it.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: The integration whose secret is replaced (with the
        asking organization's credentials); return ``None`` unless
        ``integration.provider`` is yours.
    :param shared_credentials: Its current shared secrets.
    :returns: The new shared secrets, and the webhook's new metadata or the
        URL a person must enter (a webhook added by hand). The host saves
        them; from then on a request signed with the old secret is refused.
    :raises host.errors.IntegrationError: The tracker refused the change;
        nothing is saved and the old secret keeps working.

    Called by: ``trackbridge integrations rotate-webhook-secret`` and
    ``POST /api/0/organizations/{slug}/integrations/{id}/rotate-webhook-secret``.
    """


@hookspec(firstresult=True)
def webhook_url(
    host: Host, integration: Integration, shared_credentials: Mapping[str, Any]
) -> str | None:
    """The URL the tracker sends this integration's webhooks to, now.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: The integration; return ``None`` unless
        ``integration.provider`` is yours.
    :param shared_credentials: Its current shared secrets (the URL may
        carry one: it is shown to a person on a click, never listed).
    :returns: The URL, or ``None`` when the tracker is not sent one (its
        webhooks are verified otherwise, or it has none).

    Called by: the console's "Show the webhook URL" button (a Jira
    administrator re-entering a webhook added by hand).
    """


# ---- webhook hooks --------------------------------------------------------------


@hookspec(firstresult=True)
def authenticate_webhook(host: Host, request: WebhookRequest) -> WebhookVerdict | None:
    """Authenticate a request to a provider URL and name its integration.

    Stops at first non-None result.

    Runs inside the HTTP request, before anything is stored: it must be fast
    and must not call the tracker.

    :param host: The running host.
    :param request: The raw request; ``request.provider`` is the provider key
        from the URL. Return ``None`` unless it is yours.
    :returns: A :class:`host.types.WebhookVerdict` naming the integration, and
        whether the delivery carries anything worth storing; one naming no
        integration (``integration_id=None``) for an authentic request from a
        tracker no organization has connected yet (acknowledged, not stored).
    :raises host.errors.WebhookRejected: Authentication failed (answered with
        its ``status``, 400 unless the provider's subclass says otherwise,
        and the check that failed; the token is never logged).

    Called by: ``POST /extensions/{provider}/{path}``.
    """


@hookspec(firstresult=True)
def parse_webhook(
    host: Host, integration: Integration, delivery: Delivery
) -> list[IssueEvent] | None:
    """Turn a stored delivery into normalized events.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: The integration the delivery was addressed to;
        return ``None`` unless ``integration.provider`` is yours.
    :param delivery: The delivery as stored (exact body bytes and headers).
    :returns: Events to apply (an empty list: nothing to do). Must not raise
        on a partial payload.
    :raises host.errors.RetryLater: A lookup the parse needs failed for now.

    Called by: the ``delivery.process`` job, outside the HTTP request.
    """


@hookspec(firstresult=True)
def poll_changes(
    host: Host,
    integration: Integration,
    since: str,
    linked: Callable[[Iterable[tuple[str | None, str]]], set[str]],
    check: Sequence[tuple[str | None, str]] = (),
) -> list[IssueEvent] | None:
    """Find the changes made in the tracker since a time.

    Status, assignee, comments created or edited, and (among ``check``)
    linked issues deleted or moved.

    This is reconciliation: it repairs what a missed webhook would have
    brought (Jira Server does not redeliver).

    Stops at first non-None result.

    Ask the tracker once for what changed (paged), keep what ``linked``
    says is linked, and describe each change as the webhook would have:
    the latest change of each field, its ``occurred_at`` the time the
    tracker made it. The host applies them by the webhook rules, except
    that a change made in the host after it wins over it.

    :param host: The running host.
    :param integration: The integration to reconcile; return ``None`` unless
        ``integration.provider`` is yours.
    :param since: ISO 8601 time the last pass searched up to. Allow for
        clock skew and the tracker's index lag by searching a little earlier.
    :param linked: Given ``(tracker id, key)`` pairs, the keys of those
        linked to a group (only those are worth reading further).
    :param check: Linked issues ``(tracker id, key)`` to check still exist
        this pass (the host goes through every linked issue, a batch a
        pass): an ``IssueDeleted`` for each the tracker confirms is gone, an
        ``IssueMoved`` for each it now has under another key.
    :returns: The events, oldest first (deletions and moves last).
    :raises host.errors.RetryLater: The tracker could not answer for now.

    Called by: the ``integration.reconcile`` job and ``trackbridge reconcile``.
    """


# ---- sync hooks: outbound changes and issue operations -----------------------------


@hookspec(firstresult=True)
def sync_assignee_outbound(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    external_issue: ExternalIssue,
    assignee: Member | None,
) -> SyncResult | None:
    """Assign the tracker issue to the user matching ``assignee``.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config for this integration.
    :param external_issue: The linked tracker issue.
    :param assignee: The member now assigned, or ``None`` to unassign.
    :returns: A :class:`host.types.SyncResult`; its ``echo`` is what the
        tracker's webhook will report for this write, so it is not applied back.
    :raises host.errors.RetryLater: Transient failure (429, 5xx, timeout).

    Called by: the ``sync.outbound`` job when a group's assignee changes and
    the organization enabled ``sync_forward_assignment``.
    """


@hookspec(firstresult=True)
def sync_status_outbound(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    external_issue: ExternalIssue,
    resolved: bool,
) -> SyncResult | None:
    """Move the tracker issue to the status mapped for resolved/unresolved.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config (holds the mapping).
    :param external_issue: The linked tracker issue.
    :param resolved: ``True`` when the group was resolved, ``False`` reopened.
    :returns: A :class:`host.types.SyncResult`; its ``echo`` is what the
        tracker's webhook will report for this write, so it is not applied back.
    :raises host.errors.RetryLater: Transient failure.

    Called by: the ``sync.outbound`` job when a group is resolved or
    unresolved and the organization enabled ``sync_status_forward``.
    """


@hookspec(firstresult=True)
def sync_comment_outbound(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    external_issue: ExternalIssue,
    comment: Comment,
    external_comment_id: str | None,
) -> SyncResult | None:
    """Create (or, with ``external_comment_id``, update) a tracker comment.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config.
    :param external_issue: The linked tracker issue.
    :param comment: The host comment, with its author.
    :param external_comment_id: The tracker's id of this comment when it was
        synced before (an edit), else ``None``.
    :returns: A :class:`host.types.SyncResult` carrying the tracker comment id.
    :raises host.errors.RetryLater: Transient failure.

    Called by: the ``sync.outbound`` job when a comment is added or edited and
    the organization enabled ``sync_comments``.
    """


@hookspec(firstresult=True)
def get_create_issue_config(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    group: Group,
    params: Mapping[str, str],
) -> list[FormField] | None:
    """Return the form for creating a tracker issue from ``group``.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config (remembered defaults).
    :param group: The group the issue is created for.
    :param params: Choices made so far (e.g. ``project``, ``issuetype``).
    :returns: The form fields, in display order.

    Called by: ``GET /api/0/organizations/{slug}/groups/{id}/integrations/``
    ``{integration_id}/create`` (again each time a field with
    ``updates_form`` changes).
    """


@hookspec(firstresult=True)
def create_issue(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    group: Group,
    data: Mapping[str, Any],
) -> TrackerIssue | None:
    """Create a tracker issue from submitted form data.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config.
    :param group: The group the issue is created for.
    :param data: The submitted form.
    :returns: The created issue; the host links it to ``group`` and keeps
        the fields named by ``Provider.remembered_create_fields`` as the
        organization's next defaults (``org_integration.create_defaults``).
    :raises host.errors.ValidationError: The tracker refused fields.

    Called by: ``POST /api/0/organizations/{slug}/groups/{id}/integrations/``
    ``{integration_id}/create``.
    """


@hookspec(firstresult=True)
def get_issue(host: Host, integration: Integration, key: str) -> TrackerIssue | None:
    """Fetch one tracker issue by key (to link it, or to refresh it).

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param key: The issue key, e.g. ``APP-1``.
    :returns: The issue.
    :raises host.errors.NotFound: No such issue.

    Called by: ``POST /api/0/organizations/{slug}/groups/{id}/links``.
    """


@hookspec(firstresult=True)
def after_link_issue(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    external_issue: ExternalIssue,
    data: Mapping[str, Any],
) -> bool | None:
    """Do follow-up work after an existing issue was linked (post a comment).

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config.
    :param external_issue: The issue just linked.
    :param data: The submitted link form (e.g. ``comment``).
    :returns: ``True`` when done.

    Called by: the link endpoint, after the link is saved.
    """


@hookspec(firstresult=True)
def search_issues(
    host: Host, integration: Integration, query: str
) -> list[Choice] | None:
    """Search tracker issues for a picker.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param query: An issue key or free text.
    :returns: Choices ``value`` = key, ``label`` = "(KEY) summary".

    Called by: ``GET /api/0/organizations/{slug}/integrations/{id}/search``
    with ``field=externalIssue`` (or ``parent``).
    """


@hookspec(firstresult=True)
def search_users(
    host: Host, integration: Integration, query: str, project: str | None
) -> list[Choice] | None:
    """Search tracker users (assignee / reporter pickers).

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param query: A user name or email fragment.
    :param project: Limit to users assignable in this project, if given.
    :returns: Choices ``value`` = user name, ``label`` = display text.

    Called by: ``GET /api/0/organizations/{slug}/integrations/{id}/search``
    with ``field=assignee`` (or ``reporter``).
    """


@hookspec(firstresult=True)
def search_field_values(
    host: Host, integration: Integration, field: str, query: str
) -> list[Choice] | None:
    """Suggest values of any other field (sprints, epics, custom fields).

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param field: The field's id, as named in the create form's ``search``.
    :param query: What the user typed so far.
    :returns: Choices to pick from.

    Called by: ``GET /api/0/organizations/{slug}/integrations/{id}/search``
    with any ``field`` the host does not handle itself.
    """


@hookspec(firstresult=True)
def list_projects(host: Host, integration: Integration) -> list[Choice] | None:
    """List the tracker's projects for config forms.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :returns: Choices ``value`` = project id, ``label`` = "KEY - Name".

    Called by: the organization config form (API and settings page), and the
    search endpoint with ``field=project``.
    """


@hookspec(firstresult=True)
def list_statuses(
    host: Host, integration: Integration, project: str
) -> list[Choice] | None:
    """List the statuses of one tracker project, for status mappings.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param project: The project id (or key).
    :returns: Choices ``value`` = status id, ``label`` = status name.

    Called by: the organization config form (API and settings page), for
    each project in a status mapping.
    """


@hookspec(firstresult=True)
def organization_config_fields(
    host: Host, integration: Integration, org_integration: OrganizationIntegration
) -> list[FormField] | None:
    """Describe the provider-specific settings an organization can change.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's current config.
    :returns: Form fields beyond the host's own sync toggles.

    Called by: the integration settings page and ``GET`` of an integration.
    """


@hookspec(firstresult=True)
def validate_organization_config(
    host: Host,
    integration: Integration,
    org_integration: OrganizationIntegration,
    config: Mapping[str, Any],
) -> Mapping[str, Any] | None:
    """Validate and normalize the provider-specific part of a config update.

    Stops at first non-None result.

    :param host: The running host.
    :param integration: Return ``None`` unless ``integration.provider`` is yours.
    :param org_integration: The organization's config before the update.
    :param config: The provider-specific keys submitted (the host has already
        checked and removed its own sync toggles).
    :returns: The cleaned keys to store. Unknown keys must be refused.
    :raises host.errors.ValidationError: Per-field problems; nothing is saved.

    Called by: ``PUT /api/0/integrations/{id}/``.
    """
