"""The command line, through click's runner and (for start-up) a real process."""

import json
import os
import subprocess
import sys

import click
import falcon.testing
import pytest
from click.testing import CliRunner

from host.cli import CliContext, build_cli
from host.plugins import get_plugin_manager
from tests import tiny_tracker
from tests.conftest import install_tiny, run_cli
from tests.contract import checked_app


@pytest.fixture
def run(config):
    pm = get_plugin_manager()
    pm.register(tiny_tracker, name="tiny")
    group = build_cli(pm)

    def invoke(*args):
        return CliRunner().invoke(group, list(args), obj=CliContext(config, pm))

    return invoke


def all_commands(group, path=()):
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))


def test_every_command_has_help(run, config):
    group = build_cli(get_plugin_manager())
    paths = list(all_commands(group))
    assert ("jobs", "retry") in paths and ("serve",) in paths
    for path in paths:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage:" in result.output


def test_organizations_members_and_tokens(run, config, host):
    assert run("org", "create", "acme", "--name", "Acme Inc").output == (
        "created organization acme (id 1)\n"
    )
    duplicate = run("org", "create", "acme")
    assert (duplicate.exit_code, duplicate.output) == (
        1,
        "Error: Organization 'acme' already exists.\n",
    )
    bad = run("org", "create", "Not A Slug")
    assert bad.exit_code == 1 and "slug: Use 1-50 lowercase letters" in bad.output
    assert run("org", "list").output == (
        "SLUG  NAME      REGION  ID\nacme  Acme Inc  -       1\n"
    )
    assert json.loads(run("org", "list", "--json").output) == [
        {"id": 1, "slug": "acme", "name": "Acme Inc", "region": None}
    ]

    assert (
        run(
            "member", "add", "--org", "acme", "ann@example.com", "--name", "Ann"
        ).exit_code
        == 0
    )
    assert run("member", "list", "--org", "acme").output == (
        "EMAIL            NAME  ID\nann@example.com  Ann   1\n"
    )
    assert run("member", "remove", "--org", "acme", "ANN@example.com").output == (
        "removed ANN@example.com from acme (0 group(s) unassigned)\n"
    )
    assert run("member", "list", "--org", "acme").output == "(none)\n"
    gone = run("member", "remove", "--org", "acme", "ann@example.com")
    assert (gone.exit_code, gone.output) == (
        1,
        "Error: No member with email 'ann@example.com'.\n",
    )
    run("member", "add", "--org", "acme", "ann@example.com", "--name", "Ann")
    missing = run("member", "add", "--org", "nope", "x@example.com")
    assert missing.output == "Error: Organization 'nope' not found.\n"

    token = run("token", "create", "--org", "acme").output.strip()
    assert token.startswith("tb_")
    client = falcon.testing.TestClient(checked_app(host))
    response = client.simulate_get(
        "/api/0/organizations/acme/members",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [m["email"] for m in response.json] == ["ann@example.com"]
    stored = host.store.db.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert token not in stored


def test_jobs_list_and_retry(run, host, clock):
    host.jobs.handlers["broken"] = lambda host, payload: 1 / 0
    job_id = host.jobs.enqueue("broken", {})
    host.jobs.enqueue("delivery.process", {"delivery_id": 999})
    for _ in range(host.config.jobs.max_attempts):
        host.store.jobs.claim("w", now=clock(), lease_seconds=1)
        host.store.jobs.bury(job_id, "w", 1, "ZeroDivisionError: division by zero")
    heading, row = run("jobs", "list", "--failed").output.splitlines()
    assert heading.split() == [
        "ID",
        "KIND",
        "STATE",
        "ATTEMPTS",
        "RUN",
        "AT",
        "LAST",
        "ERROR",
    ]
    assert row.split()[:3] == [str(job_id), "broken", "dead"]
    assert row.endswith("ZeroDivisionError: division by zero")
    as_json = json.loads(run("jobs", "list", "--json").output)
    assert {j["kind"] for j in as_json} == {"broken", "delivery.process"}
    # Times as ISO 8601 text, not Unix times.
    assert all(
        isinstance(j["run_at"], str) and j["run_at"].endswith("Z") for j in as_json
    )
    assert run("jobs", "retry", str(job_id)).output == f"job {job_id} queued again\n"
    again = run("jobs", "retry", str(job_id))
    assert (again.exit_code, again.output) == (
        1,
        f"Error: No dead-lettered job with id {job_id}.\n",
    )


def test_worker_once_runs_due_jobs(run, host):
    host.jobs.enqueue("delivery.process", {"delivery_id": 999})
    assert run("worker", "--once").output == "ran 1 job(s)\n"
    assert host.store.jobs.list()[0]["state"] == "done"


def test_plugins_lists_each_plugin_with_its_hooks(run):
    output = run("plugins").output
    lines = output.splitlines()
    start = lines.index("jira_server  (trackbridge 0.1.0)") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith(" "))
    assert {"register_providers", "setup_step_submit"} <= {
        line.strip() for line in lines[start:end]
    }
    listed = json.loads(run("plugins", "--json").output)
    tiny = next(p for p in listed if p["name"] == "tiny")
    assert "parse_webhook" in tiny["hooks"]


def test_a_plugin_adds_its_own_command(run, host):
    assert run("tiny-notes", "hello").output == "1 note(s)\n"
    assert run("tiny-notes", "again").output == "2 note(s)\n"


def test_config_redacts_secrets(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text("[host]\ndatabase = t.db\n[tiny]\napi_token = $TINY_TOKEN\n")
    env = {"TRACKBRIDGE_CONFIG": str(config), "TINY_TOKEN": "s3cr3t"}
    output = run_cli(env, "config")
    assert "api_token = ***" in output
    assert f"database = {tmp_path / 't.db'}" in output
    assert "s3cr3t" not in output


def test_migrate_reports_pending_then_applies(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text("[host]\ndatabase = t.db\n")
    env = {"TRACKBRIDGE_CONFIG": str(config)}
    pending = run_cli(env, "migrate", "--list").splitlines()
    assert pending[0] == "pending trackbridge:m0001_organizations"
    assert f"applied {len(pending)} migration(s)" in run_cli(env, "migrate")
    assert run_cli(env, "migrate", "--list") == "no pending migrations\n"


def test_a_broken_config_is_a_clear_error(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text("[host]\nworkers = lots\n")
    result = subprocess.run(
        [sys.executable, "-m", "host.cli", "org", "list"],
        env={**os.environ, "TRACKBRIDGE_CONFIG": str(config)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: Configuration error: {config}: [host] workers must be a whole"
        " number, not 'lots'\n"
    )


def test_install_prints_a_one_time_setup_link(run, host, org):
    output = run("install", "tiny", "--org", "acme").output
    lines = output.splitlines()
    assert lines[0] == "Open this link within 30 minutes to install tiny:"
    url, _, token = lines[1].partition("?link=")
    assert url == "http://tb.example/extensions/tiny/setup/"
    assert host.setup.redeem_link(token, "tiny").slug == "acme"
    unknown = run("install", "gitlab", "--org", "acme")
    assert (unknown.exit_code, unknown.output) == (
        1,
        "Error: Unknown provider gitlab; installed: jira, jira_server, tiny.\n",
    )


def test_integrations_and_deliveries_are_listed_with_headers(run, host, org):
    installed = install_tiny(host, org)
    listed = run("integrations", "list", "--org", "acme").output.splitlines()
    assert listed[0].split()[:5] == ["ID", "PROVIDER", "NAME", "TRACKER", "STATUS"]
    assert listed[1].split()[:4] == [
        str(installed.id),
        "tiny",
        "tiny.example",
        "tiny.example",
    ]
    (as_json,) = json.loads(
        run("integrations", "list", "--org", "acme", "--json").output
    )
    assert as_json["id"] == installed.id and "credentials" not in as_json
    shown = run("integrations", "show", str(installed.id), "--org", "acme").output
    assert "status          active" in shown
    assert f"trackbridge settings {installed.id} --org acme" in shown
    other = host.organizations.create("other")
    assert run("integrations", "list", "--org", "other").output == "(no integrations)\n"
    hidden = run("integrations", "show", str(installed.id), "--org", other.slug)
    assert hidden.exit_code == 1 and "not found in other" in hidden.output

    assert run("deliveries", "list", "--org", "acme").output == "(no deliveries)\n"
    with host.store.transaction():
        ok = host.store.deliveries.add(installed.id, "tiny", {}, b'{"n": 1}')
        bad = host.store.deliveries.add(installed.id, "tiny", {}, b'{"n": 2}')
        host.store.deliveries.mark(bad, "failed", "Not a tiny document.")
    failed = run("deliveries", "list", "--org", "acme", "--failed").output.splitlines()
    assert failed[0].split() == ["ID", "INTEGRATION", "RECEIVED", "STATUS", "ERROR"]
    assert [line.split()[0] for line in failed[1:]] == [str(bad)]
    assert failed[1].endswith("failed  Not a tiny document.")
    everything = json.loads(run("deliveries", "list", "--org", "acme", "--json").output)
    assert [d["id"] for d in everything] == [bad, ok]


def test_help_names_every_command_without_cutting_it_short(run):
    listing = run("--help").output
    commands = listing.split("Commands:")[1].splitlines()
    assert commands and not [line for line in commands if line.endswith("...")]
    assert (
        "Copy this (stopped) SQLite installation into an empty PostgreSQL database."
        in listing
    )
