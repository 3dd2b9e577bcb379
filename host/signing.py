"""Signing what a control node sends its regions (shared-secret HMAC).

The signature covers the time, the method, the path and the exact body, so
a forwarded request cannot be altered, pointed elsewhere, or replayed after
``MAX_AGE`` seconds. Header: ``X-Trackbridge-Signature: t=<unix>,v1=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac

from host.errors import NotAuthenticated

HEADER = "x-trackbridge-signature"
#: Seconds a signature stays valid (clocks of the hosts may differ a little).
MAX_AGE = 300


def sign(secret: str, method: str, path: str, body: bytes, now: float) -> str:
    timestamp = int(now)
    return f"t={timestamp},v1={_digest(secret, timestamp, method, path, body)}"


def verify(
    secret: str, header: str, method: str, path: str, body: bytes, now: float
) -> None:
    """Accept a signature made with ``secret`` for this very request.

    :raises NotAuthenticated: no secret here, a malformed, wrong or old signature.
    """
    if not secret:
        raise NotAuthenticated(
            "This host does not accept forwarded requests ([routing] secret is unset)."
        )
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise NotAuthenticated("Malformed forwarding signature.") from None
    expected = _digest(secret, timestamp, method, path, body)
    if not hmac.compare_digest(parts.get("v1", ""), expected):
        raise NotAuthenticated("Invalid forwarding signature.")
    if abs(now - timestamp) > MAX_AGE:
        raise NotAuthenticated("Forwarding signature expired.")


def _digest(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
