"""Atlassian's public keys for signed installs, by ``kid``.

``[jira] install_keys_url`` (default: Atlassian's CDN) serves each key as a
PEM at ``{url}/{kid}``. The ``kid`` comes from an unauthenticated request,
so it is checked before it becomes part of a URL; the fetch has a timeout
(the host's outbound session: no redirects, its deadline, its destination
rules) and a status and content check; keys are kept for an hour, so a
burst of installs does not become a burst of fetches, and a key server
that is down costs each install one short wait, not a hung worker.
"""

from __future__ import annotations

import re
import threading
import time

import requests

from plugins.jira.connect import TokenRefused

DEFAULT_URL = "https://connect-install-keys.atlassian.com"
#: Seconds a fetched key is kept.
CACHE_SECONDS = 3600
#: Seconds to wait for the key server (connect, read).
TIMEOUT = (3.05, 5)
#: What a ``kid`` may look like (Atlassian's are UUIDs; a little wider).
KID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: A PEM is small: anything bigger is not one.
MAX_BYTES = 16 * 1024


class InstallKeys:
    def __init__(self, host) -> None:
        self.host = host
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        configured = self.host.plugin_config("jira").get("install_keys_url", "")
        return (configured.strip() or DEFAULT_URL).rstrip("/")

    def public_key(self, kid: object) -> str:
        """The PEM for ``kid``.

        :raises TokenRefused: not a key id, or the key server did not give
            a public key for it (in time).
        """
        if not isinstance(kid, str) or not KID.fullmatch(kid):
            raise TokenRefused("Invalid key id.")
        base, now = self.base_url, time.monotonic()
        with self._lock:
            cached = self._cache.get((base, kid))
        if cached and cached[0] > now:
            return cached[1]
        pem = self._fetch(base, kid)
        with self._lock:
            self._cache[(base, kid)] = (now + CACHE_SECONDS, pem)
        return pem

    def _fetch(self, base: str, kid: str) -> str:
        session = self.host.outbound_session()
        try:
            answer = session.get(f"{base}/{kid}", timeout=TIMEOUT, stream=True)
            body = answer.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as ex:
            raise TokenRefused(
                f"Could not fetch the install key: {type(ex).__name__}."
            ) from None
        finally:
            session.close()
        if answer.status_code != 200:
            raise TokenRefused(
                f"Invalid key id (the key server answered {answer.status_code})."
            )
        text = body[: MAX_BYTES + 1].decode("ascii", "replace").strip()
        if len(body) > MAX_BYTES or not (
            text.startswith("-----BEGIN PUBLIC KEY-----")
            and text.endswith("-----END PUBLIC KEY-----")
        ):
            raise TokenRefused("Invalid key id (the key server sent no public key).")
        return text
