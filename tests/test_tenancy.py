"""Issue 14 on the host's side: tokens with a lifecycle, ids never reused,
memberships of their own, page headers, retention and redacted gunicorn lines."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import subprocess
import time

from host import validation
from tests.conftest import install_tiny, run_cli
from tests.servers import free_port, wait_for


def cli_env(config):
    return {"TRACKBRIDGE_CONFIG": str(config.source)}


def test_a_token_revoked_in_another_process_is_refused_at_once(
    host, org, client, config
):
    token = host.organizations.create_token(org, "ci")
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.simulate_get("/api/0/organizations/acme", headers=headers).status_code
        == 200
    )
    listed = run_cli(cli_env(config), "token", "list", "--org", "acme", "--json")
    [entry] = [t for t in json.loads(listed) if t["label"] == "ci"]
    assert entry["prefix"] == token[:8]
    assert token not in listed
    run_cli(cli_env(config), "token", "revoke", str(entry["id"]), "--org", "acme")
    answer = client.simulate_get("/api/0/organizations/acme", headers=headers)
    assert (answer.status_code, answer.json) == (401, {"detail": "Invalid API token."})


def test_a_token_expires_and_can_revoke_itself(host, org, client, clock):
    token = host.organizations.create_token(org, expires_in=3600)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.simulate_get(
        "/api/0/organizations/acme/tokens", headers=headers
    ).json[0]["expires_at"]
    clock.advance(3601)
    assert (
        client.simulate_get("/api/0/organizations/acme", headers=headers).status_code
        == 401
    )
    other = host.organizations.create_token(org)
    mine = {"Authorization": f"Bearer {other}"}
    tokens = client.simulate_get("/api/0/organizations/acme/tokens", headers=mine).json
    own = tokens[-1]["id"]
    assert (
        client.simulate_delete(
            f"/api/0/organizations/acme/tokens/{own}", headers=mine
        ).status_code
        == 204
    )
    assert (
        client.simulate_get("/api/0/organizations/acme", headers=mine).status_code
        == 401
    )


def test_last_used_is_written_at_most_once_a_minute(
    host, org, client, clock, monkeypatch
):
    token = host.organizations.create_token(org)
    headers = {"Authorization": f"Bearer {token}"}
    writes = []
    execute = host.store.db.execute

    def spy(sql, params=()):
        if "SET last_used_at" in sql:
            writes.append(sql)
        return execute(sql, params)

    monkeypatch.setattr(host.store.db, "execute", spy)
    for _ in range(5):
        client.simulate_get("/api/0/organizations/acme", headers=headers)
    clock.advance(61)
    client.simulate_get("/api/0/organizations/acme", headers=headers)
    assert len(writes) == 2


def test_token_durations_are_checked():
    assert validation.duration("90d") == 90 * 86400
    assert validation.duration("12h") == 12 * 3600
    for bad in ("0d", "90", "d", "1y", "-1d"):
        try:
            validation.duration(bad)
        except Exception as ex:
            assert type(ex).__name__ == "ValidationError"
        else:
            raise AssertionError(bad)


def test_ids_are_never_reused_and_dead_letters_stay_with_their_organization(
    host, org, clock
):
    first = install_tiny(host, org, "one.example")
    with host.store.transaction():
        job = host.jobs.enqueue("integration.reconcile", {"integration_id": first.id})
        delivery = host.store.deliveries.add(first.id, "tiny", {}, b"{}")
        forward = host.store.deliveries.add_forward(
            "eu", "tiny", "hook/x", {}, {}, b"{}", integration_id=first.id
        )
    host.store.jobs.claim("w", now=clock(), lease_seconds=60)
    host.store.jobs.bury(job, "w", 1, "failed")
    host.integrations.remove(org, first.id)
    assert host.store.jobs.get(job) is None  # its jobs went with it
    assert host.store.deliveries.get(delivery) is None
    assert host.store.deliveries.forward(forward) is None
    other = host.organizations.create("beta")
    second = install_tiny(host, other, "two.example")
    assert second.id != first.id
    assert host.jobs.dead_letters(other, 50) == []
    with host.store.transaction():
        assert host.jobs.enqueue("integration.reconcile", {}) != job


def test_adding_an_existing_person_elsewhere_renames_nobody(host, org):
    ann, created = host.organizations.add_member(org, "ann@example.com", "Ann")
    assert created
    other = host.organizations.create("beta")
    theirs, _ = host.organizations.add_member(other, "ANN@example.com", "Mallory's Ann")
    assert host.organizations.members(org)[0].name == "Ann"
    assert theirs.name == "Mallory's Ann"
    again, created = host.organizations.add_member(org, "ann@example.com", "Annie")
    assert (again, created) == (ann, False)


def test_pages_forbid_framing_caching_and_unhashed_scripts(host, org, client):
    page = client.simulate_get("/extensions/tiny/setup")  # the sign-in form
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    for kind, body in re.findall(r"<(script|style)>(.*?)</\1>", page.text, re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy, kind
    api = client.simulate_get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers


def test_retention_deletes_old_finished_work_in_batches(host, org, clock):
    integration = install_tiny(host, org)
    with host.store.transaction():
        for n in range(3):
            host.store.deliveries.add(integration.id, "tiny", {}, b"%d" % n)
            host.jobs.enqueue("integration.reconcile", {"integration_id": 0})
    host.store.db.execute("UPDATE webhook_deliveries SET status = 'processed'")
    host.store.db.execute(
        "UPDATE webhook_deliveries SET status = 'received' WHERE id = (SELECT max(id)"
        " FROM webhook_deliveries)"
    )
    host.store.db.execute("UPDATE jobs SET state = 'done'")
    # Nothing is old yet.
    assert host.retention.sweep() == {
        "deliveries": 0,
        "jobs": 0,
        "dead_letters": 0,
        "events": 0,
        "hook_deliveries": 0,
        "idempotency_keys": 0,
    }
    clock.now = time.time() + 15 * 86400
    swept = host.retention.sweep()
    # the unapplied delivery stays, whatever its age
    assert swept == {
        "deliveries": 2,
        "jobs": 3,
        "dead_letters": 0,
        "events": 1,  # the integration's install, 15 days ago
        "hook_deliveries": 0,
        "idempotency_keys": 0,
    }
    assert [d["status"] for d in host.store.deliveries.recent()] == ["received"]


def test_a_cut_request_logs_no_webhook_token(tmp_path):
    """gunicorn's own lines (access log, a request cut by its body timeout)
    name the request; under ``trackbridge serve`` the token is redacted."""
    from host.serve import child_commands

    (tmp_path / "config.ini").write_text(
        "[host]\ndatabase = tb.db\nbody_timeout_seconds = 1\n"
    )
    port = free_port()
    command = child_commands(f"127.0.0.1:{port}", 1)["web"]
    command[-1:-1] = ["--access-logfile", "-"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"TRACKBRIDGE_CONFIG": str(tmp_path / "config.ini"), "PATH": ""},
    )
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6InNlY3JldC1pZCJ9.c2lnbmF0dXJlLXRoYXQtbGVha3M"
    try:
        wait_for(lambda: _listening(port), "gunicorn to listen")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST /extensions/jira-server/issue-updated/{secret}/ HTTP/1.1\r\n"
                "Host: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n{".encode()
            )
            answer = sock.recv(4096).decode()  # the body never comes
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert answer.startswith("HTTP/1.1 408")
    assert '"detail": "The request body did not arrive within 1 s' in answer
    assert "POST /extensions/jira-server/issue-updated/[redacted]/" in output
    assert secret not in output
    assert secret.split(".")[1] not in output


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True
