"""host.jsontext.peek: orjson's speed, json's verdict on what is JSON."""

import json
import math

import pytest

from host import jsontext


@pytest.mark.parametrize(
    "text",
    [
        b'{"issue": {"id": "10001"}, "changelog": {"items": []}}',
        '{"name": "caf\\u00e9", "n": 1.5}',
        b"[1, 2, 3]",
        json.dumps({"text": "h\u00e9"}).encode("utf-16"),
    ],
)
def test_what_json_accepts_is_parsed_the_same(text):
    assert jsontext.peek(text) == json.loads(text)


@pytest.mark.parametrize(
    "text", [b'{"big": 123456789012345678901234567890}', b'{"x": NaN}']
)
def test_numbers_orjson_cannot_hold_are_still_accepted(text):
    value = next(iter(jsontext.peek(text).values()))
    assert isinstance(value, float)
    assert math.isnan(value) or value == pytest.approx(1.2345678901234568e29)


@pytest.mark.parametrize("text", [b"", b"{", b"not json", b'{"a": 1,}', b"\xff\xfe{"])
def test_what_json_refuses_raises_value_error(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsontext.peek(text)
