"""What differs between talking to Jira Server / Data Center and Jira Cloud,
as data: the code that talks lives once, in :mod:`plugins.jira_core`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from host.types import Comment
from plugins.jira_core.client import JiraClient


@dataclass(frozen=True)
class Dialect:
    #: The REST API's root: ``/rest/api/2`` or ``/rest/api/3``.
    api: str
    #: The key naming a user in bodies and answers: ``name`` or ``accountId``.
    user_field: str
    #: The user search's query parameter: ``username`` or ``query``.
    user_search: str
    #: A comment's ``body`` for Jira (wiki markup, or an ADF document).
    comment_body: Callable[[Comment], Any]
    #: Plain text as a ``body`` or ``description`` (itself, or ADF).
    text_body: Callable[[str], Any]
    #: A ``description`` or comment ``body`` from Jira as plain text.
    body_text: Callable[[Any], str]
    #: The issue search that takes ``jql`` (Cloud's old ``/search`` is 410).
    search_path: str
    #: Whether bodies are wiki markup (Server, REST v2) rather than ADF.
    wiki: bool
    #: What parsing asks this provider's Jira (``plugins.jira_core.events``).
    questions: Callable[[Any, Any], Any]
    #: The client for one integration.
    client: Callable[[Any, Any], JiraClient]


def quoted_comment(note: Comment) -> str:
    """Wiki markup (Server, REST v2): who wrote it, then the text quoted."""
    return f"{note.author_name} wrote:\n\n{{quote}}{note.text}{{quote}}"


def same_text(value: Any) -> Any:
    """Server's bodies and descriptions are plain (wiki) text both ways."""
    return value if isinstance(value, str) else ("" if value is None else str(value))


_BY_PROVIDER: dict[str, Dialect] = {}


def register(provider: str, dialect: Dialect) -> Dialect:
    """Say how ``provider``'s integrations are talked to (each Jira
    provider does, where it defines its dialect)."""
    _BY_PROVIDER[provider] = dialect
    return dialect


def of(integration) -> Dialect:
    """The dialect of an integration's provider."""
    return _BY_PROVIDER[integration.provider]
