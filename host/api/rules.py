"""``/api/0/organizations/{slug}/rules``: ticket rules (see
:mod:`host.services.rules`)."""

from __future__ import annotations

import falcon

from host.api.requests import organization
from host.api.resources import Resource


def rule(found: dict) -> dict:
    return {
        "id": found["id"],
        "integration_id": found["integration_id"],
        "when": {
            "event": "group.created",
            "title_matches": found["title_matches"],
            "culprit_matches": found["culprit_matches"],
        },
        "fields": found["fields"],
        "active": found["active"],
        "created_at": found["created_at"],
        "updated_at": found["updated_at"],
    }


class Rules(Resource):
    """``GET`` the rules; ``POST {"integration_id", "when", "fields",
    "active"?}`` makes one (``201``; checked with the tracker's form)."""

    def on_get(self, req, resp, slug):
        resp.media = [rule(r) for r in self.host.rules.list(organization(req, slug))]

    def on_post(self, req, resp, slug):
        made = self.host.rules.create(organization(req, slug), self.json(req))
        resp.media = rule(made)
        resp.status = falcon.HTTP_201


class RuleItem(Resource):
    """``GET``, ``PUT`` (any of the fields; checked again), ``DELETE``."""

    def on_get(self, req, resp, slug, rule_id):
        resp.media = rule(self.host.rules.get(organization(req, slug), rule_id))

    def on_put(self, req, resp, slug, rule_id):
        org = organization(req, slug)
        resp.media = rule(self.host.rules.update(org, rule_id, self.json(req)))

    def on_delete(self, req, resp, slug, rule_id):
        self.host.rules.delete(organization(req, slug), rule_id)
        resp.status = falcon.HTTP_204
