"""The one JSON reader for every body the host takes (API, pages, webhooks,
replicas, stored deliveries), with one set of limits.

A body is refused, with a :class:`JsonRefused` whose message says what to
fix, when it is nested deeper than ``max_depth`` (checked before either
parser runs, so no parser ever recurses into it), is not UTF-8 (RFC 8259
section 8.1), holds text that is not Unicode (a lone surrogate escape such
as ``"\\ud800"``, which no database column can store) or holds U+0000
(which PostgreSQL's text cannot), an integer outside
the store's signed 64-bit range, or a number or constant that is not JSON
(``NaN``, ``Infinity``, ``1e400``).

orjson parses what passes, in under half the time of :mod:`json`
(``bench/ingest.py``); it refuses lone surrogates, ``NaN`` and infinite
numbers itself. Only when it refuses does :mod:`json` look again, for its
more helpful message. orjson turns integers beyond 64 bits into floats, so a
body with a long run of digits outside its strings is parsed by :mod:`json`,
and its integers are checked.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import orjson

#: The store's integers are signed 64-bit (SQLite and PostgreSQL alike).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
DEFAULT_MAX_DEPTH = 64

#: What finding the strings and the nesting needs of a body: quotes,
#: backslashes and brackets (``bytes.translate`` drops the rest).
_DROPPED = bytes(b for b in range(256) if b not in b'"\\[]{}')
#: Digits as ``0``, all else as a space: 19 zeros in a row are a number
#: that may leave the 64-bit range (or digits in a string).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
#: The pairs with nothing inside, removed in one pass (one level a round).
_INNERMOST = re.compile(rb"\[\]|\{\}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_BOM = b"\xef\xbb\xbf"
#: The escape of U+0000 (JSON text cannot hold the byte itself), which a
#: PostgreSQL text column cannot store: refused, on either engine.
_NUL = b"\\u0000"
NUL_REFUSED = "Text holds a NUL character (\\u0000), which cannot be stored."


class JsonRefused(ValueError):
    """A body that is not JSON the host can act on; the message says why."""


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The document in ``data``, within the limits above.

    :raises JsonRefused: with a message fit for a 400's ``detail``.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.startswith(_BOM):  # RFC 8259 lets a parser ignore one
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise JsonRefused(
            f"Request body is not valid UTF-8 (byte {ex.start})."
        ) from None
    # Setting the strings aside is the costly part: only done when a cheap
    # look says the answer may depend on it.
    compact = raw.translate(None, _DROPPED)
    if compact.count(b"[") + compact.count(b"{") > max_depth:
        _check_depth(_without_strings(raw), max_depth)
    if _LONG_DIGITS in raw.translate(_DIGITS_AS_ZERO) or _NUL in raw:
        # Maybe an integer orjson would make a float (json keeps it), or a
        # NUL: the walk checks both.
        return _checked(_strict_json(text))
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Not JSON (json's message is clearer), or JSON holding what we
        # refuse (the walk finds it).
        return _checked(_strict_json(text))


def _without_strings(raw: bytes) -> bytes:
    """``raw`` with the inside of every string removed.

    Escaped backslashes, then escaped quotes, are dropped first (pairing
    backslashes left to right, as a parser does); the pieces between the
    quotes left then alternate outside, inside.
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(raw.translate(None, _DROPPED).split(b'"')[::2])


def _check_depth(outside_strings: bytes, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth``.

    Removing every innermost ``[]`` and ``{}`` pair once per level empties
    a valid document in as many rounds as it is deep; only what is left
    after ``max_depth`` rounds (too deep, or not JSON) is measured exactly.
    """
    brackets = left = outside_strings.translate(None, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not left:
            return
        left = _INNERMOST.sub(b"", left)
    if not left:
        return
    depth = max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)
    if depth > max_depth:
        raise JsonRefused(
            f"JSON is nested more than {max_depth} levels deep"
            " (the limit, [host] max_json_depth)."
        )


def _strict_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as ex:
        raise JsonRefused(f"Request body is not valid JSON: {ex}") from None
    except RecursionError:  # not reached: the depth is checked first
        raise JsonRefused("JSON is nested too deeply.") from None


def _not_json(constant: str):
    raise JsonRefused(f"{constant} is not a JSON value.")


def _checked(value: Any) -> Any:
    """``value``, if every string is Unicode and every number fits; iterative,
    so no document can exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not is_unicode(item):
            raise JsonRefused(
                "Text holds a lone surrogate (such as \\ud800), which is not Unicode."
            )
        elif isinstance(item, str) and "\x00" in item:
            raise JsonRefused(NUL_REFUSED)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not INT_MIN <= item <= INT_MAX:
            raise JsonRefused(f"An integer is outside the range {INT_MIN}..{INT_MAX}.")
        elif isinstance(item, float) and item in (float("inf"), float("-inf")):
            raise JsonRefused("A number is too large to be stored.")
    return value


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be stored (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
