"""The host's core schema, as a :class:`host.schema.MigrationSet`.

Plugins add their own sets through the ``register_migrations`` hook; the
core set is always applied first. Append new migrations; never edit one that
has shipped. Each step runs on SQLite and on PostgreSQL (see
:mod:`host.schema`); the few that only repair rows an older SQLite
installation wrote say so and do nothing on PostgreSQL, whose databases
begin at this version with every step.
"""

from __future__ import annotations

from host.schema import MigrationSet, Schema, ensure_record_table
from host.store.engine import Engine

core = MigrationSet("trackbridge")


@core.step
def m0001_organizations(schema: Schema) -> None:
    schema.execute(
        """
        CREATE TABLE organizations (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            region TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_normalized TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        """
        CREATE TABLE members (
            id INTEGER PRIMARY KEY,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL,
            UNIQUE (organization_id, user_id)
        )"""
    )
    schema.execute(
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            last_used_at TEXT
        )"""
    )


@core.step
def m0002_groups(schema: Schema) -> None:
    schema.execute(
        """
        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            title TEXT NOT NULL,
            culprit TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'unresolved'
                CHECK (status IN ('unresolved', 'resolved', 'ignored')),
            assignee_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX groups_org_status ON groups (organization_id, status)")
    schema.execute(
        """
        CREATE TABLE group_activity (
            id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            actor_member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
            source TEXT NOT NULL CHECK (source IN ('user', 'integration', 'system')),
            source_integration_id INTEGER,
            created_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX group_activity_group ON group_activity (group_id, id)")
    schema.execute(
        """
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            author_member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
            author_name TEXT NOT NULL,
            author_email TEXT,
            text TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('user', 'integration', 'system')),
            source_integration_id INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX comments_group ON comments (group_id, id)")


@core.step
def m0003_integrations(schema: Schema) -> None:
    schema.execute(
        """
        CREATE TABLE integrations (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            external_id TEXT NOT NULL,
            name TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'active',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (provider, external_id)
        )"""
    )
    schema.execute(
        """
        CREATE TABLE organization_integrations (
            id INTEGER PRIMARY KEY,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            integration_id INTEGER NOT NULL REFERENCES integrations(id)
                ON DELETE CASCADE,
            config TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'active',
            created_at TEXT NOT NULL,
            UNIQUE (organization_id, integration_id)
        )"""
    )
    schema.execute(
        "CREATE INDEX org_integrations_integration"
        " ON organization_integrations (integration_id)"
    )
    # Secrets live apart from metadata so no query for display ever reads them.
    schema.execute(
        """
        CREATE TABLE credentials (
            integration_id INTEGER PRIMARY KEY REFERENCES integrations(id)
                ON DELETE CASCADE,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        """
        CREATE TABLE external_issues (
            id INTEGER PRIMARY KEY,
            integration_id INTEGER NOT NULL REFERENCES integrations(id)
                ON DELETE CASCADE,
            key TEXT NOT NULL,
            external_id TEXT,
            title TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL DEFAULT '',
            last_event_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (integration_id, key)
        )"""
    )
    schema.execute(
        "CREATE INDEX external_issues_external_id"
        " ON external_issues (integration_id, external_id)"
    )
    schema.execute(
        """
        CREATE TABLE group_links (
            id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            external_issue_id INTEGER NOT NULL REFERENCES external_issues(id)
                ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            UNIQUE (group_id, external_issue_id)
        )"""
    )
    schema.execute(
        "CREATE INDEX group_links_external ON group_links (external_issue_id)"
    )
    schema.execute(
        """
        CREATE TABLE comment_links (
            comment_id INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
            external_issue_id INTEGER NOT NULL REFERENCES external_issues(id)
                ON DELETE CASCADE,
            external_comment_id TEXT NOT NULL,
            PRIMARY KEY (comment_id, external_issue_id)
        )"""
    )
    schema.execute(
        "CREATE INDEX comment_links_external"
        " ON comment_links (external_issue_id, external_comment_id)"
    )


@core.step
def m0004_deliveries_and_jobs(schema: Schema) -> None:
    schema.execute(
        """
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            integration_id INTEGER NOT NULL REFERENCES integrations(id)
                ON DELETE CASCADE,
            provider TEXT NOT NULL,
            headers TEXT NOT NULL,
            body BLOB NOT NULL,
            body_sha256 TEXT NOT NULL,
            received_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'received',
            error TEXT,
            processed_at TEXT,
            UNIQUE (integration_id, body_sha256)
        )"""
    )
    schema.execute(
        "CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at)"
    )
    schema.execute(
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at REAL NOT NULL,
            lease_until REAL,
            worker TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX jobs_ready ON jobs (state, run_at)")
    schema.execute(
        """
        CREATE TABLE setup_pipelines (
            id_hash TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            step_index INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT '{}',
            expires_at REAL NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@core.step
def m0005_setup_links(schema: Schema) -> None:
    # One-time links that open a provider's setup page for an organization.
    schema.execute(
        """
        CREATE TABLE setup_links (
            token_hash TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            expires_at REAL NOT NULL
        )"""
    )


@core.step
def m0006_sync_echoes(schema: Schema) -> None:
    # What trackbridge just wrote to a tracker, so the webhook that reports
    # the write back (its echo) is recognised and not applied again.
    schema.execute(
        """
        CREATE TABLE sync_echoes (
            id INTEGER PRIMARY KEY,
            external_issue_id INTEGER NOT NULL REFERENCES external_issues(id)
                ON DELETE CASCADE,
            action TEXT NOT NULL,
            value TEXT NOT NULL,
            expires_at REAL NOT NULL
        )"""
    )
    schema.execute(
        "CREATE INDEX sync_echoes_issue ON sync_echoes"
        " (external_issue_id, action, value)"
    )


@core.step
def m0007_forwards(schema: Schema) -> None:
    # Deliveries a control node owes a region: kept until the region took
    # them (the URL path holds the webhook token, so not in job payloads).
    schema.execute(
        """
        CREATE TABLE forwards (
            id INTEGER PRIMARY KEY,
            region TEXT NOT NULL,
            provider_slug TEXT NOT NULL,
            path TEXT NOT NULL,
            query TEXT NOT NULL DEFAULT '{}',
            headers TEXT NOT NULL DEFAULT '{}',
            body BLOB NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@core.step
def m0008_browser_sessions(schema: Schema) -> None:
    # Signed-in browsers of the settings pages, kept under the hash of the
    # cookie's value so a copy of the database cannot be used to sign in.
    schema.execute(
        """
        CREATE TABLE browser_sessions (
            id_hash TEXT PRIMARY KEY,
            organization_id INTEGER NOT NULL REFERENCES organizations(id)
                ON DELETE CASCADE,
            expires_at REAL NOT NULL
        )"""
    )


@core.step
def m0009_drop_deliveries_received_index(schema: Schema) -> None:
    # Nothing reads deliveries by time (ids grow with it), and the index cost
    # every webhook one more page written (bench/ingest.py).
    schema.execute("DROP INDEX IF EXISTS webhook_deliveries_received")


@core.step
def m0010_reconcile_passes(schema: Schema) -> None:
    # One row per integration under reconciliation: where its last pass got
    # to (the next one searches from there) and when the next one is due.
    schema.execute(
        """
        CREATE TABLE reconcile_passes (
            integration_id INTEGER PRIMARY KEY REFERENCES integrations(id)
                ON DELETE CASCADE,
            polled_until TEXT,
            next_due REAL NOT NULL,
            last_changes INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )"""
    )


@core.step
def m0011_metric_series(schema: Schema) -> None:
    # Counters every process adds its own counts to (see host.metrics): the
    # database is what gunicorn workers and job workers share.
    schema.execute(
        """
        CREATE TABLE metric_series (
            name TEXT NOT NULL,
            labels TEXT NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (name, labels)
        ) WITHOUT ROWID"""
    )


#: Tables whose ``id`` must never be handed out twice (m0012).
NEVER_REUSED = (
    "organizations",
    "users",
    "members",
    "api_tokens",
    "groups",
    "group_activity",
    "comments",
    "integrations",
    "organization_integrations",
    "external_issues",
    "group_links",
    "webhook_deliveries",
    "jobs",
    "sync_echoes",
    "forwards",
)


@core.step
def m0012_tenancy(schema: Schema) -> None:
    # Each organization signs in to a shared tracker with its own
    # credentials; the integration keeps only what every organization shares
    # (the webhook secret). Existing rows are copied sealed as they are: the
    # shared secret in them is ignored, the integration's own wins.
    schema.execute(
        """
        CREATE TABLE installation_credentials (
            organization_integration_id INTEGER PRIMARY KEY
                REFERENCES organization_integrations(id) ON DELETE CASCADE,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        "INSERT INTO installation_credentials"
        " SELECT uses.id, credentials.data, credentials.updated_at"
        " FROM organization_integrations AS uses JOIN credentials"
        " ON credentials.integration_id = uses.integration_id"
    )
    # A refused credential is now one organization's problem, not everyone's.
    schema.execute(
        "UPDATE organization_integrations SET status = 'needs_reauth'"
        " WHERE integration_id IN"
        " (SELECT id FROM integrations WHERE status = 'needs_reauth')"
    )
    schema.execute("UPDATE integrations SET status = 'active'")
    # A member's display name belongs to the membership, not to the person
    # in every organization.
    schema.execute("ALTER TABLE members ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    schema.execute(
        "UPDATE members SET name ="
        " (SELECT users.name FROM users WHERE users.id = members.user_id)"
    )
    schema.execute("ALTER TABLE api_tokens ADD COLUMN expires_at REAL")
    schema.execute("ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT")
    schema.execute("ALTER TABLE forwards ADD COLUMN integration_id INTEGER")
    # SQLite hands out max(id)+1 unless the key is AUTOINCREMENT, so a
    # deleted row's id went to the next row: another organization's new
    # integration saw the old one's dead letters. Rebuild with AUTOINCREMENT
    # (foreign keys are off while migrations run, see Database.migrating).
    # PostgreSQL's identity columns never hand an id out twice.
    if schema.dialect == "sqlite":
        for table in NEVER_REUSED:
            _rebuild_with_autoincrement(schema, table)


@core.step
def m0013_job_lanes(schema: Schema) -> None:
    # The integration a job works for (the tracker it calls): claims cap
    # how many of one integration's jobs run at once and take integrations
    # in turn, so one slow tracker never holds every worker slot.
    # 0: a job for no integration (a region's forward, a replica).
    schema.execute(
        "ALTER TABLE jobs ADD COLUMN integration_id INTEGER NOT NULL DEFAULT 0"
    )
    if schema.dialect == "sqlite":  # jobs an older SQLite installation queued
        schema.execute(
            "UPDATE jobs SET integration_id = COALESCE("
            " json_extract(payload, '$.integration_id'),"
            " (SELECT d.integration_id FROM webhook_deliveries AS d"
            "  WHERE d.id = json_extract(jobs.payload, '$.delivery_id')),"
            " (SELECT e.integration_id FROM external_issues AS e"
            "  WHERE e.id = json_extract(jobs.payload, '$.external_issue_id')), 0)"
        )
    # A claim is an index seek whatever the backlog (no sort of the queue).
    schema.execute("DROP INDEX IF EXISTS jobs_ready")
    schema.execute("CREATE INDEX jobs_due ON jobs (state, integration_id, run_at)")
    # Counts by state (GET /metrics), and running jobs by lease: the oldest
    # expired lease, the running jobs of each integration.
    schema.execute("CREATE INDEX jobs_state ON jobs (state, lease_until)")


@core.step
def m0014_lanes_and_tracker_health(schema: Schema) -> None:
    # A job's lane is what claims share workers out by: the integration
    # whose tracker it calls, or (negated) that integration's inbound
    # applies, which must never wait behind its tracker's calls.
    schema.execute("ALTER TABLE jobs RENAME COLUMN integration_id TO lane")
    schema.execute("UPDATE jobs SET lane = -lane WHERE kind = 'delivery.process'")
    # The organization a job works for (0: several or none): claims cap
    # one organization's jobs as they cap one lane's.
    schema.execute(
        "ALTER TABLE jobs ADD COLUMN organization_id INTEGER NOT NULL DEFAULT 0"
    )
    if schema.dialect == "sqlite":  # jobs an older SQLite installation queued
        schema.execute(
            "UPDATE jobs SET organization_id ="
            " COALESCE(json_extract(payload, '$.organization_id'), 0)"
        )
    # A tracker that stopped answering (timeouts, refused connections): its
    # jobs wait for a probe instead of holding worker slots (host.breakers).
    schema.execute(
        """CREATE TABLE tracker_health (
            integration_id INTEGER PRIMARY KEY
                REFERENCES integrations(id) ON DELETE CASCADE,
            failures INTEGER NOT NULL,
            failing_since REAL NOT NULL,
            last_error TEXT NOT NULL,
            opened_at REAL,
            probe_at REAL,
            wait_seconds REAL
        )"""
    )


@core.step
def m0015_one_job_index(schema: Schema) -> None:
    # Every webhook inserts a job and every claim and finish changes its
    # state: each index costs on all three. Running jobs are few (at most
    # the workers' slots), so finding them through jobs_due's state prefix
    # and filtering their leases costs nothing a second index would save.
    schema.execute("DROP INDEX IF EXISTS jobs_state")


@core.step
def m0016_event_times_per_field(schema: Schema) -> None:
    # Which change of an issue is the newest is known per field: a late
    # assignee change is not stale because a newer status change came
    # first (Jira DC sends its webhooks asynchronously, in any order).
    schema.execute(
        """CREATE TABLE issue_event_times (
            external_issue_id INTEGER NOT NULL
                REFERENCES external_issues(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            PRIMARY KEY (external_issue_id, field)
        ) WITHOUT ROWID"""
    )
    for field in ("assignee", "status", "key"):
        schema.execute(
            "INSERT INTO issue_event_times (external_issue_id, field, occurred_at)"
            " SELECT id, ?, last_event_at FROM external_issues"
            " WHERE last_event_at IS NOT NULL",
            [field],
        )
    schema.execute("ALTER TABLE external_issues DROP COLUMN last_event_at")


@core.step
def m0017_idempotency_keys(schema: Schema) -> None:
    # The first answer to a POST sent with an Idempotency-Key, for a day.
    schema.execute(
        """CREATE TABLE idempotency_keys (
            organization_id INTEGER NOT NULL
                REFERENCES organizations(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            started_at REAL NOT NULL,
            status INTEGER,
            body TEXT,
            PRIMARY KEY (organization_id, key)
        )"""
    )
    schema.execute("CREATE INDEX idempotency_keys_age ON idempotency_keys (started_at)")


@core.step
def m0018_reconcile_checks(schema: Schema) -> None:
    # Each pass checks a batch of linked issues still exist; this is where
    # the last batch ended (an external issue id; 0: start again).
    schema.execute(
        "ALTER TABLE reconcile_passes ADD COLUMN checked_after INTEGER NOT NULL"
        " DEFAULT 0"
    )


@core.step
def m0019_reconcile_pass_lease(schema: Schema) -> None:
    # While a pass runs it holds its integration (until this time), so two
    # workers or hosts never reconcile one integration at once.
    schema.execute("ALTER TABLE reconcile_passes ADD COLUMN running_until REAL")


@core.step
def m0020_events(schema: Schema) -> None:
    # Every change the host makes or records, written in the change's own
    # transaction: the application's change feed (host.services.events).
    # ``tx`` orders the feed where transactions commit out of id order
    # (PostgreSQL: the writing transaction's id; SQLite, one writer: 0).
    schema.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL
                REFERENCES organizations(id) ON DELETE CASCADE,
            tx INTEGER NOT NULL,
            type TEXT NOT NULL,
            group_id INTEGER,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX events_feed ON events (organization_id, tx, id)")
    # Where the retention sweep has deleted up to: a cursor before it may
    # have missed events (one row).
    schema.execute(
        """CREATE TABLE event_trims (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tx INTEGER NOT NULL,
            event_id INTEGER NOT NULL
        )"""
    )


@core.step
def m0021_hooks(schema: Schema) -> None:
    # An organization's webhook subscriptions: where each has got to in the
    # change feed, and whether a job is on its way to send what follows.
    schema.execute(
        """CREATE TABLE hooks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL
                REFERENCES organizations(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            events TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            secret TEXT NOT NULL,
            position_tx INTEGER NOT NULL,
            position_id INTEGER NOT NULL,
            scheduled INTEGER NOT NULL DEFAULT 0,
            failing_since REAL,
            disabled_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute("CREATE INDEX hooks_organization ON hooks (organization_id)")
    # Every attempt to deliver an event to a hook, kept with the events.
    schema.execute(
        """CREATE TABLE hook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hook_id INTEGER NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        "CREATE INDEX hook_deliveries_hook ON hook_deliveries (hook_id, event_id)"
    )


@core.step
def m0022_ticket_rules(schema: Schema) -> None:
    # Rules that create a tracker issue for new groups that match, and which
    # group each rule has acted on (once per group, whatever retries).
    schema.execute(
        """CREATE TABLE ticket_rules (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id INTEGER NOT NULL
                REFERENCES organizations(id) ON DELETE CASCADE,
            integration_id INTEGER NOT NULL
                REFERENCES integrations(id) ON DELETE CASCADE,
            title_matches TEXT,
            culprit_matches TEXT,
            fields TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    schema.execute(
        "CREATE INDEX ticket_rules_organization ON ticket_rules (organization_id)"
    )
    schema.execute(
        """CREATE TABLE rule_runs (
            rule_id INTEGER NOT NULL REFERENCES ticket_rules(id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            state TEXT NOT NULL,
            external_issue_id INTEGER,
            error TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (rule_id, group_id)
        )"""
    )


def _rebuild_with_autoincrement(schema: Schema, table: str) -> None:
    [(sql,)] = schema.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    )
    if "AUTOINCREMENT" in sql:
        return
    indexes = [
        row[0]
        for row in schema.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            [table],
        )
    ]
    rebuilt = sql.replace(
        "id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1
    ).replace(f"CREATE TABLE {table}", f"CREATE TABLE {table}__rebuilt", 1)
    schema.execute(rebuilt)
    schema.execute(f"INSERT INTO {table}__rebuilt SELECT * FROM {table}")
    schema.execute(f"DROP TABLE {table}")
    schema.execute(f"ALTER TABLE {table}__rebuilt RENAME TO {table}")
    for index in indexes:
        schema.execute(index)


def pending_names(engine: Engine, plugin_sets: list[MigrationSet]) -> list[str]:
    """``set:name`` of every migration not yet applied, in apply order."""
    return [
        f"{migrations.name}:{name}"
        for migrations in [core, *plugin_sets]
        for name in migrations.pending(engine)
    ]


def apply_all(engine: Engine, plugin_sets: list[MigrationSet]) -> list[str]:
    """Apply the core set, then each plugin set; return what was applied.

    One transaction, under the engine's migration lock: hosts starting
    together wait for the first, then find nothing left to apply.
    """
    with engine.migrating():
        ensure_record_table(engine)
        return [
            f"{migrations.name}:{name}"
            for migrations in [core, *plugin_sets]
            for name in migrations.apply(engine)
        ]
