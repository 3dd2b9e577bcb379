"""``POST /extensions/{provider}/{path}``: tracker webhooks to providers."""

from __future__ import annotations

import falcon

from host.api.requests import read_body
from host.errors import NotFound
from host.types import WebhookRequest


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
        delivery_id = self.host.inbound.receive(request)
        resp.status = falcon.HTTP_200
        resp.media = {"received": delivery_id is not None}
