"""What the Jira provider keeps between calls: metadata and HTTP sessions.

Metadata (statuses, projects, create metadata, transitions) changes rarely
and is read on every webhook or form, so it is kept for a few minutes. One
``requests.Session`` per integration keeps connections alive across calls.
Each host has its own (kept beside the host, not in it), keyed by
integration, so two hosts in one process never share entries.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import requests

#: Seconds a metadata answer is reused.
METADATA_TTL = 300.0

_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


class TTLCache:
    def __init__(
        self,
        ttl: float = METADATA_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 2048,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The cached value for ``key``, or ``load()`` (cached when it returns).

        A failing ``load`` raises and caches nothing.
        """
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
        value = load()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                live = {k: v for k, v in self._entries.items() if v[0] > now}
                self._entries = live if len(live) < self.max_entries else {}
            self._entries[key] = (now + self.ttl, value)
        return value


def scope(integration) -> tuple[int, int | None]:
    """What a cached answer belongs to: the integration and the organization
    whose credentials read it (two Jira users may see different projects)."""
    return (integration.id, integration.organization_id)


def for_host(host) -> TTLCache:
    """The metadata cache of one host."""
    with _caches_lock:
        cache = _caches.get(host)
        if cache is None:
            cache = _caches[host] = TTLCache()
        return cache


def session_for(host, integration_id: int, new: Callable[[], requests.Session]):
    """The HTTP session of one integration on one host (made on first use)."""
    with _caches_lock:
        sessions = _sessions.setdefault(host, {})
        if integration_id not in sessions:
            sessions[integration_id] = new()
        return sessions[integration_id]
