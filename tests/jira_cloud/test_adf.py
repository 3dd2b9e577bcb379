"""ADF (Atlassian Document Format) to plain text and back."""

from plugins.jira import adf


def test_text_of_the_nodes_comments_use():
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "content": [{"type": "text", "text": "Steps"}]},
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "one"}],
                            }
                        ],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "two"}],
                            }
                        ],
                    },
                ],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "557058:x", "text": "@Ann"}},
                    {"type": "text", "text": " see "},
                    {"type": "inlineCard", "attrs": {"url": "https://x.example/1"}},
                    {"type": "hardBreak"},
                    {"type": "emoji", "attrs": {"shortName": ":tada:"}},
                    {
                        "type": "unknownNode",
                        "content": [{"type": "text", "text": " kept"}],
                    },
                ],
            },
            {"type": "codeBlock", "content": [{"type": "text", "text": "x = 1"}]},
        ],
    }
    assert adf.to_text(document) == (
        "Steps\n\n- one\n\n- two\n\n@Ann see https://x.example/1\n:tada: kept\n\nx = 1"
    )


def test_odd_input_never_raises():
    for odd in (None, 3, [], {"type": "doc", "content": "x"}, {"content": [None, 1]}):
        assert adf.to_text(odd) == ""
    assert adf.to_text("wiki text") == "wiki text"


def test_text_round_trips():
    text = "First line\nsecond line\n\nNew paragraph"
    assert adf.to_text(adf.from_text(text)) == text
