"""What may be a Jira Cloud site's address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: A site's host name, as ``urlsplit`` gives it (lower case).
HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
#: A site's URL goes into headers (the configure page's frame-ancestors)
#: and links: nothing that would end or split either.
UNSAFE = re.compile(r"[\s;,'\"<>\\]")


def acceptable(host, url: str) -> bool:
    """Sites are https; a fake one on loopback over http only where the
    operator allows loopback destinations (tests, the quick start). The
    address is a host name (and port): a URL with spaces, ``;`` or quotes
    in it is no site's."""
    parts = urlsplit(url)
    if not parts.netloc or UNSAFE.search(url):
        return False
    try:
        parts.port  # noqa: B018 (raises for a port that is not one)
    except ValueError:
        return False
    if parts.hostname not in LOOPBACK and not HOSTNAME.fullmatch(parts.hostname or ""):
        return False
    if parts.scheme == "https":
        return True
    return (
        parts.scheme == "http"
        and parts.hostname in LOOPBACK
        and host.config.allow_loopback_destinations
    )
