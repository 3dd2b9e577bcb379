"""host.jsontext.loads: orjson's speed, one set of limits for every body."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host import jsontext
from host.jsontext import INT_MAX, INT_MIN, JsonRefused

#: JSON documents the host takes: Unicode text without NUL, integers the
#: store holds.
storable_characters = st.characters(codec="utf-8", exclude_characters="\x00")
storable_text = st.text(storable_characters)
documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(storable_characters, max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(documents)
def test_what_the_host_takes_is_parsed_as_json_parses_it(document):
    text = json.dumps(document, ensure_ascii=False)
    assert jsontext.loads(text.encode()) == json.loads(text)


@given(st.integers(1, 200))
def test_nesting_is_refused_beyond_the_limit_before_parsing(depth):
    body = b"[" * depth + b"]" * depth
    if depth <= 64:
        assert jsontext.loads(body) is not None
    else:
        with pytest.raises(JsonRefused, match="more than 64 levels deep"):
            jsontext.loads(body)


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_a_document_deeper_than_any_parser_recurses_is_refused_cleanly(opening):
    """1,000 levels made json raise RecursionError; 100,000 would be worse."""
    with pytest.raises(JsonRefused, match="levels deep"):
        jsontext.loads(opening * 100_000)


def test_brackets_inside_strings_do_not_count():
    body = json.dumps({"text": "[" * 500 + '\\"' + "{" * 500}).encode()
    assert jsontext.loads(body)["text"].startswith("[[[")


@pytest.mark.parametrize("escape", ["\\u001f", "\\n", "\\\\", '\\"', "\\/"])
def test_escapes_before_a_string_ends_do_not_hide_nesting(escape):
    """An escape just before a closing quote once made that quote look
    escaped, and the nesting after it look like string content."""
    deep = '{"s": "' + escape + '", "t": ' + "[" * 1000 + "1" + "]" * 1000 + "}"
    with pytest.raises(JsonRefused, match="levels deep"):
        jsontext.loads(deep.encode())


def test_strings_cannot_hide_nesting():
    """Closing brackets in a string early, opening ones late: a count over
    the raw bytes would see 60 levels where there are 70."""
    deep = (
        "[" * 35 + '"' + "]" * 10 + '", ' + "[" * 35 + "]" * 35
        + ', "' + "[" * 10 + '"' + "]" * 35
    )  # fmt: skip
    json.loads(deep)  # valid JSON, 70 deep
    with pytest.raises(JsonRefused, match="levels deep"):
        jsontext.loads(deep.encode())


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"title": "\\ud800"}', "lone surrogate"),
        (b'{"\\udfff": 1}', "lone surrogate"),
        (b'{"id": 9223372036854775808}', "outside the range"),
        (b'{"id": -9223372036854775809}', "outside the range"),
        (b'{"id": 99999999999999999999999}', "outside the range"),
        (b'{"x": NaN}', "NaN is not a JSON value"),
        (b'{"x": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"x": 1e400}', "too large"),
        (b'{"x": "caf\xe9"}', "not valid UTF-8"),
        (b"\xff\xfe{\x00}\x00", "not valid UTF-8"),
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"a": 1,}', "not valid JSON"),
        (b'{"email": "a\\u0000@b.co"}', "NUL character"),
        (b'{"\\u0000": 1}', "NUL character"),
    ],
)
def test_what_the_store_cannot_hold_is_refused_with_the_reason(body, message):
    with pytest.raises(JsonRefused, match=message):
        jsontext.loads(body)


def test_an_escaped_backslash_before_u0000_is_no_nul():
    assert jsontext.loads(b'{"path": "C:\\\\u0000"}') == {"path": "C:\\u0000"}


def test_the_limits_edges_are_accepted():
    assert jsontext.loads(b"[9223372036854775807, -9223372036854775808]") == [
        INT_MAX,
        INT_MIN,
    ]
    assert jsontext.loads(b'"\\ud83d\\ude00"') == "\U0001f600"  # a pair is fine
    assert jsontext.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a BOM is ignored
    assert jsontext.loads(b'["12345678901234567890123"]') == ["12345678901234567890123"]


@given(st.integers(2, 512), st.integers(1, 600))
def test_the_limit_is_the_configured_one(limit, depth):
    body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    if depth + 1 <= limit:
        jsontext.loads(body, max_depth=limit)
    else:
        with pytest.raises(JsonRefused):
            jsontext.loads(body, max_depth=limit)
