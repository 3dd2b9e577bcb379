"""Jira Server's outbound sync: the shared one (:mod:`plugins.jira_core.sync`)
in Server's dialect (REST v2, users by name, wiki-markup comments)."""

from __future__ import annotations

from plugins.jira_core import dialect, sync
from plugins.jira_core.dialect import Dialect, quoted_comment, same_text
from plugins.jira_server.events import ServerQuestions
from plugins.jira_server.setup import integration_client

SERVER = dialect.register(
    "jira_server",
    Dialect(
        api="/rest/api/2",
        user_field="name",
        user_search="username",
        comment_body=quoted_comment,
        text_body=same_text,
        body_text=same_text,
        wiki=True,
        questions=ServerQuestions,
        search_path="/rest/api/2/search",
        client=integration_client,
    ),
)


def assignee(host, integration, org_integration, issue, member):
    return sync.assignee(SERVER, host, integration, org_integration, issue, member)


def status(host, integration, org_integration, issue, resolved):
    return sync.status(SERVER, host, integration, org_integration, issue, resolved)


def comment(host, integration, org_integration, issue, note, external_comment_id):
    return sync.comment(
        SERVER, host, integration, org_integration, issue, note, external_comment_id
    )
