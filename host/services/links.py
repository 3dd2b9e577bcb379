"""Secrets handed out once, kept only as hashes: one-time links and the like.

An API token, a setup pipeline id, a browser session id or a one-time link
is stored as its SHA-256 alone, so a copy of the database cannot be used to
sign in with any of them.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from host.core import Host


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_link(host: Host, organization_id: int, purpose: str) -> str:
    """A one-time token for ``purpose`` (a provider's setup, a settings page),
    live for ``setup_ttl_seconds``."""
    token = secrets.token_urlsafe(32)
    expires_at = host.clock() + host.config.setup_ttl_seconds
    with host.store.transaction():
        host.store.pipelines.add_link(
            hash_secret(token), purpose, organization_id, expires_at
        )
    return token


def redeem_link(host: Host, token: str, purpose: str) -> int | None:
    """Use up a live link made for ``purpose``; its organization id, or None."""
    with host.store.transaction():
        return host.store.pipelines.take_link(
            hash_secret(token), purpose, now=host.clock()
        )
