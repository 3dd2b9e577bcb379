"""The web server ``trackbridge serve`` runs: an event loop reads requests,
threads run the app.

A sync gunicorn worker reads a request's body inside the app, one request
per process at a time: two clients trickling a body at one byte a second
held both workers, and ``/healthz`` with every webhook waited behind them
(gunicorn's own docs: sync workers need a buffering proxy in front). Here
gunicorn's asyncio worker reads each request, headers and body, without
tying anything up, and only a request that has fully arrived goes to a
thread (``[host] threads`` per worker) running the Falcon app, each thread
with its own database connection. A client that has not sent its headers
within ``[host] header_timeout_seconds``, or its body within
``[host] body_timeout_seconds``, gets a 408; a body over
``[host] max_body_bytes`` a 413, as soon as it is declared or has grown
that far. ``/healthz`` has a thread of its own, so it answers even while
every request thread waits on a locked database. Requests that call a
tracker while the client waits run in lanes of their own by organization,
with a deadline (``[host] tracker_request_timeout_seconds``, then 504), so
a hung tracker never blocks webhooks or other organizations. The figures
are in BENCHMARKS.md (``bench/ingest.py`` and ``bench/slow_clients.py``).

gunicorn's own error answers (a malformed request line, headers too
large) are JSON with a ``detail`` here, like every answer of the app.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

from gunicorn.asgi import protocol as asgi_protocol
from gunicorn.workers import gasgi

from host import deadlines
from host.config import Config
from host.processes import die_with_parent

log = logging.getLogger(__name__)

#: Paths served by a thread of their own, never queued behind the app's.
OWN_LANE = frozenset({"/healthz"})
#: Requests that call a tracker while the client waits (pickers, the create
#: form and create, linking and unlinking, integration settings, a new
#: webhook secret, setup pages and steps, the console's group page, its
#: create form and removing an integration (the tracker's webhook goes too),
#: and the API's removal of one (:data:`TRACKER_CALLS_BY_METHOD`)):
#: they run in lanes of their own, by organization, under a deadline, so a
#: hung tracker holds its organization's lane and not the others'.
TRACKER_CALLS = re.compile(
    r"^/api/0/organizations/(?P<org>[^/]+)/(?:integrations/[^/]+/"
    r"(?:search|config|rotate-webhook-secret)"
    r"|groups/[^/]+/(?:links|integrations/[^/]+/create)|setup(?:/[^/]+)?)/?$"
    r"|^/settings/(?P<settings_org>[^/]+)/"
    r"|^/console/(?P<console_org>[^/]+)/(?:integrations/[^/]+/"
    r"(?:rotate-webhook-secret|remove)|groups/[^/]+(?:/create)?)/?$"
    r"|^/extensions/[^/]+/setup/?$"
)
#: Requests that call a tracker only with some methods: removing an
#: integration (the last organization's removal deletes the tracker's
#: webhook), where reading it calls nothing.
TRACKER_CALLS_BY_METHOD = {
    "DELETE": re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/integrations/[^/]+/?$")
}
#: Tracker lanes, and threads in each. An organization's slug picks its lane
#: by hash: the slug is not authenticated yet here, so lanes cannot be one
#: per slug (anyone could make thousands); a hung tracker shares its lane
#: with about 1/16 of the other organizations.
TRACKER_LANES, TRACKER_LANE_THREADS = 16, 2


def tracker_call(path: str, method: str) -> re.Match | None:
    """The match naming the organization when a ``method`` request for
    ``path`` may wait on a tracker; None when it never does."""
    by_method = TRACKER_CALLS_BY_METHOD.get(method.upper())
    return TRACKER_CALLS.match(path) or (by_method.match(path) if by_method else None)


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class WsgiBridge:
    """An ASGI app that reads the whole request, then runs a WSGI app in a
    thread and sends its answer."""

    def __init__(self, app: Callable, config: Config) -> None:
        self.app = app
        self.config = config
        self.pool = ThreadPoolExecutor(config.threads, thread_name_prefix="request")
        self.own_lane = ThreadPoolExecutor(1, thread_name_prefix="healthz")
        self.tracker_lanes: dict[int, ThreadPoolExecutor] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # websockets: not served (the connection is closed unanswered)

    async def _http(self, scope, receive, send) -> None:
        limit = self.config.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, f"Request body is larger than {limit} bytes.")
            return
        try:
            body = await asyncio.wait_for(
                _read_body(receive, limit), self.config.body_timeout_seconds
            )
        except BodyTooLarge:
            await _send_json(send, 413, f"Request body is larger than {limit} bytes.")
            return
        except TimeoutError:
            await _send_json(
                send,
                408,
                "The request body did not arrive within"
                f" {self.config.body_timeout_seconds:g} s"
                " ([host] body_timeout_seconds).",
            )
            return
        except ClientGone:
            return
        pool, deadline = self._lane(scope["path"], scope.get("method", "GET"))
        loop = asyncio.get_running_loop()
        answer = loop.run_in_executor(pool, self._call, _environ(scope, body))
        try:
            status, headers, content = await asyncio.wait_for(answer, deadline)
        except TimeoutError:
            # The thread goes on until the tracker call's own deadline (the
            # same length, see host.deadlines); the client is answered now.
            await _send_json(
                send,
                504,
                f"The tracker did not answer within {deadline:g} s"
                " ([host] tracker_request_timeout_seconds); try again later.",
            )
            return
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": content})

    def _lane(
        self, path: str, method: str = "GET"
    ) -> tuple[ThreadPoolExecutor, float | None]:
        """The threads that run a ``method`` request for ``path``, and its
        deadline."""
        if path in OWN_LANE:
            return self.own_lane, None
        found = tracker_call(path, method)
        if found is None:
            return self.pool, None
        key = next((org for org in found.groupdict().values() if org), "")
        number = zlib.crc32(key.encode("utf-8", "surrogateescape")) % TRACKER_LANES
        lane = self.tracker_lanes.get(number)
        if lane is None:
            lane = self.tracker_lanes[number] = ThreadPoolExecutor(
                TRACKER_LANE_THREADS, thread_name_prefix=f"tracker-{number}"
            )
        return lane, self.config.tracker_request_timeout_seconds

    def _call(self, environ: dict) -> tuple[int, list, bytes]:
        """Run the WSGI app on one request (in a thread); its whole answer."""
        started: list = []

        def start_response(status: str, headers: list, exc_info=None):
            started[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        # Each tracker call ends by the time the client is answered 504.
        with deadlines.calls_within(self.config.tracker_request_timeout_seconds):
            result: Iterable[bytes] = self.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            b"".join(chunks),
        )

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Requests in hand finish before the worker exits.
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        for pool in (self.pool, self.own_lane, *self.tracker_lanes.values()):
            pool.shutdown(wait=True)


async def _read_body(receive, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _environ(scope: dict, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI request whose body has been read.

    The body's length is known now, so ``CONTENT_LENGTH`` is always set:
    a chunked request reaches the app as any other.
    """
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        # As gunicorn's WSGI workers give it: percent-decoded bytes as latin-1.
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value.decode("latin-1")
            continue
        key = f"HTTP_{key}"
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app() -> WsgiBridge:
    """What ``trackbridge serve`` has gunicorn load: the app, bridged."""
    from host.app import create_app as create_wsgi_app
    from host.config import load_config
    from host.core import Host
    from host.logs import configure_logging
    from host.store.db import DatabaseUnavailable

    config = load_config()
    configure_logging(config.log_level, config.log_format)
    try:
        host = Host.from_config(config)
    except DatabaseUnavailable as ex:
        # This worker exits; the master and the other workers go on (an
        # error at boot would make gunicorn halt everything).
        log.error("%s", ex)
        raise SystemExit(1) from None
    return WsgiBridge(create_wsgi_app(host), config)


class Protocol(asgi_protocol.ASGIProtocol):
    """gunicorn's HTTP protocol with a deadline for a new connection's
    headers, and errors as JSON."""

    _headers_deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        timeout = getattr(self.worker, "header_timeout", None)
        if timeout:
            self._headers_deadline = self.worker.loop.call_later(
                timeout, self._headers_too_slow
            )

    def _on_headers_complete(self):
        self._cancel_headers_deadline()
        return super()._on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_headers_deadline()
        super().connection_lost(exc)

    def _cancel_headers_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_too_slow(self) -> None:
        self._headers_deadline = None
        if self._current_request is None and not self._closed:
            self._send_error_response(
                408,
                "The request headers did not arrive within"
                f" {self.worker.header_timeout:g} s ([host] header_timeout_seconds).",
            )
            self._close_transport()
            if self._request_ready is not None:
                self._request_ready.set()

    def _send_error_response(self, status, message, extra_headers=()) -> None:
        reason = asgi_protocol._REASON_PHRASES.get(status)
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Error"
        detail = f"{reason}: {message}" if message and message != reason else reason
        body = json.dumps({"detail": detail}).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{extra}"
            "Connection: close\r\n\r\n"
        )
        self._safe_write(head.encode("latin-1") + body)


class Worker(gasgi.ASGIWorker):
    """gunicorn's asyncio worker serving :func:`create_app` with
    :class:`Protocol`."""

    header_timeout: float | None = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.asgi, "config", None)
        if config is not None:
            self.header_timeout = config.header_timeout_seconds

    def init_process(self) -> None:
        die_with_parent()
        # gunicorn's worker builds its protocol by this module-level name;
        # in this process it is ours.
        gasgi.ASGIProtocol = Protocol
        super().init_process()
