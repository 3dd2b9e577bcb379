"""Where the host's outbound HTTP may go: one check, used by every caller.

A tracker URL comes from whoever runs a setup, so a request built from it
must not be aimable at the host's own network. Two things make that hold:

- The address is checked when the connection is made, against what the
  name resolved to then (not when the form was read), so a DNS answer that
  changes between check and use cannot slip through. Loopback, link-local
  (cloud metadata services live there), unspecified and multicast
  addresses are refused; loopback only is allowed when the operator says so
  (``[host] allow_loopback_destinations = true``: tests and the quick start,
  whose fake trackers listen on 127.0.0.1). Private ranges are allowed:
  Jira Data Center usually lives in one.
- Redirects are never followed (a caller that gets a 3xx says where it
  pointed), and proxies from the environment are not used, so the checked
  connection is the one the request goes through.

A host allowlist (``allowed`` patterns: exact names or ``*.example.com``)
is checked on every request too, not only when a form is read.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from host import deadlines

if TYPE_CHECKING:
    from host.breakers import Guard


class DestinationRefused(Exception):
    """The destination is one this host must not call; says which and why.

    Not an ``OSError``: urllib3 would take it for a network failure, retry
    or wrap it, and the reason would be lost."""


@dataclass(frozen=True)
class DestinationPolicy:
    #: ``[host] allow_loopback_destinations``.
    allow_loopback: bool = False
    #: Host name patterns; empty: any host.
    allowed_hosts: tuple[str, ...] = ()

    def check_host(self, hostname: str) -> None:
        """Refuse a host name the allowlist does not admit."""
        if self.allowed_hosts and not host_allowed(hostname, self.allowed_hosts):
            raise DestinationRefused(
                f"{hostname} is not one of the hosts this trackbridge may connect to."
            )

    def check_address(self, address: str) -> None:
        """Refuse an address of the host's own network (see module docstring)."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            if self.allow_loopback:
                return
            reason = "a loopback address"
        elif ip.is_link_local:
            reason = "a link-local address"
        elif ip.is_unspecified:
            reason = "an unspecified address"
        elif ip.is_multicast:
            reason = "a multicast address"
        elif isinstance(ip, ipaddress.IPv4Address) and ip == _BROADCAST:
            reason = "the broadcast address"
        else:
            return
        raise DestinationRefused(
            f"refused to connect to {reason}: trackbridge does not call its own network"
        )

    def session(
        self, *, guard: Guard | None = None, deadline: float | None = None
    ) -> requests.Session:
        """A session whose every connection goes through this policy.

        :param guard: the integration's circuit breaker (:mod:`host.breakers`),
            told how each call went; a call it refuses is not made.
        :param deadline: seconds a whole call may take where the caller's
            context sets none (:mod:`host.deadlines`); ``None``: unbounded
            but for each request's own timeouts.
        """
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment
        adapter = _CheckedAdapter(self, guard, deadline)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def parse_allowed_hosts(text: str) -> tuple[str, ...]:
    """An allowlist as written in a config file: names separated by commas
    or spaces."""
    return tuple(name.lower() for name in re.split(r"[,\s]+", text) if name)


def host_allowed(hostname: str, allowed: Sequence[str]) -> bool:
    hostname = hostname.lower().rstrip(".")
    return any(
        hostname == pattern
        or (pattern.startswith("*.") and hostname.endswith(pattern[1:]))
        for pattern in allowed
    )


class _CheckedAdapter(HTTPAdapter):
    """No retries (a retried signed request reuses its nonce), the host
    allowlist before anything is sent, and pools whose connections check
    the address they connect to."""

    def __init__(
        self, policy: DestinationPolicy, guard: Guard | None, deadline: float | None
    ) -> None:
        self.policy = policy
        self.guard = guard
        self.deadline = deadline
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        policy = self.policy

        class CheckedHTTPPool(HTTPConnectionPool):
            ConnectionCls = _checked(HTTPConnection, policy)

        class CheckedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = _checked(HTTPSConnection, policy)

        self.poolmanager.pool_classes_by_scheme = {
            "http": CheckedHTTPPool,
            "https": CheckedHTTPSPool,
        }

    def send(self, request, stream=False, timeout=None, **kwargs):
        where = urlsplit(request.url)
        self.policy.check_host(where.hostname or "")
        if self.guard is not None:
            self.guard.before(where.netloc)
        seconds = deadlines.budget(self.deadline) if self.deadline else None
        until = time.monotonic() + seconds if seconds else None
        if seconds:
            timeout = deadlines.bounded(timeout, seconds)
        try:
            response = super().send(
                request, stream=stream or until is not None, timeout=timeout, **kwargs
            )
            if until is not None and not stream:
                deadlines.read_body(response, until)
        except requests.exceptions.SSLError:
            raise  # the certificate, not the tracker's health
        except (requests.ConnectionError, requests.Timeout) as ex:
            if self.guard is not None:
                self.guard.failed(where.netloc, failure_reason(ex))
            raise
        if self.guard is not None:
            self.guard.answered(where.netloc)
        return response


def failure_reason(ex: Exception) -> str:
    """A failed call in a few words, for the breaker's record (and a
    hook's delivery log)."""
    if isinstance(ex, requests.Timeout):
        return "timed out"
    text = str(ex)
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "host name not found"
    if "Connection refused" in text:
        return "connection refused"
    return "connection failed"


def _checked(base: type[HTTPConnection], policy: DestinationPolicy) -> type:
    class CheckedConnection(base):
        def _new_conn(self) -> socket.socket:
            try:
                found = socket.getaddrinfo(
                    self._dns_host, self.port, type=socket.SOCK_STREAM
                )
            except socket.gaierror:
                return super()._new_conn()  # urllib3 reports it as a DNS failure
            last: OSError | None = None
            for family, kind, proto, _, address in found:
                policy.check_address(address[0])
                sock = socket.socket(family, kind, proto)
                try:
                    if self.timeout is not None:
                        sock.settimeout(self.timeout)
                    for option in self.socket_options or ():
                        sock.setsockopt(*option)
                    sock.connect(address)
                    return sock
                except TimeoutError:
                    sock.close()
                    raise ConnectTimeoutError(
                        self, f"Connection to {self.host} timed out."
                    ) from None
                except OSError as ex:
                    sock.close()
                    last = ex
            raise NewConnectionError(
                self, f"Failed to establish a new connection: {last}"
            )

    return CheckedConnection
