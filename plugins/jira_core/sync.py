"""Outbound sync, for both Jira providers: a change made in the host,
applied to the Jira issue.

Each function returns a :class:`SyncResult` the host records on the group:
applied, or a clear "could not" (no matching Jira user, no status mapping, a
transition that needs a field) that is not retried. What can pass (5xx,
429 with ``Retry-After``, timeouts) raises :class:`RetryLater`. A 404 on the
issue means it is gone: the host unlinks it. ``echo`` is what Jira's webhook
will report for the write, so the host does not apply it back.

What differs between Server and Cloud is their
:class:`~plugins.jira_core.dialect.Dialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from host.errors import RetryLater
from host.types import Comment, ExternalIssue, Member, SyncResult
from plugins.jira_core import cache
from plugins.jira_core.client import JiraClient, JiraError, dicts, jira_path, require
from plugins.jira_core.dialect import Dialect

T = TypeVar("T")

#: Organization config: member email -> Jira user (a name on Server, an
#: accountId on Cloud), tried before email.
USER_MAPPINGS = "user_mappings"
#: Organization config: Jira project id -> {"on_resolve", "on_unresolve"}.
STATUS_MAPPING = "sync_status_forward_mapping"


def assignee(
    dialect: Dialect,
    host,
    integration,
    org_integration,
    issue: ExternalIssue,
    member: Member | None,
) -> SyncResult:
    client = dialect.client(host, integration)
    path = jira_path(dialect.api + "/issue/{}/assignee", issue.key)
    user_field = dialect.user_field

    def assign() -> SyncResult:
        if member is None:
            client.request("PUT", path, json_body={user_field: None})
            return SyncResult(applied=True, message="Unassigned in Jira.", echo="")
        user = find_user(
            dialect,
            host,
            integration,
            client,
            org_integration.config,
            issue.key,
            member,
        )
        if user is None:
            return SyncResult(
                applied=False,
                message=f"No Jira user assignable to {issue.key} matches "
                f"{member.email}; nothing was sent.",
            )
        client.request("PUT", path, json_body={user_field: user[user_field]})
        return SyncResult(
            applied=True,
            message="Assigned to"
            f" {user.get('displayName') or user[user_field]} in Jira.",
            echo=user.get("key") or user[user_field],
        )

    return _guard(issue, assign)


def find_user(
    dialect: Dialect,
    host,
    integration,
    client: JiraClient,
    config,
    issue_key: str,
    member: Member,
) -> dict | None:
    """The Jira user for a member: the organization's mapping (a user name
    on Server, an accountId on Cloud), else the email.

    Searches are cached for a few minutes, as Sentry caches them: assigning
    the same people again and again then costs one call, the PUT.
    """
    mapped = (config.get(USER_MAPPINGS) or {}).get(member.email.lower())
    user_field = dialect.user_field

    def search(username: str) -> list[dict]:
        return cache.for_host(host).get_or_load(
            (cache.scope(integration), "assignable", issue_key, username.lower()),
            lambda: dicts(
                client.request(
                    "GET",
                    dialect.api + "/user/assignable/search",
                    params={"issueKey": issue_key, dialect.user_search: username},
                    expect=list,
                )
            ),
        )

    if mapped:
        for user in search(mapped):
            if isinstance(user.get(user_field), str) and user[user_field].lower() == (
                mapped.lower()
            ):
                return user
    candidates = search(member.email)
    return next(
        (
            user
            for user in candidates
            if isinstance(user.get(user_field), str)
            and str(user.get("emailAddress") or "").lower() == member.email.lower()
        ),
        None,
    )


def status(
    dialect: Dialect,
    host,
    integration,
    org_integration,
    issue: ExternalIssue,
    resolved: bool,
) -> SyncResult:
    client = dialect.client(host, integration)

    def transition() -> SyncResult:
        current = client.request(
            "GET",
            jira_path(dialect.api + "/issue/{}", issue.key),
            params={"fields": "status,project"},
        )
        fields = _object(current.get("fields"))
        project = _object(fields.get("project"))
        rule = (org_integration.config.get(STATUS_MAPPING) or {}).get(
            str(project.get("id"))
        )
        word = "resolved" if resolved else "unresolved"
        if not rule:
            return SyncResult(
                applied=False,
                message=f"No status mapping for Jira project {project.get('key')}; "
                f"{issue.key} was left as it is.",
            )
        target = str(rule["on_resolve" if resolved else "on_unresolve"])
        if str((fields.get("status") or {}).get("id")) == target:
            return SyncResult(
                applied=True, message=f"{issue.key} already had the {word} status."
            )
        chosen = next(
            (
                t
                for t in _transitions(dialect, host, integration, client, issue, fields)
                if str((t.get("to") or {}).get("id")) == target
            ),
            None,
        )
        if chosen is None:
            return SyncResult(
                applied=False,
                message=f"Jira offers no transition from "
                f"{(fields.get('status') or {}).get('name')} to status {target} "
                f"for {issue.key}.",
            )
        needed = [
            spec.get("name") or field_id
            for field_id, spec in (chosen.get("fields") or {}).items()
            if spec.get("required") and not spec.get("hasDefaultValue")
        ]
        if needed:
            return SyncResult(
                applied=False,
                message=f"Jira's transition '{chosen.get('name')}' needs the field "
                f"{', '.join(needed)}, which trackbridge cannot fill; move "
                f"{issue.key} in Jira.",
            )
        client.request(
            "POST",
            jira_path(dialect.api + "/issue/{}/transitions", issue.key),
            json_body={"transition": {"id": require(chosen, "id", "transitions")}},
        )
        return SyncResult(
            applied=True,
            message=f"Moved {issue.key} through '{chosen.get('name')}'.",
            echo=target,
        )

    return _guard(issue, transition)


def _transitions(dialect, host, integration, client, issue, fields) -> list[dict]:
    """Transitions open from the issue's current status (cached per status)."""
    current = _object(fields.get("status")).get("id")

    def load():
        return dicts(
            client.request(
                "GET",
                jira_path(dialect.api + "/issue/{}/transitions", issue.key),
                params={"expand": "transitions.fields"},
            ).get("transitions")
        )

    return cache.for_host(host).get_or_load(
        (cache.scope(integration), "transitions", issue.key, current), load
    )


def comment(
    dialect: Dialect,
    host,
    integration,
    org_integration,
    issue: ExternalIssue,
    note: Comment,
    external_comment_id: str | None,
) -> SyncResult:
    client = dialect.client(host, integration)
    body = {"body": dialect.comment_body(note)}

    def send() -> SyncResult:
        path = jira_path(dialect.api + "/issue/{}/comment", issue.key)
        if external_comment_id:
            client.request(
                "PUT", path + jira_path("/{}", external_comment_id), json_body=body
            )
            return SyncResult(
                applied=True,
                message="Comment updated in Jira.",
                external_comment_id=external_comment_id,
            )
        created = client.request("POST", path, json_body=body)
        return SyncResult(
            applied=True,
            message="Comment added in Jira.",
            external_comment_id=str(require(created, "id", path)),
        )

    return _guard(issue, send)


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _guard(issue: ExternalIssue, call: Callable[[], T]) -> T | SyncResult:
    """Jira's failures as outcomes: retried, recorded, or the issue gone."""
    try:
        return call()
    except JiraError as ex:
        status = ex.http_status
        if ex.kind == "not_jira":
            # Not retried: the write may have happened (a second comment
            # would be a duplicate); recorded on the group instead.
            return SyncResult(
                applied=False, message=f"Jira's answer was unusable: {ex}"
            )
        if status is None or status == 429 or status >= 500:
            raise RetryLater(str(ex), ex.retry_after) from None
        if status == 404:
            return SyncResult(
                applied=False,
                message=f"Jira issue {issue.key} no longer exists; it was unlinked.",
                issue_gone=True,
            )
        if status == 401:
            return SyncResult(
                applied=False,
                message="Jira refused trackbridge's credentials; run the setup "
                "again (the integration needs re-authentication).",
            )
        return SyncResult(applied=False, message=f"Jira refused the change: {ex}")
