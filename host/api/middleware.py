"""Middleware every request passes: its id, its count, the metrics flush."""

from __future__ import annotations

import falcon

from host.logs import current_request_id, request_id_from

HEADER = "X-Request-Id"


class RequestContext:
    """Names each request (``X-Request-Id``, echoed back, in every log line
    written while answering it) and counts it once answered."""

    def __init__(self, host) -> None:
        self.host = host

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
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
        token = getattr(req.context, "log_token", None)
        if token is not None:
            current_request_id.reset(token)
