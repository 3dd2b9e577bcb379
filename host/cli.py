"""The ``trackbridge`` command line.

Commands reach the host through ``click.get_current_context().obj`` (a
:class:`CliContext`), which opens the database only when a command needs it.
Plugins add their own commands through the ``register_commands`` hook.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path

import click
import pluggy

from host import validation
from host.api import serialize
from host.api.hooks import hook as hook_shape
from host.cli_output import show
from host.config import (
    Config,
    capped_workers,
    check_bind,
    load_config,
    public_url_problem,
    url_for_bind,
)
from host.errors import (
    ConfigError,
    NotFound,
    TrackbridgeError,
    Unavailable,
    ValidationError,
)
from host.jsontext import INT_MAX, is_unicode
from host.logs import configure_logging
from host.plugins import describe_plugins, get_plugin_manager
from host.services import sync_flags
from host.store.db import DatabaseUnavailable
from host.store.engine import redacted
from host.types import WEBHOOK_WAITING

log = logging.getLogger("trackbridge")


class CliContext:
    """Config, plugin manager and (on first use) the host, for commands."""

    def __init__(self, config: Config, pm: pluggy.PluginManager) -> None:
        self.config = config
        self.pm = pm
        self._host = None

    @property
    def host(self):
        """The host, its database migrated."""
        if self._host is None:
            from host.core import Host

            self._host = Host.from_config(self.config, pm=self.pm)
        return self._host

    def host_unmigrated(self):
        """The host without touching the schema (to report what is pending)."""
        from host.core import Host
        from host.store import Store

        return Host(self.config, Store.for_config(self.config), self.pm)


class StoreId(click.ParamType):
    """An id the store can hold (1 to 2**63 - 1), for every id argument."""

    name = "id"

    def convert(self, value, param, ctx) -> int:
        text = str(value).strip()
        number = int(text) if text.isascii() and text.isdigit() else 0
        if not 1 <= number <= INT_MAX:
            self.fail(f"{value!r} is not an id (a whole number from 1 to {INT_MAX})")
        return number


ID = StoreId()


class ConfigProblem(click.ClickException):
    """A configuration (or database location) error: one line, exit status 2,
    as for any other usage error."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(f"Configuration error: {message}")


def _handle_errors(fn):
    """Turn the host's errors into one clear line: exit status 1, or 2 for
    configuration problems."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DatabaseUnavailable as ex:
            raise ConfigProblem(str(ex)) from None
        except ValidationError as ex:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}"
                for field, messages in ex.errors.items()
            )
            raise click.ClickException(f"{ex.detail} {problems}".strip()) from None
        except TrackbridgeError as ex:
            raise click.ClickException(ex.detail) from None
        except ConfigError as ex:
            raise ConfigProblem(str(ex)) from None
        except Unavailable as ex:
            raise click.ClickException(ex.detail) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


pass_ctx = click.make_pass_decorator(CliContext)


#: Wide enough that no command's summary is cut short in --help.
HELP_WIDTH = {"terminal_width": 120, "max_content_width": 120}


@click.group(context_settings=HELP_WIDTH)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $TRACKBRIDGE_CONFIG, else ./config.ini).",
)
@click.pass_context
@_handle_errors
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """trackbridge: keep your issues in sync with issue trackers."""
    if ctx.obj is None or config_path is not None:
        # main() loaded the default config; another file may block other plugins.
        config = load_config(config_path)
        ctx.obj = CliContext(
            config, get_plugin_manager(blocked=config.disabled_plugins)
        )
    configure_logging(ctx.obj.config.log_level, ctx.obj.config.log_format)
    if not os.environ.get("TRACKBRIDGE_CONFIG_CHECKED"):
        for warning in ctx.obj.config.warnings:
            log.warning("%s", warning)


ORG_OPTION = click.option("--org", "slug", required=True, help="Organization slug.")
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Every field, as JSON."
)


def _bind(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_bind(value)
    except ConfigError as ex:
        raise click.BadParameter(str(ex).removeprefix("--bind "), ctx, param) from None


@cli.command()
@click.option(
    "--bind", callback=_bind, help="host:port for gunicorn (default: [host] bind)."
)
@click.option(
    "--workers", type=click.IntRange(1, 1024), help="gunicorn worker processes."
)
@click.option(
    "--job-workers",
    type=click.IntRange(1, 64),
    help="Job worker processes (default: [jobs] workers).",
)
@pass_ctx
@_handle_errors
def serve(
    ctx: CliContext, bind: str | None, workers: int | None, job_workers: int | None
) -> None:
    """Run the web app (gunicorn) and one job worker until SIGTERM/SIGINT."""
    from host.serve import PortBusy
    from host.serve import serve as run

    if workers is not None:
        warnings: list[str] = []
        workers = capped_workers(workers, warnings, "--workers")
        for warning in warnings:
            log.warning("%s", warning)
    ctx.host.close()  # migrations applied once here, before any worker starts
    bind = bind or ctx.config.bind
    config = ctx.config
    if not config.public_url_set and bind != config.bind:
        config = dataclasses.replace(config, public_url=url_for_bind(bind))
        log.warning(
            "public_url follows --bind: %s. Links other trackbridge commands"
            " print use [host] bind's %s; set [host] public_url to make them"
            " agree.",
            config.public_url,
            ctx.config.public_url,
        )
    elif problem := public_url_problem(config, bind):
        log.warning("%s", problem)
    try:
        status = run(
            config,
            bind=bind,
            workers=workers or ctx.config.workers,
            job_workers=job_workers or ctx.config.jobs.workers,
        )
    except PortBusy as ex:
        raise click.ClickException(str(ex)) from None
    sys.exit(status)


@cli.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@pass_ctx
@_handle_errors
def worker(ctx: CliContext, once: bool) -> None:
    """Run durable jobs until SIGTERM/SIGINT (the job in hand is finished)."""
    from host.jobs import Worker

    runner = Worker(ctx.host)
    if once:
        count = 0
        while runner.run_once() is not None:
            count += 1
        click.echo(f"ran {count} job(s)")
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runner.stop())
    runner.run()


@cli.command()
@click.option("--list", "show", is_flag=True, help="Only list what is pending.")
@pass_ctx
@_handle_errors
def migrate(ctx: CliContext, show: bool) -> None:
    """Create or upgrade the database schema."""
    if show:
        pending = ctx.host_unmigrated().pending_migrations()
        for name in pending:
            click.echo(f"pending {name}")
        if not pending:
            click.echo("no pending migrations")
        return
    applied = ctx.host_unmigrated().migrate()
    click.echo(f"database: {redacted(ctx.config.database)}")
    click.echo(f"applied {len(applied)} migration(s)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_ctx
def plugins(ctx: CliContext, as_json: bool) -> None:
    """List plugins: name, distribution, version and the hooks they implement."""
    infos = describe_plugins(ctx.pm)
    if as_json:
        click.echo(json.dumps([vars(info) for info in infos], indent=2))
        return
    for info in infos:
        dist = f"{info.distribution} {info.version}" if info.distribution else "-"
        click.echo(f"{info.name}  ({dist})")
        for hook in info.hooks:
            click.echo(f"    {hook}")


@cli.command("config")
@pass_ctx
def show_config(ctx: CliContext) -> None:
    """Print the effective configuration (secrets redacted)."""
    source = ctx.config.source or "(defaults: no config file)"
    click.echo(f"# from {source}")
    for section, values in ctx.config.redacted().items():
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {value}")
        click.echo()


@cli.group()
def org() -> None:
    """Manage organizations."""


@org.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option(
    "--region",
    help="On a control node: the region (from [regions]) serving this organization.",
)
@pass_ctx
@_handle_errors
def org_create(
    ctx: CliContext, slug: str, name: str | None, region: str | None
) -> None:
    """Create an organization."""
    organization = ctx.host.organizations.create(slug, name, region=region)
    where = f" in region {region}" if region else ""
    click.echo(
        f"created organization {organization.slug} (id {organization.id}){where}"
    )


@org.command("list")
@JSON_OPTION
@pass_ctx
@_handle_errors
def org_list(ctx: CliContext, as_json: bool) -> None:
    """List organizations."""
    show(
        (dataclasses.asdict(o) for o in ctx.host.organizations.list()),
        [("SLUG", "slug"), ("NAME", "name"), ("REGION", "region"), ("ID", "id")],
        as_json=as_json,
    )


@cli.group()
def member() -> None:
    """Manage organization members."""


@member.command("add")
@ORG_OPTION
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@pass_ctx
@_handle_errors
def member_add(ctx: CliContext, slug: str, email: str, name: str) -> None:
    """Add a member (by email) to an organization."""
    organization = ctx.host.organizations.get(slug)
    added, created = ctx.host.organizations.add_member(organization, email, name)
    already = "" if created else " (already a member: unchanged)"
    click.echo(f"member {added.email} in {organization.slug} (id {added.id}){already}")


@member.command("remove")
@ORG_OPTION
@click.argument("email")
@pass_ctx
@_handle_errors
def member_remove(ctx: CliContext, slug: str, email: str) -> None:
    """Remove a member; the groups assigned to them are unassigned first
    (and, where sending assignments is on, in the tracker too)."""
    organization = ctx.host.organizations.get(slug)
    unassigned = ctx.host.organizations.remove_member(organization, email)
    click.echo(
        f"removed {email} from {organization.slug}"
        f" ({len(unassigned)} group(s) unassigned)"
    )


@member.command("list")
@ORG_OPTION
@JSON_OPTION
@pass_ctx
@_handle_errors
def member_list(ctx: CliContext, slug: str, as_json: bool) -> None:
    """List an organization's members."""
    organization = ctx.host.organizations.get(slug)
    show(
        (dataclasses.asdict(m) for m in ctx.host.organizations.members(organization)),
        [("EMAIL", "email"), ("NAME", "name"), ("ID", "id")],
        as_json=as_json,
    )


@cli.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@ORG_OPTION
@click.option("--label", default="", help="A note to recognise the token by.")
@click.option(
    "--expires",
    metavar="DURATION",
    help="Stop working after this long: 90d, 12h, 30m (default: never).",
)
@pass_ctx
@_handle_errors
def token_create(ctx: CliContext, slug: str, label: str, expires: str | None) -> None:
    """Create an API token for an organization (shown once, stored hashed)."""
    expires_in = validation.duration(expires, "--expires") if expires else None
    organization = ctx.host.organizations.get(slug)
    click.echo(ctx.host.organizations.create_token(organization, label, expires_in))


@token.command("list")
@ORG_OPTION
@JSON_OPTION
@pass_ctx
@_handle_errors
def token_list(ctx: CliContext, slug: str, as_json: bool) -> None:
    """List an organization's tokens: id, label, prefix, created, last used,
    expiry (never the token itself)."""
    show(
        ctx.host.organizations.tokens(ctx.host.organizations.get(slug)),
        [
            ("ID", "id"),
            ("PREFIX", lambda t: f"{t['prefix']}…"),
            ("LABEL", "label"),
            ("CREATED", "created_at"),
            ("LAST USED", lambda t: t["last_used_at"] or "never"),
            ("EXPIRES", lambda t: t["expires_at"] or "never"),
        ],
        as_json=as_json,
    )


@token.command("revoke")
@click.argument("token_id", type=ID)
@ORG_OPTION
@pass_ctx
@_handle_errors
def token_revoke(ctx: CliContext, token_id: int, slug: str) -> None:
    """Revoke a token: every process refuses it from its next request."""
    ctx.host.organizations.revoke_token(ctx.host.organizations.get(slug), token_id)
    click.echo(f"Revoked token {token_id}.")


@cli.group()
def hooks() -> None:
    """Webhook subscriptions to the change feed (see the README)."""


@hooks.command("create")
@click.argument("url")
@ORG_OPTION
@click.option(
    "--event", "events", multiple=True, help="An event type to send (default: all)."
)
@pass_ctx
@_handle_errors
def hooks_create(ctx: CliContext, url: str, slug: str, events: tuple[str, ...]):
    """Send the organization's events to URL; prints the secret once."""
    organization = ctx.host.organizations.get(slug)
    made, secret = ctx.host.hooks.create(
        organization, {"url": url, "events": list(events)}
    )
    click.echo(f"hook {made['id']}: {made['url']}")
    click.echo(f"secret (shown once; verify each delivery with it): {secret}")


@hooks.command("list")
@ORG_OPTION
@JSON_OPTION
@pass_ctx
@_handle_errors
def hooks_list(ctx: CliContext, slug: str, as_json: bool) -> None:
    """The organization's hooks (never their secrets)."""
    show(
        # As the API shows a hook (the store's delivery position is internal).
        [hook_shape(h) for h in ctx.host.hooks.list(ctx.host.organizations.get(slug))],
        [
            ("ID", "id"),
            ("ACTIVE", "active"),
            ("EVENTS", lambda h: ",".join(h["events"]) or "all"),
            ("URL", "url"),
            ("FAILING SINCE", "failing_since"),
        ],
        as_json=as_json,
    )


@hooks.command("delete")
@click.argument("hook_id", type=ID)
@ORG_OPTION
@pass_ctx
@_handle_errors
def hooks_delete(ctx: CliContext, hook_id: int, slug: str) -> None:
    """Stop sending to a hook."""
    ctx.host.hooks.delete(ctx.host.organizations.get(slug), hook_id)
    click.echo(f"Deleted hook {hook_id}.")


@hooks.command("rotate-secret")
@click.argument("hook_id", type=ID)
@ORG_OPTION
@pass_ctx
@_handle_errors
def hooks_rotate_secret(ctx: CliContext, hook_id: int, slug: str) -> None:
    """A new secret for a hook, from its next delivery on; printed once."""
    secret = ctx.host.hooks.rotate_secret(ctx.host.organizations.get(slug), hook_id)
    click.echo(f"secret (shown once): {secret}")


@cli.group()
def integrations() -> None:
    """Inspect integrations and rotate their secrets."""


def _integration_rows(host, organization) -> list[dict]:
    """The organization's integrations as the API shows them (no secret)."""
    rows = []
    for integration, org_integration in host.integrations.list(organization):
        provider = host.providers.get(integration.provider)
        rows.append(
            serialize.integration(
                integration,
                org_integration,
                provider.name if provider else integration.provider,
                host.breakers.status(integration),
            )
        )
    return rows


INTEGRATION_COLUMNS = [
    ("ID", "id"),
    ("PROVIDER", lambda i: i["provider"]["key"]),
    ("NAME", "name"),
    ("TRACKER", "external_id"),
    ("STATUS", "status"),
    ("WEBHOOK", lambda i: i["metadata"].get("webhook_status")),
    ("TRACKER TROUBLE", lambda i: (i["tracker_trouble"] or {}).get("state")),
]


@integrations.command("list")
@ORG_OPTION
@JSON_OPTION
@pass_ctx
@_handle_errors
def integrations_list(ctx: CliContext, slug: str, as_json: bool) -> None:
    """The organization's integrations: the ID that settings, reconcile and
    show take, their status and the webhook's."""
    rows = _integration_rows(ctx.host, ctx.host.organizations.get(slug))
    show(rows, INTEGRATION_COLUMNS, as_json=as_json, empty="(no integrations)")


@integrations.command("show")
@click.argument("integration_id", type=ID)
@ORG_OPTION
@JSON_OPTION
@pass_ctx
@_handle_errors
def integrations_show(
    ctx: CliContext, integration_id: int, slug: str, as_json: bool
) -> None:
    """One integration: what it is, its settings and how its tracker answers."""
    organization = ctx.host.organizations.get(slug)
    found = next(
        (
            row
            for row in _integration_rows(ctx.host, organization)
            if row["id"] == integration_id
        ),
        None,
    )
    if found is None:
        raise NotFound(f"Integration {integration_id} not found in {slug}.")
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for heading, value in INTEGRATION_COLUMNS[1:]:
        shown = value(found) if callable(value) else found[value]
        click.echo(f"{heading.lower():16}{shown if shown not in (None, '') else '-'}")
    for key, value in sorted(found["config"].items()):
        click.echo(f"{'config':16}{key} = {json.dumps(value)}")
    click.echo(f"\nSettings: trackbridge settings {integration_id} --org {slug}")


@cli.group()
def deliveries() -> None:
    """The tracker webhook delivery log."""


@deliveries.command("list")
@ORG_OPTION
@click.option("--failed", is_flag=True, help="Only deliveries that failed.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@JSON_OPTION
@pass_ctx
@_handle_errors
def deliveries_list(
    ctx: CliContext, slug: str, failed: bool, limit: int, as_json: bool
) -> None:
    """Recent webhook deliveries to the organization's integrations, newest
    first, with their outcome and why one failed."""
    rows = ctx.host.inbound.recent(
        ctx.host.organizations.get(slug), limit, status="failed" if failed else None
    )
    show(
        rows,
        [
            ("ID", "id"),
            ("INTEGRATION", "integration_id"),
            ("RECEIVED", "received_at"),
            ("STATUS", "status"),
            ("ERROR", "error"),
        ],
        as_json=as_json,
        empty="(no deliveries)",
    )


@integrations.command("rotate-webhook-secret")
@click.argument("integration_id", type=ID)
@click.option(
    "--org",
    "slug",
    help="As this organization (its credentials call the tracker); default:"
    " the integration's first working installation.",
)
@pass_ctx
@_handle_errors
def integrations_rotate_webhook_secret(
    ctx: CliContext, integration_id: int, slug: str | None
) -> None:
    """Issue a new webhook secret: the old webhook URL stops working, and the
    tracker's webhook is re-registered (or the new URL is printed)."""
    host = ctx.host
    if slug:
        integration, _ = host.integrations.get(
            host.organizations.get(slug), integration_id
        )
    else:
        integration = host.store.integrations.get(integration_id)
        if integration is None:
            raise NotFound(f"Integration {integration_id} not found.")
    rotated = host.integrations.rotate_webhook_secret(integration)
    click.echo(rotated.message)
    if rotated.webhook_url:
        click.echo(f"New webhook URL: {rotated.webhook_url}")


@cli.command()
@click.argument("provider")
@ORG_OPTION
@click.option(
    "--terminal", is_flag=True, help="Run the setup here, prompting for each field."
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="With --terminal: answer a field (NAME=@PATH reads a file).",
)
@click.option(
    "--no-input",
    is_flag=True,
    help="With --terminal: ask nothing (optional fields take their defaults);"
    " stop at the first refusal.",
)
@pass_ctx
@_handle_errors
def install(
    ctx: CliContext,
    provider: str,
    slug: str,
    terminal: bool,
    assignments: tuple[str, ...],
    no_input: bool,
) -> None:
    """Install PROVIDER for an organization.

    Prints a one-time link that opens the setup page, or with --terminal runs
    the same steps here. Exit status: 0 installed, 1 the setup stopped (the
    reason is printed), 2 a usage error.
    """
    host = ctx.host
    organization = host.organizations.get(slug)
    if terminal:
        from host import setup_terminal

        given = setup_terminal.parse_assignments(assignments)
        integration_id = setup_terminal.run(
            host, organization, provider, given, prompt=not no_input
        )
        integration, org_integration = host.integrations.get(
            organization, integration_id
        )
        click.echo(f"\nInstalled {integration.name} (integration {integration_id}).")
        webhook = integration.metadata.get("webhook_status")
        if webhook == WEBHOOK_WAITING:
            click.echo(
                "Webhook: waiting for the first one; a tracker administrator adds"
                " the webhook shown above."
            )
        elif webhook:
            click.echo(f"Webhook: {webhook}.")
        on = [
            label
            for flag, label in sync_flags.LABELS.items()
            if sync_flags.enabled(org_integration.config, flag)
        ]
        click.echo(
            f"Syncing: {'; '.join(on)}."
            if on
            else "Nothing syncs yet: every direction starts off."
        )
        click.echo(
            f"Choose what syncs: trackbridge settings {integration_id} --org {slug}"
        )
        click.echo(f"See it working: trackbridge console --org {slug}")
        return
    token = host.setup.create_link(organization, provider)
    minutes = host.config.setup_ttl_seconds // 60
    url = f"{host.config.public_url}/extensions/{host.provider(provider).slug}/setup/"
    click.echo(f"Open this link within {minutes} minutes to install {provider}:")
    click.echo(f"{url}?link={token}")


@cli.command()
@ORG_OPTION
@pass_ctx
@_handle_errors
def console(ctx: CliContext, slug: str) -> None:
    """Print a one-time link to the organization's console.

    The console shows its integrations, groups, deliveries and dead letters.
    """
    host = ctx.host
    organization = host.organizations.get(slug)
    token = host.console.create_link(organization)
    minutes = host.config.setup_ttl_seconds // 60
    click.echo(f"Open this link within {minutes} minutes to open the console:")
    click.echo(f"{host.config.public_url}/console/{slug}?link={token}")


@cli.command()
@click.argument("integration_id", type=ID)
@ORG_OPTION
@pass_ctx
@_handle_errors
def settings(ctx: CliContext, integration_id: int, slug: str) -> None:
    """Print a one-time link to an integration's settings page."""
    host = ctx.host
    organization = host.organizations.get(slug)
    token = host.settings.create_link(organization, integration_id)
    minutes = host.config.setup_ttl_seconds // 60
    url = f"{host.config.public_url}/settings/{slug}/integrations/{integration_id}"
    click.echo(f"Open this link within {minutes} minutes to change the settings:")
    click.echo(f"{url}?link={token}")


@cli.group()
def jobs() -> None:
    """Inspect and retry durable jobs."""


@jobs.command("list")
@click.option("--failed", is_flag=True, help="Only dead-lettered jobs.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@JSON_OPTION
@pass_ctx
@_handle_errors
def jobs_list(ctx: CliContext, failed: bool, limit: int, as_json: bool) -> None:
    """List recent jobs, newest first."""
    show(
        ctx.host.store.jobs.list(("dead",) if failed else (), limit),
        [
            ("ID", "id"),
            ("KIND", "kind"),
            ("STATE", "state"),
            ("ATTEMPTS", lambda j: f"{j['attempts']}/{j['max_attempts']}"),
            ("RUN AT", "run_at"),
            ("LAST ERROR", "last_error"),
        ],
        as_json=as_json,
    )


@jobs.command("retry")
@click.argument("job_id", type=ID)
@pass_ctx
@_handle_errors
def jobs_retry(ctx: CliContext, job_id: int) -> None:
    """Put a dead-lettered job back in the queue."""
    if not ctx.host.jobs.retry(job_id):
        raise click.ClickException(f"No dead-lettered job with id {job_id}.")
    click.echo(f"job {job_id} queued again")


@cli.command()
@click.option("--integration", "integration_id", type=ID, help="Only this integration.")
@click.option("--verbose", is_flag=True, help="List what was repaired.")
@pass_ctx
@_handle_errors
def reconcile(ctx: CliContext, integration_id: int | None, verbose: bool) -> None:
    """Repair now what missed webhooks left out of sync.

    Asks each tracker what changed since the last pass and applies it by the
    webhook rules (the job workers also do this every
    [jobs] reconcile_interval_seconds).
    """
    from host.errors import RetryLater
    from host.services.reconcile import PassInProgress

    service = ctx.host.reconcile
    failed = 0
    for each in service.integration_ids(integration_id):
        try:
            result = service.run(each)
        except RetryLater as ex:
            click.echo(f"integration {each}: not reconciled: {ex.reason}", err=True)
            failed += 1
            continue
        except PassInProgress as ex:
            click.echo(f"integration {each}: not reconciled: {ex}", err=True)
            failed += 1
            continue
        if result is None:
            click.echo(f"integration {each}: its provider does not reconcile")
        else:
            click.echo(result.summary())
            for repair in result.repairs if verbose else ():
                click.echo(f"  repaired {repair}")
    if failed:
        raise click.ClickException(f"{failed} integration(s) could not be reconciled")


@cli.command("copy-db")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The empty PostgreSQL database: postgresql://user:password@host/name.",
)
@pass_ctx
@_handle_errors
def copy_db(ctx: CliContext, target: str) -> None:
    """Copy this (stopped) SQLite installation into an empty PostgreSQL database.

    Then it says what to change in the config.

    Every table is copied with its rows and ids; sealed secrets as they are
    (the hosts on PostgreSQL seal with the same key, given as
    TRACKBRIDGE_SECRET_KEY); row counts are checked, and a copy that fails
    leaves the target empty. Stop every host and worker first.
    """
    from host import sealing
    from host.store import Store
    from host.store.copy import copy_database
    from host.store.engine import connect, is_postgresql

    config = ctx.config
    if not is_postgresql(target):
        raise click.UsageError(f"--to must be a postgresql:// URL, not {target!r}.")
    if is_postgresql(config.database):
        raise click.UsageError(
            "The configured database is PostgreSQL already; copy-db copies a"
            " SQLite installation ([host] database, TRACKBRIDGE_DATABASE)."
        )
    source_host = ctx.host_unmigrated()
    source = source_host.store
    destination = Store(connect(target, config.write_timeout_seconds), source.box)
    try:
        with _table_progress() as progress:
            copied = copy_database(
                source, destination, source_host.plugin_migrations(), progress
            )
    finally:
        destination.close()
    rows = sum(done.rows for done in copied)
    click.echo(f"copied {rows} row(s) in {len(copied)} table(s) to {redacted(target)}")
    click.echo("Now set, on every host and worker:")
    click.echo(f"  [host] database = {redacted(target)}  (or TRACKBRIDGE_DATABASE_URL)")
    if config.secret_key:
        click.echo("  the same TRACKBRIDGE_SECRET_KEY (or [host] secret_key) as here")
    else:
        path = sealing.key_file(config.database)
        click.echo(
            "  TRACKBRIDGE_SECRET_KEY to the key in"
            f' {path}: TRACKBRIDGE_SECRET_KEY="$(paste -sd, {path})"'
        )


@contextlib.contextmanager
def _table_progress():
    """A bar per table on a terminal, a line per table otherwise."""
    with contextlib.ExitStack() as stack:

        def start(table: str, rows: int):
            stack.close()
            if not sys.stdout.isatty():
                click.echo(f"{table}: {rows} row(s)")
                return lambda _: None
            bar = stack.enter_context(
                click.progressbar(length=max(rows, 1), label=f"{table:<28}")
            )
            return bar.update

        yield start


@cli.command("rotate-key")
@click.option(
    "--print-new-key",
    is_flag=True,
    help="Print a new key for TRACKBRIDGE_SECRET_KEY and change nothing.",
)
@pass_ctx
@_handle_errors
def rotate_key(ctx: CliContext, print_new_key: bool) -> None:
    """Re-seal every stored secret with a new key.

    With the default key file, a new key is made and the file is replaced.
    With TRACKBRIDGE_SECRET_KEY=NEW,OLD, everything is re-sealed with NEW;
    then set the variable to NEW alone.
    """
    from host import sealing

    if print_new_key:
        click.echo(sealing.new_key())
        return
    config = ctx.config
    if config.secret_key:
        keys = sealing.parse_keys(config.secret_key)
        count = ctx.host.seal_secrets(again=True)
        click.echo(f"re-sealed {count} secret(s) with the first key given")
        if len(keys) == 1:
            click.echo(
                "To rotate, run with TRACKBRIDGE_SECRET_KEY=NEW,OLD"
                " (make NEW with --print-new-key)."
            )
        else:
            click.echo("Now set TRACKBRIDGE_SECRET_KEY to that key alone.")
        return
    path = sealing.key_file(config.database)
    new = sealing.new_key()
    # The new key first, the old ones still opening: a process sealing now
    # picks up the new key, and nothing is ever unreadable.
    sealing.write_key_file(path, [new, *sealing.read_key_file(path)])
    count = ctx.host.seal_secrets(again=True)
    sealing.write_key_file(path, [new])
    click.echo(f"re-sealed {count} secret(s) with a new key in {path}")


def build_cli(pm: pluggy.PluginManager) -> click.Group:
    """The command group with the host's commands plus the plugins' own.

    A fresh group each time, so plugins never add to the module's group.
    """
    group = click.Group(
        name="trackbridge",
        commands=dict(cli.commands),
        callback=cli.callback,
        params=cli.params,
        help=cli.help,
        context_settings=HELP_WIDTH,
    )
    pm.hook.register_commands(cli=group)
    return group


def main() -> None:
    """Entry point: load config and plugins, add their commands, run.

    Every refusal is one line on stderr: exit status 2 for a usage or
    configuration error (with where to find help), 1 for anything else.
    """
    for position, argument in enumerate(sys.argv[1:], start=1):
        if not is_unicode(argument):  # bytes that were not UTF-8
            click.echo(f"Error: argument {position} is not valid UTF-8 text.", err=True)
            sys.exit(2)
    try:
        config = load_config()
        pm = get_plugin_manager(blocked=config.disabled_plugins)
    except ConfigError as ex:
        click.echo(f"Error: Configuration error: {ex}", err=True)
        sys.exit(2)
    group = build_cli(pm)
    try:
        status = group.main(obj=CliContext(config, pm), standalone_mode=False)
    except click.UsageError as ex:
        command = ex.ctx.command_path if ex.ctx else group.name
        click.echo(f"Error: {ex.format_message()} (see {command} --help)", err=True)
        sys.exit(ex.exit_code)
    except click.ClickException as ex:
        ex.show()
        sys.exit(ex.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    if isinstance(status, int) and status:  # ctx.exit(status)
        sys.exit(status)


if __name__ == "__main__":
    main()
