"""Secrets at rest: sealed in the database, opened with the host's key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from host import sealing
from host.sealing import SecretBox, SecretKeyError
from host.store import Store
from tests.conftest import install_tiny

SECRET = "tiny-secret-4f1c2a9e"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----MIIEvQ-pipeline-7d3e"
WEBHOOK_TOKEN = "eyJhbGciOiJIUzI1NiJ9.forwarded-token-91b2"


@pytest.mark.sqlite_only
def test_a_copy_of_the_database_reveals_no_secret(host, org, config):
    integration = install_tiny(host, org)
    host.store.integrations.set_credentials(integration.id, {"secret": SECRET})
    pipeline_hash = "p" * 64
    with host.store.transaction():
        host.store.pipelines.create(
            pipeline_hash, "tiny", org.id, host.clock() + 60, now=host.clock()
        )
        host.store.pipelines.update(pipeline_hash, 1, {"private_key": PRIVATE_KEY})
        forward_id = host.store.deliveries.add_forward(
            "eu", "tiny", f"hook/{WEBHOOK_TOKEN}/", {}, {}, b"{}"
        )

    # Every secret reads back through the store...
    assert host.store.integrations.credentials(integration.id) == {"secret": SECRET}
    state = host.store.pipelines.get(pipeline_hash, now=host.clock())["state"]
    assert state == {"private_key": PRIVATE_KEY}
    assert host.store.deliveries.forward(forward_id)["path"] == (
        f"hook/{WEBHOOK_TOKEN}/"
    )
    # ...and none is in the files, WAL included.
    on_disk = b"".join(
        path.read_bytes()
        for path in config.database.parent.iterdir()
        if path.name.startswith(config.database.name) and not path.name.endswith(".key")
    )
    for secret in (SECRET, PRIVATE_KEY, WEBHOOK_TOKEN):
        assert secret.encode() not in on_disk
    assert b"sealed:" in on_disk


def test_the_default_key_file_is_made_private(tmp_path):
    Store.open(tmp_path / "t.db").close()
    key = tmp_path / "t.db.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(sealing.read_key_file(key)) == 1


def test_a_key_file_others_can_read_is_refused(tmp_path):
    Store.open(tmp_path / "t.db").close()
    (tmp_path / "t.db.key").chmod(0o644)
    with pytest.raises(SecretKeyError, match=r"readable by others.*chmod 600"):
        Store.open(tmp_path / "t.db")


def test_a_malformed_key_is_refused_with_how_to_make_one(tmp_path):
    with pytest.raises(SecretKeyError, match="--print-new-key"):
        Store.open(tmp_path / "t.db", secret_key="not-a-key")


def test_plaintext_from_an_older_version_is_sealed_at_start(host, org):
    integration = install_tiny(host, org)
    host.store.db.execute(
        "UPDATE credentials SET data = ? WHERE integration_id = ?",
        [f'{{"secret": "{SECRET}"}}', integration.id],
    )
    host.migrate()
    (stored,) = host.store.db.execute("SELECT data FROM credentials").fetchone()
    assert stored.startswith(sealing.PREFIX)
    assert SECRET not in stored
    assert host.store.integrations.credentials(integration.id) == {"secret": SECRET}


def test_a_wrong_key_stops_the_host_at_start(host, org, config):
    install_tiny(host, org)
    failed = _cli(config, "migrate", secret_key=sealing.new_key())
    assert failed.returncode != 0
    assert "cannot be opened with the configured secret key" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.sqlite_only
def test_rotating_the_key_file_keeps_every_secret_readable(host, org, config):
    integration = install_tiny(host, org)
    host.store.integrations.set_credentials(integration.id, {"secret": SECRET})
    key_path = sealing.key_file(config.database)
    old_keys = sealing.read_key_file(key_path)
    before = _stored(host)

    rotated = _cli(config, "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    # the shared secret, and the organization's own credentials
    assert "re-sealed 2 secret(s) with a new key" in rotated.stdout

    new_keys = sealing.read_key_file(key_path)
    assert len(new_keys) == 1 and new_keys != old_keys
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert _stored(host) != before
    # A process that was running all along opens the re-sealed value, and
    # what it seals now opens with the new key alone.
    assert host.store.integrations.credentials(integration.id) == {"secret": SECRET}
    host.store.integrations.set_credentials(integration.id, {"secret": "next"})
    fresh = Store.for_config(config)
    assert fresh.integrations.credentials(integration.id) == {"secret": "next"}
    with pytest.raises(SecretKeyError):
        SecretBox(old_keys).open(_stored(host))
    fresh.close()


def test_rotating_the_environment_key(tmp_path):
    old, new = sealing.new_key(), sealing.new_key()
    database = tmp_path / "t.db"
    store = Store.open(database, secret_key=old)
    store.migrate()
    integration_id = store.integrations.create("tiny", "x", "x", {})
    store.integrations.set_credentials(integration_id, {"secret": SECRET})
    store.close()
    config = tmp_path / "config.ini"
    config.write_text(f"[host]\ndatabase = {database}\n")

    rotated = _cli_at(config, "rotate-key", secret_key=f"{new},{old}")
    assert rotated.returncode == 0, rotated.stderr
    assert "Now set TRACKBRIDGE_SECRET_KEY to that key alone." in rotated.stdout
    reopened = Store.open(database, secret_key=new)
    assert reopened.integrations.credentials(integration_id) == {"secret": SECRET}
    with pytest.raises(SecretKeyError):
        Store.open(database, secret_key=old).integrations.credentials(integration_id)
    assert not sealing.key_file(database).exists()  # the variable was used


def test_print_new_key_gives_a_usable_key_and_changes_nothing(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text(f"[host]\ndatabase = {tmp_path / 't.db'}\n")
    printed = _cli_at(config, "rotate-key", "--print-new-key")
    key = printed.stdout.strip()
    box = SecretBox([key])
    assert box.open(box.seal("x")) == "x"


def _stored(host) -> str:
    return host.store.db.execute("SELECT data FROM credentials").fetchone()[0]


def _cli(config, *args: str, secret_key: str = "") -> subprocess.CompletedProcess:
    return _cli_at(config.source, *args, secret_key=secret_key)


def _cli_at(path, *args: str, secret_key: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACKBRIDGE_CONFIG": str(path)}
    env.pop("TRACKBRIDGE_SECRET_KEY", None)
    if secret_key:
        env["TRACKBRIDGE_SECRET_KEY"] = secret_key
    return subprocess.run(
        [sys.executable, "-m", "host.cli", *args],
        env=env,
        capture_output=True,
        text=True,
    )
