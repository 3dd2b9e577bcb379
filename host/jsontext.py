"""Looking at a JSON body's shape quickly, accepting exactly what json does.

Every webhook is parsed when it arrives, only to refuse what is not a JSON
object and to skip deliveries with nothing to apply; orjson does that in
under half the time of :mod:`json` (``bench/ingest.py``). What orjson refuses
but :mod:`json` takes (``NaN``, UTF-16 bytes) goes to :mod:`json`, so no body
is refused that :mod:`json` accepts.

Not for values that are kept: orjson turns integers beyond 64 bits into
floats. The stored body is the raw bytes, and jobs parse it with :mod:`json`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def peek(data: bytes | str) -> Any:
    """The parsed document, for checks on its shape.

    :raises ValueError: not JSON, as :func:`json.loads` would say.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
