"""Middleware every request passes: its id, its count, its access log line,
the metrics flush."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time

import falcon

from host.gunicorn_logging import redact
from host.logs import current_request_id, request_id_from

#: One line per answered request: method, path, status, time (and, as every
#: line, the request id), in the host's log format.
access_log = logging.getLogger("trackbridge.access")

HEADER = "X-Request-Id"


class RequestContext:
    """Names each request (``X-Request-Id``, echoed back, in every log line
    written while answering it), counts it and logs it once answered."""

    def __init__(self, host) -> None:
        self.host = host

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.request_id = request_id_from(req.get_header(HEADER))
        req.context.log_token = current_request_id.set(req.context.request_id)
        resp.set_header(HEADER, req.context.request_id)

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        # The route template, never the path: a webhook path carries a token.
        route = req.uri_template or "unmatched"
        self.host.metrics.count(
            "trackbridge_http_requests_total",
            route=route,
            method=req.method,
            status=str(resp.status_code),
        )
        self.host.metrics.flush(self.host.store)
        started = getattr(req.context, "started", None)
        if started is not None:
            # The path without its query (one-time links carry secrets
            # there) and with webhook tokens replaced.
            access_log.info(
                "%s %s %d %.1fms",
                req.method,
                redact(req.path),
                resp.status_code,
                (time.perf_counter() - started) * 1000,
            )
        token = getattr(req.context, "log_token", None)
        if token is not None:
            current_request_id.reset(token)


NONE = "'none'"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


class SecurityHeaders:
    """What every answer and every page tells the browser.

    Every answer: no content sniffing, no referrer (one-time links travel in
    URLs). Pages also: no framing, not stored by any cache (they show
    secrets: webhook URLs, setup state), and a Content-Security-Policy that
    allows only the inline scripts and styles the page was rendered with,
    by their hashes. A page a tracker shows in a frame (Jira Cloud's app
    pages) names that tracker in ``resp.context.frame_ancestors``; every
    other page refuses to be framed.
    """

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        if not (resp.content_type or "").startswith("text/html"):
            return
        hashes: dict[str, list[str]] = {"script": [], "style": []}
        for kind, body in _INLINE.findall(resp.text or ""):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest())
            hashes[kind].append(f"'sha256-{digest.decode()}'")
        policy = [
            "default-src 'none'",
            f"script-src {' '.join(hashes['script']) or NONE}",
            f"style-src {' '.join(hashes['style']) or NONE}",
            "img-src 'self'",
            "base-uri 'none'",
        ]
        framer = resp.context.get("frame_ancestors")
        policy.append(
            f"frame-ancestors 'self' {framer}" if framer else "frame-ancestors 'none'"
        )
        resp.set_header("Content-Security-Policy", "; ".join(policy))
        if not framer:
            resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("Cache-Control", "no-store")
