"""Atlassian Document Format (ADF), the JSON REST v3 and Cloud's webhooks
use for descriptions and comments, to and from plain text.

Only what comments need: paragraphs, line breaks, text with its marks
dropped (a link keeps its text and its URL), mentions by their text,
lists as lines, code blocks as their text. Anything unknown contributes
its text children, so nothing a person wrote is lost.
"""

from __future__ import annotations

from typing import Any

BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "codeBlock",
        "blockquote",
        "listItem",
        "panel",
        "rule",
        "mediaSingle",
    }
)


def to_text(document: Any) -> str:
    """Plain text of an ADF document (or of a string: itself)."""
    if isinstance(document, str):
        return document
    if not isinstance(document, dict):
        return ""
    return _strip_lines("".join(_text(document)))


def from_text(text: str) -> dict:
    """An ADF document of paragraphs, one per blank-line-separated block,
    line breaks kept as hard breaks."""
    paragraphs = []
    for block in text.split("\n\n"):
        content: list[dict] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def _text(node: Any) -> list[str]:
    if not isinstance(node, dict):
        return []
    kind = node.get("type")
    if kind == "text":
        text = node.get("text") if isinstance(node.get("text"), str) else ""
        link = next(
            (
                m.get("attrs", {}).get("href")
                for m in node.get("marks") or []
                if isinstance(m, dict) and m.get("type") == "link"
            ),
            None,
        )
        return [f"{text} ({link})" if isinstance(link, str) and link != text else text]
    if kind == "hardBreak":
        return ["\n"]
    if kind in ("mention", "emoji", "inlineCard"):
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        found = attrs.get("text") or attrs.get("shortName") or attrs.get("url")
        return [found] if isinstance(found, str) else []
    children = node.get("content") if isinstance(node.get("content"), list) else []
    parts = [part for child in children for part in _text(child)]
    if kind == "listItem":
        return ["- ", *parts, "\n"]
    if kind in BLOCKS:
        return [*parts, "\n\n"]
    return parts


def _strip_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    return "\n".join(out).strip()
