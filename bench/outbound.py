"""Outbound cost: Jira HTTP calls per change sent to Jira, cold and warm.

    .venv/bin/python bench/outbound.py

In process, against the fake Jira HTTP server from the tests (a real server
on loopback). Each outbound hook runs as the sync job runs it; the figure is
how many requests Jira received. "cold" is the first change after start,
"warm" the same kind of change again within the metadata cache's lifetime.
The reference column is Sentry's Jira Server integration (reference §2, §4),
whose user searches and transitions are cached for 240 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import REPO, record  # noqa: F401  (REPO puts the repo on sys.path)

from host.config import load_config
from host.core import Host
from host.types import Comment, IntegrationSpec, TrackerIssue
from tests.fake_jira import FakeJira, add_issue

#: Sentry's calls per change: (cold, warm).
REFERENCE = {
    "assignee": (2, 1),  # assignable search (cached), PUT assignee
    "status": (3, 2),  # GET issue, GET transitions (cached), POST transition
    "comment": (1, 1),  # POST (or PUT) comment
}


def main() -> None:
    with tempfile.TemporaryDirectory() as directory, FakeJira() as jira:
        counts = measure(Path(directory), jira)
    record(
        "outbound",
        {
            kind: {
                "cold": cold,
                "warm": warm,
                "reference_cold": REFERENCE[kind][0],
                "reference_warm": REFERENCE[kind][1],
            }
            for kind, (cold, warm) in counts.items()
        },
    )


def measure(directory: Path, jira: FakeJira) -> dict[str, tuple[int, int]]:
    jira.personal_tokens["pat"] = "svc"
    jira.users["ann.k"] = {
        "name": "ann.k",
        "key": "ann.k",
        "displayName": "Ann K",
        "emailAddress": "ann@example.com",
    }
    jira.projects["PRJ"] = {
        "id": "10000",
        "key": "PRJ",
        "name": "PRJ",
        "statuses": ["1", "3", "4", "5"],
    }
    add_issue(jira, "PRJ-1", "10001")
    config = directory / "config.ini"
    config.write_text(
        "[host]\ndatabase = tb.db\nlog_level = warning\n"
        "allow_loopback_destinations = true\n"
    )
    host = Host.from_config(load_config(config, env={}))
    try:
        org = host.organizations.create("bench")
        integration, _ = host.integrations.install(
            org,
            "jira_server",
            IntegrationSpec(
                external_id="bench",
                name="bench",
                metadata={"base_url": jira.url, "auth_mode": "token"},
                credentials={
                    "webhook_secret": "s" * 32,
                    "personal_access_token": "pat",
                },
            ),
        )
        host.integrations.update_config(
            org,
            integration.id,
            {
                "sync_status_forward_mapping": {
                    "PRJ": {"on_resolve": "5", "on_unresolve": "4"}
                }
            },
        )
        _, org_integration = host.integrations.get(org, integration.id)
        with host.store.transaction():
            issue_id = host.store.integrations.upsert_external_issue(
                integration.id,
                TrackerIssue(
                    key="PRJ-1", external_id="10001", title="", description="", url=""
                ),
            )
        issue = host.store.integrations.external_issue_by_id(issue_id)
        member_id, _ = host.store.organizations.add_member(
            org.id, "ann@example.com", "Ann"
        )
        member = host.store.organizations.member(org.id, member_id)
        hook = host.hook
        common = {
            "host": host,
            "integration": integration,
            "org_integration": org_integration,
            "external_issue": issue,
        }

        def calls(action) -> int:
            before = len(jira.requests)
            action()
            return len(jira.requests) - before

        def assign():
            hook.sync_assignee_outbound(**common, assignee=member)

        def resolve(flag):
            return lambda: hook.sync_status_outbound(**common, resolved=flag)

        note = Comment(
            id=1, group_id=1, author_email=None, author_name="Ann", text="hi"
        )

        def comment():
            hook.sync_comment_outbound(**common, comment=note, external_comment_id=None)

        assignee = (calls(assign), calls(assign))
        # Resolve and unresolve twice: the second round is warm for each status.
        cold = calls(resolve(True)) + calls(resolve(False))
        warm = calls(resolve(True)) + calls(resolve(False))
        status = (cold // 2, warm // 2)
        comments = (calls(comment), calls(comment))
    finally:
        host.close()
    return {"assignee": assignee, "status": status, "comment": comments}


if __name__ == "__main__":
    main()
