"""Real Jira comment deliveries for tests that run real processes: a
database with one linked issue, distinct comment payloads, posting them, and
counting what was applied. The payload is the shape of Jira Server's
``issue_commented`` webhook (``../shared/fixtures``), cut to what is read,
so these tests need nothing outside the repository."""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from host.config import load_config
from host.core import Host
from host.store import Store
from host.types import IntegrationSpec
from tests.conftest import linked_group, write_config

SECRET = "comment-deliveries-webhook-secret-32b"
EXTERNAL_ID = "jira.deliveries.example#token:trackbridge"
PREFIX = "test comment "
COMMENTED = {
    "timestamp": 1_700_000_000_000,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_commented",
    "issue": {"id": "10231", "key": "PRJA-42", "fields": {"summary": "KeyError"}},
    "comment": {
        "id": "10118",
        "author": {
            "name": "ann",
            "key": "ann",
            "emailAddress": "ann@example.com",
            "displayName": "Ann",
        },
        "body": "a comment",
        "created": "2019-06-28T21:32:16.057+0000",
        "updated": "2019-06-28T21:32:16.057+0000",
    },
}


def prepare(
    directory: Path,
    host_keys: str = "",
    issue: dict | None = None,
    jira_url: str = "http://127.0.0.1:9",
    database: str = "trackbridge.db",
    jobs_keys: str = "",
):
    """A config and database: one organization, one Jira integration that
    applies comments, one group linked to the payload's issue.

    :param host_keys: more ``[host]`` lines (``write_timeout_seconds = 1``).
    :param jira_url: the Jira the integration calls (default: nothing listens).
    :param database: where the data lives (the ``database`` fixture's value).
    :param jobs_keys: more ``[jobs]`` lines.
    :returns: (config path, group id, webhook URL path)
    """
    issue = issue or COMMENTED["issue"]
    config_path = write_config(
        directory,
        "log_level = warning\n"
        + host_keys
        + "[jobs]\nlease_seconds = 2\ntracker_timeout_seconds = 1\n"
        "backoff_base_seconds = 0.1\n"
        "backoff_max_seconds = 1\npoll_interval_seconds = 0.05\n" + jobs_keys,
        database=database,
    )
    group_id, path = add_tenant(config_path, "acme", issue, jira_url, EXTERNAL_ID)
    return config_path, group_id, path


def add_tenant(
    config_path: Path,
    slug: str,
    issue: dict | None = None,
    jira_url: str = "http://127.0.0.1:9",
    external_id: str | None = None,
) -> tuple[int, str]:
    """Another organization with its own Jira integration (its own jobs'
    lanes) that applies comments, and a group linked to ``issue``.

    :returns: (group id, webhook URL path)
    """
    issue = issue or COMMENTED["issue"]
    external_id = external_id or f"jira.{slug}.example#token:trackbridge"
    host = Host.from_config(load_config(config_path, env={}))
    try:
        organization = host.organizations.create(slug)
        integration, _ = host.integrations.install(
            organization,
            "jira_server",
            IntegrationSpec(
                external_id=external_id,
                name=slug,
                metadata={"base_url": jira_url, "auth_mode": "token"},
                credentials={"personal_access_token": "x"},
                shared_credentials={"webhook_secret": SECRET},
            ),
        )
        host.integrations.update_config(
            organization, integration.id, {"sync_comments_reverse": True}
        )
        group = linked_group(
            host, organization, integration.id, issue["key"], issue["id"],
            url=f"{jira_url}/browse/{issue['key']}",
        )  # fmt: skip
    finally:
        host.close()
    token = jwt.encode({"id": external_id}, SECRET, algorithm="HS256")
    return group.id, f"/extensions/jira-server/issue-updated/{token}/"


def comment(number: int, payload: dict | None = None) -> bytes:
    """Delivery ``number``: its own comment id, text and timestamp."""
    body = copy.deepcopy(payload or COMMENTED)
    body["timestamp"] = 1_700_000_000_000 + number
    body["comment"]["id"] = str(900_000 + number)
    body["comment"]["body"] = f"{PREFIX}{number}"
    return json.dumps(body).encode()


def post(port: int, path: str, body: bytes, timeout: float = 30) -> int | None:
    """The status the host answered, or ``None`` when it did not answer."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        status = connection.getresponse().status
        connection.close()
    except (OSError, http.client.HTTPException):
        return None
    return status


def deliver_all(
    count: int,
    senders: int,
    send: Callable[[int], int | None],
    meanwhile: Callable[[threading.Event, Callable[[], int]], None],
) -> tuple[list[int], list[int]]:
    """Deliveries ``0 .. count - 1`` from ``senders`` threads (``send(n)``
    posts one and returns the status, ``None`` for no answer), while
    ``meanwhile(stop, answered)`` runs in a thread of its own until they are
    all sent. ``answered()`` is how many have had their answer (or none) so
    far: chaos paced by it does the same to every run however fast the
    machine, where chaos paced by the clock cut four times as many requests
    on a slow one.

    :returns: the numbers acknowledged (2xx), and those refused or cut.
    """
    acknowledged: list[int] = []
    refused: list[int] = []
    numbers = iter(range(count))
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            status = send(number)
            ok = status is not None and 200 <= status < 300
            with lock:
                (acknowledged if ok else refused).append(number)

    sending = [threading.Thread(target=sender) for _ in range(senders)]
    stop = threading.Event()

    def answered() -> int:
        with lock:
            return len(acknowledged) + len(refused)

    chaos = threading.Thread(target=meanwhile, args=(stop, answered))
    for thread in [*sending, chaos]:
        thread.start()
    for thread in sending:
        thread.join(300)
    stop.set()
    chaos.join(60)
    return acknowledged, refused


def tally(comments: list[int], acknowledged: list[int], refused: list[int]) -> dict:
    """What went wrong, by kind: acknowledged but never applied (lost),
    applied more than once (doubled), applied but never sent (unasked)."""
    return {
        "lost": sorted(set(acknowledged) - set(comments)),
        "doubled": sorted({n for n in comments if comments.count(n) > 1}),
        "unasked": sorted(set(comments) - set(acknowledged) - set(refused)),
    }


def reading(config_path: Path) -> Store:
    """The test's database, opened beside the processes under test."""
    return Store.for_config(load_config(config_path, env={}))


def wait_until_applied(
    config_path: Path, timeout: float = 120, kind: str = "delivery.process"
) -> None:
    """Until no ``kind`` job is queued or running; none may be dead-lettered."""
    deadline = time.monotonic() + timeout
    left = None
    store = reading(config_path)
    try:
        while time.monotonic() < deadline:
            left = store.db.execute(
                "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
                " AND kind = ?",
                [kind],
            ).fetchone()[0]
            dead = store.db.execute(
                "SELECT count(*) FROM jobs WHERE state = 'dead'"
            ).fetchone()[0]
            assert dead == 0, "a job was dead-lettered"
            if not left:
                return
            time.sleep(0.2)
    finally:
        store.close()
    pytest.fail(f"{left} job(s) still not applied after {timeout} s")


def applied(config_path: Path, group_id: int) -> list[int]:
    """The numbers of the comments on the group (once per copy)."""
    store = reading(config_path)
    try:
        texts = [
            row[0]
            for row in store.db.execute(
                "SELECT text FROM comments WHERE group_id = ?", [group_id]
            )
        ]
    finally:
        store.close()
    return [int(t.split(PREFIX, 1)[1].split()[0]) for t in texts if PREFIX in t]
