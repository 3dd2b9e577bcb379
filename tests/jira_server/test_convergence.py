"""Randomized: whatever the interleaving, host and Jira end in agreement.

Changes are made on both sides of a few linked issues (the host's through
its API, synced out by the real job worker; a Jira user's in the fake Jira),
and every webhook Jira would send (``FakeJira.outbox``) is delivered at
once, later in shuffled order, or never. After the last change, the late
ones arrive, one reconciliation pass runs, and each group and its Jira issue
must agree on assignee, status and comments. Example counts are fixed and
derandomized, so a failure is reproducible.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from pathlib import Path

import falcon.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.config import load_config
from host.core import Host
from host.jobs import Worker
from tests.conftest import linked_group, write_config
from tests.contract import checked_app
from tests.fake_jira import STATUSES, FakeJira, add_comment, add_issue, change
from tests.fake_jira_create import add_project
from tests.jira_server.conftest import install_svc, webhook_token

IDENTITY = "jira.example.org#token:svc"
ISSUES = ("PRJ-1", "PRJ-2")
PEOPLE = ("ann", "bob", None)
DONE = {
    status["id"] for status in STATUSES if status["statusCategory"]["key"] == "done"
}
CAROL = {"name": "carol", "key": "carol", "displayName": "Carol"}
NOTE = re.compile(r"(host|jira) note \d+")

issue = st.sampled_from(ISSUES)
OPERATIONS = st.one_of(
    st.tuples(st.just("host assigns"), issue, st.sampled_from(PEOPLE)),
    st.tuples(st.just("host resolves"), issue, st.booleans()),
    st.tuples(st.just("host comments"), issue, st.none()),
    st.tuples(st.just("jira assigns"), issue, st.sampled_from(PEOPLE)),
    st.tuples(st.just("jira moves"), issue, st.sampled_from(["1", "3", "5", "6"])),
    st.tuples(st.just("jira comments"), issue, st.none()),
)
#: What happens to each webhook: delivered now, later (reordered), or lost.
FATES = st.sampled_from(["now", "now", "later", "lost"])


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    operations=st.lists(st.tuples(OPERATIONS, FATES), min_size=3, max_size=10),
    seed=st.integers(0, 1000),
)
def test_host_and_jira_agree_after_any_interleaving(operations, seed):
    with tempfile.TemporaryDirectory() as directory, FakeJira() as jira:
        world = World(Path(directory), jira)
        try:
            world.play(operations, random.Random(seed))
            world.settle()
            for key in ISSUES:
                assert world.host_state(key) == world.jira_state(key), (key, operations)
        finally:
            world.close()


class World:
    """A host with one Jira integration (acting as ``svc``) and a group
    linked to each of ``ISSUES``, all syncs on both ways."""

    def __init__(self, directory: Path, jira: FakeJira) -> None:
        self.jira = jira
        for name in ("ann", "bob"):
            jira.users[name] = {"name": name, "key": name, "displayName": name.title(),
                                "emailAddress": f"{name}@example.com"}  # fmt: skip
        add_project(jira, "PRJ", "10000", "Project", statuses=("1", "3", "4", "5", "6"))
        config = load_config(write_config(directory, "log_level = warning\n"), env={})
        self.host = Host.from_config(config)
        self.host.clock = time.time
        self.client = falcon.testing.TestClient(checked_app(self.host))
        organization = self.host.organizations.create("acme")
        self.token = self.host.organizations.create_token(organization)
        integration = install_svc(self.host, organization, jira, IDENTITY)
        self.integration = integration
        self.host.integrations.update_config(
            organization,
            integration.id,
            {
                "sync_forward_assignment": True,
                "sync_reverse_assignment": True,
                "sync_status_forward": True,
                "sync_status_reverse": True,
                "sync_comments": True,
                "sync_comments_reverse": True,
                "sync_status_forward_mapping": {
                    "PRJ": {"on_resolve": "5", "on_unresolve": "4"}
                },
            },
        )
        for name in ("ann", "bob"):
            self.host.store.organizations.add_member(
                organization.id, f"{name}@example.com", name.title()
            )
        self.groups = {}
        for number, key in enumerate(ISSUES, start=1):
            add_issue(jira, key, str(10_000 + number), project="PRJ")
            group = linked_group(
                self.host, organization, integration.id, key, 10_000 + number, title=key
            )
            self.groups[key] = group.id
        self.worker = Worker(self.host, name="test", concurrency=1)
        self.late: list[bytes] = []
        self.comments = 0

    # ---- playing ----

    def play(self, operations, rng: random.Random) -> None:
        for (kind, key, value), fate in operations:
            self._do(kind, key, value)
            self._drain()
            self._route(fate, rng)
            self._drain()
            self._route(fate, rng)  # what the jobs wrote to Jira meanwhile

    def _do(self, kind: str, key: str, value) -> None:
        group = self.groups[key]
        if kind == "host assigns":
            email = f"{value}@example.com" if value else None
            self._api("put", f"/groups/{group}", {"assignee": email})
        elif kind == "host resolves":
            self._api("put", f"/groups/{group}",
                      {"status": "resolved" if value else "unresolved"})  # fmt: skip
        elif kind == "host comments":
            self.comments += 1
            self._api("post", f"/groups/{group}/comments",
                      {"text": f"host note {self.comments}"})  # fmt: skip
        elif kind == "jira assigns":
            change(self.jira, key, "assignee", value, by=CAROL)
        elif kind == "jira moves":
            if self.jira.issues[key]["fields"]["status"]["id"] != value:
                change(self.jira, key, "status", value, by=CAROL)
        else:
            self.comments += 1
            add_comment(self.jira, key, f"jira note {self.comments}", author="carol")
        time.sleep(0.002)  # Jira stamps changes to the millisecond

    def _route(self, fate: str, rng: random.Random) -> None:
        sent, self.jira.state.outbox[:] = list(self.jira.state.outbox), []
        for body in sent:
            if fate == "now":
                self._deliver(body)
            elif fate == "later":
                self.late.insert(rng.randrange(len(self.late) + 1), body)

    def settle(self) -> None:
        """The late webhooks arrive; then one reconciliation pass."""
        for body in self.late:
            self._deliver(body)
        self._drain()
        self.jira.state.outbox.clear()
        assert self.host.reconcile.run(self.integration.id) is not None
        self._drain()
        assert self.host.store.jobs.list(("queued", "running")) == []

    def _deliver(self, body: bytes) -> None:
        answer = self.client.simulate_post(
            f"/extensions/jira-server/issue-updated/{webhook_token({'id': IDENTITY})}/",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text

    def _drain(self) -> None:
        while self.worker.run_once() is not None:
            pass
        dead = self.host.store.jobs.list(("dead",))
        assert dead == [], dead

    def _api(self, method: str, path: str, body: dict) -> None:
        answer = getattr(self.client, f"simulate_{method}")(
            f"/api/0/organizations/acme{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code in (200, 201), answer.text

    # ---- comparing ----

    def host_state(self, key: str) -> tuple:
        organization = self.host.organizations.get("acme")
        group = self.host.groups.get(organization, self.groups[key])
        notes = sorted(_note(c["text"]) for c in self.host.groups.comments(group))
        return (group.assignee_email, group.status == "resolved", notes)

    def jira_state(self, key: str) -> tuple:
        fields = self.jira.issues[key]["fields"]
        assignee = (fields.get("assignee") or {}).get("emailAddress")
        notes = sorted(
            _note(body) for body in self.jira.issues[key]["comments"].values()
        )
        return (assignee, fields["status"]["id"] in DONE, notes)

    def close(self) -> None:
        self.host.close()


def _note(text: str) -> str:
    """The note a comment carries, on either side (the host posts its
    comments to Jira as "X wrote: {quote}...{quote}")."""
    found = NOTE.search(text)
    return found.group(0) if found else text
