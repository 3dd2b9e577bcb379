"""Tracker webhooks to providers, and what a control node sends its regions.

``POST /extensions/{provider}/{path}`` is where trackers deliver webhooks; a
control node routes them (see :mod:`host.services.routing`). A region takes
forwarded deliveries there too, and installs at ``POST /internal/replicate``.
"""

from __future__ import annotations

import falcon

from host import signing
from host.api.requests import parse_json, read_body
from host.errors import NotFound
from host.services.routing import REPLICATE_PATH, signed_path
from host.types import WebhookRequest

#: The two answers to a delivery, written out once: trackers send many.
RECEIVED = '{"received": true}'
NOT_STORED = '{"received": false}'


class ProviderWebhook:
    """Hands the raw request to the provider named in the URL.

    The delivery is stored (with its job) before the answer goes out, and
    the answer is immediate: all work happens in the job.
    """

    def __init__(self, host) -> None:
        self.host = host

    def on_post(self, req, resp, provider_slug, path):
        provider = self.host.provider_by_slug(provider_slug)
        if provider is None:
            raise NotFound(f"Unknown provider: {provider_slug}")
        request = WebhookRequest(
            provider=provider.key,
            method=req.method,
            path=path,
            headers={k.lower(): v for k, v in req.headers.items()},
            query=dict(req.params),
            body=read_body(req, self.host.config.max_body_bytes),
        )
        signature = request.headers.get(signing.HEADER)
        if signature is not None:
            # Forwarded by our control node: handled here, whatever we are.
            self.host.routing.verify_signed(
                signature, signed_path(provider_slug, path), request.body
            )
        elif self.host.routing.is_control:
            status = self.host.routing.route(request)
            resp.status = falcon.code_to_http_status(status)
            resp.content_type = falcon.MEDIA_JSON
            # 202: kept here or for its regions; 200: nothing to keep.
            resp.text = RECEIVED if status == 202 else NOT_STORED
            return
        delivery_id = self.host.inbound.receive(request)
        resp.status = falcon.HTTP_200
        resp.content_type = falcon.MEDIA_JSON
        resp.text = RECEIVED if delivery_id is not None else NOT_STORED


class Replica:
    """``POST /internal/replicate``: installs a control node made, at a region."""

    def __init__(self, host) -> None:
        self.host = host

    def on_post(self, req, resp):
        body = read_body(req, self.host.config.max_body_bytes)
        self.host.routing.verify_signed(
            req.get_header(signing.HEADER) or "", REPLICATE_PATH, body
        )
        message = parse_json(body, self.host.config)
        self.host.routing.receive_replica(message)
        resp.media = {"replicated": True}
