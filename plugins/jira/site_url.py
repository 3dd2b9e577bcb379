"""What may be a Jira Cloud site's address."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def acceptable(host, url: str) -> bool:
    """Sites are https; a fake one on loopback over http only where the
    operator allows loopback destinations (tests, the quick start)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return False
    if parts.scheme == "https":
        return True
    return (
        parts.scheme == "http"
        and parts.hostname in LOOPBACK
        and host.config.allow_loopback_destinations
    )
