"""A tiny tracker provider, the second provider beside Jira in the tests.

Tests either register this module directly or install it as its own
distribution (``tiny-tracker``, entry point ``tiny`` in the ``trackbridge``
group) so the host discovers it through ``importlib.metadata`` exactly as it
discovers Jira Server.

Its webhook: ``POST /extensions/tiny/hook/{external_id}`` with header
``X-Tiny-Secret`` and a body ``{"events": [...]}``. Every call it handles is
appended to ``CALLS`` and, when ``[tiny] record`` names a file, to that file
as one JSON line (so a test can see what a separate server process did).
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import urlsplit

import click

from host import hookimpl, types
from host.errors import (
    NotFound,
    RetryLater,
    SetupError,
    ValidationError,
    WebhookRejected,
)
from host.schema import MigrationSet

KEY = "tiny"
CALLS: list[dict] = []
#: What changed in the tiny tracker without a webhook, as reconciliation
#: finds it: event dicts as in webhook bodies ({"retry": True}: tracker down).
CHANGES: list[dict] = []


def record(host, hook: str, **data) -> None:
    entry = {"hook": hook, **data}
    CALLS.append(entry)
    path = host.plugin_config(KEY).get("record")
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")


@hookimpl
def register_providers(host):
    return [
        types.Provider(
            key=KEY,
            name="Tiny Tracker",
            features=frozenset({"issue_basic", "issue_sync"}),
            remembered_create_fields=("component",),
        )
    ]


# ---- install ----


@hookimpl
def setup_steps(host, provider):
    if provider != KEY:
        return None
    return [types.SetupStep(name="connect", title="Connect Tiny Tracker")]


@hookimpl
def setup_step_view(host, provider, step, state):
    if provider != KEY:
        return None
    return types.StepView(
        intro="Connect a Tiny Tracker.",
        fields=(
            types.FormField(name="url", label="Tracker URL", type="url", required=True),
            types.FormField(
                name="secret", label="Secret", type="password", required=True
            ),
        ),
        instructions=(
            ("Webhook URL", f"{host.config.public_url}/extensions/tiny/hook/"),
        ),
    )


@hookimpl
def setup_step_submit(host, provider, step, state, data):
    if provider != KEY:
        return None
    errors = {}
    url = str(data.get("url", "")).rstrip("/")
    if not urlsplit(url).scheme.startswith("http") or not urlsplit(url).netloc:
        errors["url"] = ["Enter a valid URL."]
    if len(str(data.get("secret", ""))) < 8:
        errors["secret"] = ["Use at least 8 characters."]
    if errors:
        raise ValidationError(errors)
    return types.StepResult(state={"url": url, "secret": data["secret"]})


@hookimpl
def build_integration(host, provider, state):
    if provider != KEY:
        return None
    return types.IntegrationSpec(
        external_id=urlsplit(state["url"]).netloc,
        name=urlsplit(state["url"]).netloc,
        metadata={"base_url": state["url"]},
        credentials={"api_key": f"key-for-{state['secret']}"},
        shared_credentials={"secret": state["secret"]},
    )


@hookimpl
def post_install(host, provider, spec, state):
    if provider != KEY:
        return None
    if "fail" in state["url"]:
        raise SetupError("Could not create the webhook in Tiny Tracker.")
    record(host, "post_install", external_id=spec.external_id)
    return {"webhook_id": "w-1"}


@hookimpl
def uninstall(host, integration, credentials):
    if integration.provider != KEY:
        return None
    record(host, "uninstall", external_id=integration.external_id)
    return True


@hookimpl
def webhook_url(host, integration, shared_credentials):
    if integration.provider != KEY:
        return None
    return f"{host.config.public_url}/extensions/tiny/hook/{integration.external_id}"


@hookimpl
def rotate_webhook_secret(host, integration, shared_credentials):
    if integration.provider != KEY:
        return None
    record(host, "rotate_webhook_secret", external_id=integration.external_id)
    return types.RotatedSecret(
        shared_credentials={"secret": "rotated-" + shared_credentials["secret"]},
        webhook_url=f"{host.config.public_url}/extensions/tiny/hook/"
        f"{integration.external_id}",
        message="Enter the new secret in Tiny Tracker.",
    )


# ---- webhooks ----


@hookimpl
def authenticate_webhook(host, request):
    if request.provider != KEY:
        return None
    prefix, _, external_id = request.path.partition("/")
    if prefix == "unconnected":
        # An authentic call from a tracker no organization connected yet
        # (as a Jira Cloud site that installed the app, not yet claimed).
        if request.headers.get("x-tiny-secret") != "tracker-wide secret":
            raise WebhookRejected("Bad secret.")
        return types.WebhookVerdict(
            integration_id=None, store=False, reason="not connected yet"
        )
    if prefix != "hook" or not external_id:
        raise WebhookRejected("Unknown Tiny Tracker URL.")
    integration = host.integrations.by_external_id(KEY, external_id)
    if integration is None:
        raise WebhookRejected("No integration for this URL.")
    secret = host.integrations.shared_credentials(integration)["secret"]
    if not hmac.compare_digest(request.headers.get("x-tiny-secret", ""), secret):
        raise WebhookRejected("Bad secret.")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise WebhookRejected("Body is not JSON.") from None
    has_events = isinstance(body, dict) and bool(body.get("events"))
    return types.WebhookVerdict(
        integration_id=integration.id, store=has_events, reason="no events"
    )


EVENT_TYPES = {
    "assignee": types.AssigneeChanged,
    "status": types.StatusChanged,
    "moved": types.IssueMoved,
    "deleted": types.IssueDeleted,
    "comment": types.CommentAdded,
}


@hookimpl
def parse_webhook(host, integration, delivery):
    if integration.provider != KEY:
        return None
    record(host, "parse_webhook", delivery_id=delivery.id)
    events = []
    for raw in json.loads(delivery.body)["events"]:
        fields = dict(raw)
        if fields.pop("retry", False):
            raise RetryLater("tracker busy", delay=60)
        events.append(EVENT_TYPES[fields.pop("type")](**fields))
    return events


@hookimpl
def poll_changes(host, integration, since, linked):
    if integration.provider != KEY:
        return None
    record(host, "poll_changes", since=since)
    if any(change.get("retry") for change in CHANGES):
        raise RetryLater("tracker down", delay=30)
    wanted = linked([(c.get("issue_id"), c["issue_key"]) for c in CHANGES])
    return [
        EVENT_TYPES[c["type"]](**{k: v for k, v in c.items() if k != "type"})
        for c in CHANGES
        if c["issue_key"] in wanted
    ]


# ---- sync ----


def _outbound(host, hook, integration, external_issue, echo, **data):
    if integration.provider != KEY:
        return None
    record(host, hook, key=external_issue.key, **data)
    return types.SyncResult(applied=True, message="ok", echo=echo)


@hookimpl
def sync_assignee_outbound(
    host, integration, org_integration, external_issue, assignee
):
    email = assignee.email if assignee else None
    return _outbound(
        host,
        "sync_assignee_outbound",
        integration,
        external_issue,
        echo=email or "",
        email=email,
    )


@hookimpl
def sync_status_outbound(host, integration, org_integration, external_issue, resolved):
    return _outbound(
        host,
        "sync_status_outbound",
        integration,
        external_issue,
        echo="done" if resolved else "open",
        resolved=resolved,
    )


@hookimpl
def sync_comment_outbound(
    host, integration, org_integration, external_issue, comment, external_comment_id
):
    if integration.provider != KEY:
        return None
    record(
        host,
        "sync_comment_outbound",
        key=external_issue.key,
        text=comment.text,
        external_comment_id=external_comment_id,
    )
    return types.SyncResult(
        applied=True, external_comment_id=external_comment_id or f"c-{comment.id}"
    )


@hookimpl
def search_issues(host, integration, query):
    if integration.provider != KEY:
        return None
    record(host, "search_issues", query=query)
    return [types.Choice(value="APP-1", label=f"(APP-1) about {query}")]


@hookimpl
def search_users(host, integration, query, project):
    if integration.provider != KEY:
        return None
    record(host, "search_users", query=query, project=project)
    return [types.Choice(value="ann", label="Ann (ann)")]


@hookimpl
def search_field_values(host, integration, field, query):
    if integration.provider != KEY:
        return None
    if field != "component":
        raise ValidationError({"field": [f"Tiny cannot search {field}."]})
    return [types.Choice(value=query, label=f"Component {query}")]


@hookimpl
def list_projects(host, integration):
    if integration.provider != KEY:
        return None
    return [
        types.Choice(value="1", label="PAY - Payments"),
        types.Choice(value="2", label="PLAT - Platform"),
    ]


@hookimpl
def list_statuses(host, integration, project):
    if integration.provider != KEY:
        return None
    return [
        types.Choice(value=f"{project}-open", label="Open"),
        types.Choice(value=f"{project}-done", label="Done"),
    ]


@hookimpl
def get_create_issue_config(host, integration, org_integration, group, params):
    if integration.provider != KEY:
        return None
    return [
        types.FormField(name="title", label="Title", default=group.title),
        types.FormField(
            name="component",
            label="Component",
            type="select",
            search="component",
            default=org_integration.create_defaults.get("component", ""),
        ),
    ]


@hookimpl
def create_issue(host, integration, org_integration, group, data):
    if integration.provider != KEY:
        return None
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise ValidationError({"title": ["Title is required."]})
    record(host, "create_issue", title=data["title"], group=group.id)
    key = f"APP-{100 + len([c for c in CALLS if c['hook'] == 'create_issue'])}"
    return types.TrackerIssue(
        key=key,
        external_id=f"id-{key}",
        title=data["title"],
        description="",
        url=f"{integration.metadata['base_url']}/browse/{key}",
    )


@hookimpl
def get_issue(host, integration, key):
    if integration.provider != KEY:
        return None
    if key.startswith("MISSING"):
        raise NotFound(f"Issue {key} does not exist.")
    return types.TrackerIssue(
        key=key,
        external_id=f"id-{key}",
        title=f"Issue {key}",
        description="",
        url=f"{integration.metadata['base_url']}/browse/{key}",
    )


@hookimpl
def after_link_issue(host, integration, org_integration, external_issue, data):
    if integration.provider != KEY:
        return None
    record(
        host, "after_link_issue", key=external_issue.key, comment=data.get("comment")
    )
    return True


@hookimpl
def organization_config_fields(host, integration, org_integration):
    if integration.provider != KEY:
        return None
    return [
        types.FormField(name="label", label="Label"),
        types.FormField(
            name="done",
            label="Statuses that resolve",
            type="mapping",
            multiple=True,
            columns=(types.Choice(value="resolve", label="Resolve"),),
        ),
    ]


@hookimpl
def validate_organization_config(host, integration, org_integration, config):
    if integration.provider != KEY:
        return None
    errors = {key: ["Unknown field."] for key in config if key not in ("label", "done")}
    if "label" in config and not isinstance(config["label"], str):
        errors["label"] = ["Must be a string."]
    if "done" in config and not isinstance(config["done"], dict):
        errors["done"] = ["Must be an object of project -> statuses."]
    if errors:
        raise ValidationError(errors)
    return dict(config)


# ---- registration: a page, a table and a command of its own ----

migrations = MigrationSet("tiny")


@migrations.step
def m001_notes(schema):
    schema.execute(
        "CREATE TABLE tiny_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
    )


@hookimpl
def register_migrations(host):
    return migrations


class StatusPage:
    def __init__(self, host):
        self.host = host

    def on_get(self, req, resp):
        resp.media = {
            "provider": KEY,
            "integrations": self.host.store.db.execute(
                "SELECT count(*) FROM integrations WHERE provider = ?", [KEY]
            ).fetchone()[0],
        }


@hookimpl
def register_routes(host):
    return [types.Route("/extensions/tiny/status", StatusPage(host))]


@hookimpl
def register_commands(cli):
    @cli.command(name="tiny-notes")
    @click.argument("text")
    def tiny_notes(text):
        """Store a note in the tiny provider's own table."""
        host = click.get_current_context().obj.host
        with host.store.transaction():
            host.store.db.execute("INSERT INTO tiny_notes (text) VALUES (?)", [text])
        count = host.store.db.execute("SELECT count(*) FROM tiny_notes").fetchone()[0]
        click.echo(f"{count} note(s)")
