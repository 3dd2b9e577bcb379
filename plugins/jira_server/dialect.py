"""How the Jira core talks to Jira Server / Data Center: REST v2, users by
name (searched with ``username=``), wiki-markup bodies, ``/search`` paged
by ``startAt``."""

from __future__ import annotations

from plugins.jira_core import dialect
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
