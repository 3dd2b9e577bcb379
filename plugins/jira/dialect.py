"""How the Jira core talks to Jira Cloud: REST v3, users by ``accountId``
(``null`` unassigns, searched with ``query=``), ADF bodies (v3 takes no
wiki markup; a comment is who wrote it, then the text as a quote),
``search/jql`` paged by ``nextPageToken``."""

from __future__ import annotations

from host.types import Comment
from plugins.jira import adf, site
from plugins.jira_core import dialect
from plugins.jira_core.dialect import Dialect


def adf_comment(note: Comment) -> dict:
    quoted = adf.from_text(note.text)["content"]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": f"{note.author_name} wrote:"}],
            },
            {"type": "blockquote", "content": quoted},
        ],
    }


CLOUD = dialect.register(
    "jira",
    Dialect(
        api="/rest/api/3",
        user_field="accountId",
        user_search="query",
        comment_body=adf_comment,
        text_body=adf.from_text,
        body_text=adf.to_text,
        # /rest/api/3/search answers 410 on Cloud since 2025.
        wiki=False,
        questions=site.CloudQuestions,
        search_path="/rest/api/3/search/jql",
        client=site.client_for,
    ),
)
