"""``/api/0/organizations/{slug}/hooks``: webhook subscriptions to the
change feed (see :mod:`host.services.hooks`). A hook's secret is in the
answer that makes it and in the one that rotates it, never anywhere else."""

from __future__ import annotations

import falcon

from host.api.requests import int_param, organization
from host.api.resources import Resource
from host.times import iso_time


def hook(found: dict) -> dict:
    return {
        "id": found["id"],
        "url": found["url"],
        "events": found["events"],
        "active": found["active"],
        "failing_since": found["failing_since"] and iso_time(found["failing_since"]),
        "disabled_reason": found["disabled_reason"],
        "created_at": found["created_at"],
        "updated_at": found["updated_at"],
    }


def attempt(found: dict) -> dict:
    return {
        "id": found["id"],
        "event_id": f"evt_{found['event_id']}",
        "event_type": found["event_type"],
        "status_code": found["status_code"],
        "error": found["error"],
        "ok": found["error"] is None,
        "at": found["created_at"],
    }


class Hooks(Resource):
    """``GET`` the hooks; ``POST {"url", "events"?, "active"?}`` makes one
    (``201``, with its ``secret``, shown this once)."""

    def on_get(self, req, resp, slug):
        resp.media = [hook(h) for h in self.host.hooks.list(organization(req, slug))]

    def on_post(self, req, resp, slug):
        made, secret = self.host.hooks.create(organization(req, slug), self.json(req))
        resp.media = {**hook(made), "secret": secret}
        resp.status = falcon.HTTP_201
        resp.cache_control = ["no-store"]


class HookItem(Resource):
    """``GET``, ``PUT {"url"?, "events"?, "active"?}``, ``DELETE`` one hook."""

    def on_get(self, req, resp, slug, hook_id):
        resp.media = hook(self.host.hooks.get(organization(req, slug), hook_id))

    def on_put(self, req, resp, slug, hook_id):
        org = organization(req, slug)
        resp.media = hook(self.host.hooks.update(org, hook_id, self.json(req)))

    def on_delete(self, req, resp, slug, hook_id):
        self.host.hooks.delete(organization(req, slug), hook_id)
        resp.status = falcon.HTTP_204


class HookSecret(Resource):
    """``POST .../hooks/{id}/rotate-secret``: a new secret, shown this once."""

    def on_post(self, req, resp, slug, hook_id):
        secret = self.host.hooks.rotate_secret(organization(req, slug), hook_id)
        resp.media = {"secret": secret}
        resp.cache_control = ["no-store"]


class HookDeliveries(Resource):
    """``GET .../hooks/{id}/deliveries?limit=&before=``: every attempt,
    newest first."""

    def on_get(self, req, resp, slug, hook_id):
        found = self.host.hooks.attempts(
            organization(req, slug),
            hook_id,
            int_param(req, "limit", 50, 500),
            int_param(req, "before", 0, 2**62) or None,
        )
        resp.media = [attempt(a) for a in found]


class HookRedeliver(Resource):
    """``POST .../hooks/{id}/deliveries/{delivery_id}/redeliver``: send that
    attempt's event once more (``202``; a job sends it)."""

    def on_post(self, req, resp, slug, hook_id, delivery_id):
        self.host.hooks.redeliver(organization(req, slug), hook_id, delivery_id)
        resp.status = falcon.HTTP_202
        resp.media = {"queued": True}
