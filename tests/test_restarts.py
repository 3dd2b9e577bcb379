"""Real ``trackbridge serve`` against what took it down before: a locked
database, slow clients, bad configuration, a killed gunicorn master, SIGTERM
in the middle of a burst. Bounded in count and time."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from host.config import load_config
from tests.comment_deliveries import applied, comment, post, prepare, wait_until_applied
from tests.conftest import REPO
from tests.servers import children, free_port, serving, wait_for

pytestmark = pytest.mark.e2e


def _env(config_path: Path) -> dict[str, str]:
    return {"TRACKBRIDGE_CONFIG": str(config_path), "PYTHONPATH": str(REPO)}


def _timed_get(port: int, path: str) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    return time.monotonic() - started, response


def test_a_locked_database_is_503_at_once_and_nothing_acknowledged_is_lost(tmp_path):
    config_path, group_id, path = prepare(tmp_path, "write_timeout_seconds = 1\n")
    database = load_config(config_path, env={}).database
    port = free_port()
    statuses: dict[int, int | None] = {}
    with serving(_env(config_path), port) as server:
        for n in range(5):
            statuses[n] = post(port, path, comment(n))
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "db.execute('BEGIN IMMEDIATE')\n"
                "print('locked', flush=True)\n"
                "time.sleep(float(sys.argv[2]))\n"
                "db.execute('ROLLBACK')\n",
                str(database),
                "5",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            seconds, health = _timed_get(port, "/healthz")
            assert seconds < 1.0, seconds
            assert health.status_code == 503
            assert "locked" in health.json()["detail"]
            for n in range(5, 8):
                started = time.monotonic()
                response = requests.post(
                    f"http://127.0.0.1:{port}{path}",
                    data=comment(n),
                    headers={"Content-Type": "application/json"},
                    timeout=10,
                )
                statuses[n] = response.status_code
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"]
                assert "locked" in response.json()["detail"]
                assert time.monotonic() - started < 2.5  # write_timeout_seconds = 1
        finally:
            holder.wait(30)
        wait_for(lambda: _timed_get(port, "/healthz")[1].ok, "healthz to recover")
        for n in range(8, 12):
            statuses[n] = post(port, path, comment(n))
        wait_until_applied(config_path)
        assert server.poll() is None, "serve (and its job worker) kept running"
    acknowledged = {n for n, status in statuses.items() if status == 200}
    assert acknowledged == set(range(5)) | set(range(8, 12)), statuses
    comments = applied(config_path, group_id)
    assert sorted(comments) == sorted(acknowledged)  # each once, none refused


def test_slow_clients_do_not_starve_healthz_or_webhooks(tmp_path):
    config_path, _, path = prepare(tmp_path)
    port = free_port()
    with serving(_env(config_path), port):
        slow = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                "\r\nContent-Length: 1000\r\n\r\n{".encode()
            )
            slow.append(sock)
        try:
            worst = 0.0
            for n in range(6):
                for sock in slow:
                    sock.sendall(b" ")  # one byte each, every round
                seconds, health = _timed_get(port, "/healthz")
                assert health.ok
                started = time.monotonic()
                assert post(port, path, comment(n), timeout=5) == 200
                worst = max(worst, seconds, time.monotonic() - started)
                time.sleep(0.3)
            assert worst < 1.0, worst
        finally:
            for sock in slow:
                sock.close()


#: (section, line, what the one line must say)
BAD_CONFIGURATION = [
    ("jobs", "poll_interval_seconds = inf", "poll_interval_seconds must be a finite"),
    ("jobs", "lease_seconds = nan", "[jobs] lease_seconds must be a finite"),
    ("jobs", "backoff_base_seconds = nan", "backoff_base_seconds must be a finite"),
    ("host", "bind = 127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
    ("host", "bind = 8011", "did you mean 127.0.0.1:8011?"),
    ("host", "log_level = verbose", "[host] log_level must be one of debug, info"),
    ("host", "public_url = javascript:alert(1)", "must be an absolute http(s) URL"),
    ("host", "public_url = http://tb.example/?x=1", "without a query or fragment"),
    ("host", "max_json_depth = 100000", "[host] max_json_depth must be at most 512"),
    ("host", "write_timeout_seconds = -1", "write_timeout_seconds must be at least"),
    ("host", "database = /dev/null/tb.db", "Cannot open the database at /dev/null"),
]


@pytest.mark.parametrize("section, line, message", BAD_CONFIGURATION)
def test_bad_configuration_stops_serve_with_one_line(tmp_path, section, line, message):
    config_path = tmp_path / "config.ini"
    config_path.write_text(f"[{section}]\n{line}\n")
    finished = subprocess.run(
        [sys.executable, "-m", "host.cli", "serve"],
        env={**os.environ, **_env(config_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert message in finished.stderr, finished.stderr
    if "database" not in message:
        assert str(config_path) in finished.stderr  # the file is named


def test_serve_refuses_a_busy_port_with_one_line(tmp_path):
    config_path, _, _ = prepare(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "host.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env={**os.environ, **_env(config_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 1
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in finished.stderr
    assert "--bind" in finished.stderr


def test_a_killed_gunicorn_master_leaves_nothing_holding_the_port(tmp_path):
    config_path, _, _ = prepare(tmp_path)
    port = free_port()
    with serving(_env(config_path), port) as first:
        master = next(p for p in children(first.pid) if b"gunicorn" in _cmdline(p))
        workers = children(master)
        assert workers
        os.kill(master, signal.SIGKILL)
        first.wait(60)
        assert first.returncode == 1  # it saw its web server die and stopped
        with serving(_env(config_path), port):  # at once, on the same port
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        for pid in workers:
            assert not _alive(pid), f"orphaned worker {pid} still runs"


def test_sigterm_during_a_burst_loses_nothing(tmp_path):
    config_path, group_id, path = prepare(tmp_path)
    port = free_port()
    acknowledged: list[int] = []
    lock = threading.Lock()
    numbers = itertools.count()
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            with lock:
                n = next(numbers)
            if post(port, path, comment(n), timeout=10) == 200:
                with lock:
                    acknowledged.append(n)
            else:
                time.sleep(0.01)  # stopping: refused at once, do not spin

    with serving(_env(config_path), port) as server:
        senders = [threading.Thread(target=send) for _ in range(4)]
        for thread in senders:
            thread.start()
        wait_for(lambda: len(acknowledged) >= 50, "a burst under way")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        stop.set()
        for thread in senders:
            thread.join(30)
        assert server.returncode == 0, server.stdout.read()
    # What the stopped worker had not applied yet is applied by the next one.
    subprocess.run(
        [sys.executable, "-m", "host.cli", "worker", "--once"],
        env={**os.environ, **_env(config_path)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    wait_until_applied(config_path)
    comments = applied(config_path, group_id)
    assert sorted(comments) == sorted(set(comments)), "applied twice"
    assert set(acknowledged) <= set(comments), "an acknowledged delivery was lost"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def test_a_worker_that_cannot_open_the_database_exits_and_the_master_goes_on(
    tmp_path,
):
    from host.serve import child_commands

    config_path = tmp_path / "config.ini"
    config_path.write_text("[host]\ndatabase = /dev/null/tb.db\n")
    process = subprocess.Popen(
        child_commands(f"127.0.0.1:{free_port()}", 1)["web"],
        env={**os.environ, **_env(config_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(3)
        assert process.poll() is None, "the master halted"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Cannot open the database at /dev/null/tb.db" in output
    assert "Traceback" not in output


def test_a_chunked_webhook_is_stored_and_applied(tmp_path):
    """No Content-Length: the body arrives in chunks (was read as empty)."""
    import http.client

    config_path, group_id, path = prepare(tmp_path)
    port = free_port()
    with serving(_env(config_path), port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = comment(1)
        connection.request(
            "POST",
            path,
            body=iter([body[:100], body[100:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 200, response.read()
        assert b'"received": true' in response.read()
        connection.close()
        wait_until_applied(config_path)
    assert applied(config_path, group_id) == [1]


def test_serve_starts_the_job_workers_asked_for(tmp_path):
    config_path, group_id, path = prepare(tmp_path)
    port = free_port()
    env = _env(config_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "host.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--job-workers", "3"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok,
            "the server",
        )
        workers = [
            p for p in children(process.pid) if b"host.cli\x00worker" in _cmdline(p)
        ]
        assert len(workers) == 3
        for n in range(10):
            assert post(port, path, comment(n)) == 200
        wait_until_applied(config_path)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert process.returncode == 0
    assert sorted(applied(config_path, group_id)) == list(range(10))


JIRA_DELAY = 4.0


def test_a_search_waiting_on_a_hung_jira_blocks_nothing_else(tmp_path):
    """The picker's Jira hangs: the search answers 504 at its deadline, and
    meanwhile webhooks and /healthz answer as usual."""
    from host.core import Host
    from tests.fake_jira import FakeJira

    with FakeJira() as jira:
        jira.delays["/rest/api/2/project"] = JIRA_DELAY
        config_path, group_id, path = prepare(
            tmp_path, "tracker_request_timeout_seconds = 2\n", jira_url=jira.url
        )
        host = Host.from_config(load_config(config_path, env={}))
        acme = host.organizations.get("acme")
        token = host.organizations.create_token(acme)
        integration_id = host.store.integrations.for_organization(acme.id)[0][0].id
        host.close()
        port = free_port()
        with serving(_env(config_path), port):
            searches = []

            def search():
                started = time.monotonic()
                answer = requests.get(
                    f"http://127.0.0.1:{port}/api/0/organizations/acme/integrations/"
                    f"{integration_id}/search?field=project&query=a",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=20,
                )
                searches.append((answer, time.monotonic() - started))

            searches_started = time.monotonic()
            hung = [threading.Thread(target=search) for _ in range(3)]
            for thread in hung:
                thread.start()
            time.sleep(0.3)  # the searches are waiting on Jira
            for n in range(5):
                seconds, health = _timed_get(port, "/healthz")
                assert health.ok and seconds < 1.0, seconds
                started = time.monotonic()
                assert post(port, path, comment(n), timeout=5) == 200
                assert time.monotonic() - started < 1.0
            for thread in hung:
                thread.join(30)
            wait_until_applied(config_path)
            # Jira answers the held searches before the host stops (else its
            # handler threads print a broken pipe into a later test's output).
            waited = time.monotonic() - searches_started
            time.sleep(max(0.0, JIRA_DELAY + 0.5 - waited))
    assert sorted(applied(config_path, group_id)) == list(range(5))
    for answer, seconds in searches:
        assert answer.status_code == 504, answer.text
        assert "did not answer within 2 s" in answer.json()["detail"]
        assert seconds < JIRA_DELAY  # answered at its deadline, not when Jira did


def test_a_hung_jira_of_one_organization_delays_nothing_of_another(tmp_path):
    """Organization slow's Jira hangs with six comments queued for it; acme's
    webhooks and its comments out to its own Jira flow meanwhile, through a
    real `trackbridge serve`, and slow's jobs wait, none given up."""
    from host.core import Host
    from host.services.groups import Source
    from tests.comment_deliveries import COMMENTED, add_tenant
    from tests.fake_jira import FakeJira, add_issue

    with FakeJira() as fast, FakeJira() as hung:
        for jira in (fast, hung):
            jira.personal_tokens["x"] = "svc"
            add_issue(jira, COMMENTED["issue"]["key"], COMMENTED["issue"]["id"])
        hung.delays["*"] = 3.0  # beyond tracker_timeout_seconds (1 s here)
        config_path, group_id, path = prepare(tmp_path, jira_url=fast.url)
        slow_group_id, _ = add_tenant(config_path, "slow", jira_url=hung.url)
        host = Host.from_config(load_config(config_path, env={}))
        try:
            for slug in ("acme", "slow"):
                organization = host.organizations.get(slug)
                [(integration, _)] = host.store.integrations.for_organization(
                    organization.id
                )
                host.integrations.update_config(
                    organization, integration.id, {"sync_comments": True}
                )
            slow = host.organizations.get("slow")
            slow_group = host.groups.get(slow, slow_group_id)
            for n in range(6):
                host.groups.add_comment(slow_group, f"to hung {n}", Source(user=True))
            token = host.organizations.create_token(host.organizations.get("acme"))
        finally:
            host.close()
        port = free_port()
        with serving(_env(config_path), port):
            started = time.monotonic()
            for n in range(5):
                assert post(port, path, comment(n), timeout=5) == 200
                answer = requests.post(
                    f"http://127.0.0.1:{port}/api/0/organizations/acme/groups/"
                    f"{group_id}/comments",
                    json={"text": f"to fast {n}"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5,
                )
                assert answer.status_code == 201, answer.text
            wait_for(
                lambda: (
                    len(applied(config_path, group_id)) == 5
                    and len(fast.seen("/rest/api/2/issue/PRJA-42/comment", "POST")) == 5
                ),
                "acme's webhooks and comments",
            )
            took = time.monotonic() - started
            jobs = _slow_jobs(config_path, slow.id)
    assert took < 10, f"acme waited {took:.1f} s behind slow's Jira"
    assert sorted(applied(config_path, group_id)) == list(range(5))
    # slow's jobs wait on its Jira (running, or postponed): none gave up.
    assert len(jobs) == 6 and {state for state, _ in jobs} <= {"queued", "running"}
    assert all(attempts <= 3 for _, attempts in jobs), jobs


def _slow_jobs(config_path: Path, organization_id: int) -> list[tuple[str, int]]:
    import sqlite3

    database = load_config(config_path, env={}).database
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(
            "SELECT state, attempts FROM jobs WHERE kind = 'sync.outbound'"
            " AND organization_id = ?",
            [organization_id],
        ).fetchall()
