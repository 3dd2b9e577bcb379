"""The JSON API under ``/api/0/``: organizations, members, groups, integrations.

Each responder reads its input with :mod:`host.validation`, calls one domain
service and serializes the result; no business rule lives here.
"""

from __future__ import annotations

import falcon

from host import metrics
from host.api import serialize
from host.api.idempotency import idempotent
from host.api.requests import int_param, organization, read_json
from host.services.groups import STATUSES, Source
from host.validation import Field, check

MEMBER_FIELDS = {
    "email": Field(str, required=True, max_length=254),
    "name": Field(str, max_length=200),
}
GROUP_FIELDS = {
    "title": Field(str, required=True, max_length=1000),
    "culprit": Field(str, max_length=1000),
}
GROUP_UPDATE_FIELDS = {
    "status": Field(str, choices=STATUSES),
    "assignee": Field(str, nullable=True, max_length=254),
}
COMMENT_FIELDS = {"text": Field(str, required=True, max_length=65_536)}
LINK_FIELDS = {
    "integration_id": Field(int, required=True),
    "key": Field(str, required=True, max_length=255),
    "comment": Field(str, max_length=65_536),
}
SETUP_START_FIELDS = {"provider": Field(str, required=True, max_length=100)}
API_PREFIX = "/api/0/organizations"
#: The longest ``/healthz`` waits for each of the read and the write lock.
HEALTH_WAIT_SECONDS = 0.25


class Resource:
    def __init__(self, host) -> None:
        self.host = host

    def json(self, req: falcon.Request):
        return read_json(req, self.host.config)

    def source(self, req: falcon.Request, org) -> Source:
        """A user's change, by the member ``X-Trackbridge-Actor`` names if any."""
        email = req.get_header("X-Trackbridge-Actor")
        member = self.host.organizations.member_by_email(org, email) if email else None
        return Source(member=member, user=True)


class Health(Resource):
    """``GET /healthz``: 200 when the database can be read and written, else
    503 with the reason, within a second either way (a load balancer's
    check must not hang on a locked database)."""

    def on_get(self, req, resp):
        problem = self.host.store.health(timeout=HEALTH_WAIT_SECONDS)
        if problem:
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "5")
            resp.media = {"status": "unavailable", "detail": problem}
            return
        resp.media = {"status": "ok"}


class MetricsPage(Resource):
    """``GET /metrics``: counts and gauges for Prometheus (no organization's
    data: route templates, providers, states)."""

    def on_get(self, req, resp):
        self.host.metrics.flush(self.host.store, force=True)
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8"
        resp.text = metrics.render(self.host.store, self.host.clock())


class OrganizationItem(Resource):
    def on_get(self, req, resp, slug):
        resp.media = serialize.organization(organization(req, slug))


class Members(Resource):
    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        resp.media = [serialize.member(m) for m in self.host.organizations.members(org)]

    def on_post(self, req, resp, slug):
        org = organization(req, slug)
        data = check(self.json(req), MEMBER_FIELDS)
        member, created = self.host.organizations.add_member(
            org, data["email"], data.get("name", "")
        )
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.media = serialize.member(member)


class Tokens(Resource):
    """``GET .../tokens``: the organization's API tokens (never a secret)."""

    def on_get(self, req, resp, slug):
        resp.media = self.host.organizations.tokens(organization(req, slug))


class TokenItem(Resource):
    """``DELETE .../tokens/{id}``: revoke a token (the caller's own too)."""

    def on_delete(self, req, resp, slug, token_id):
        self.host.organizations.revoke_token(organization(req, slug), token_id)
        resp.status = falcon.HTTP_204


class GroupResource(Resource):
    """What the group endpoints share (not their responders: a route gets
    only the methods its own class defines)."""

    def _detail(self, group):
        store = self.host.store
        data = serialize.group(group, store.groups.timestamps(group.id))
        data["external_issues"] = [
            serialize.external_issue(issue)
            for issue in store.integrations.issues_for_group(group.id)
        ]
        return data


class Groups(GroupResource):
    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        groups = self.host.groups.list(
            org,
            status=req.get_param("status"),
            limit=int_param(req, "limit", 100, 1000),
            offset=int_param(req, "offset", 0, 2**31),
            title_contains=req.get_param("q"),
        )
        resp.media = [serialize.group(g) for g in groups]

    @idempotent(calls_tracker=False)
    def on_post(self, req, resp, slug):
        org = organization(req, slug)
        data = check(self.json(req), GROUP_FIELDS)
        group = self.host.groups.create(org, data["title"], data.get("culprit", ""))
        resp.status = falcon.HTTP_201
        resp.media = self._detail(group)


class GroupItem(GroupResource):
    def on_get(self, req, resp, slug, group_id):
        org = organization(req, slug)
        resp.media = self._detail(self.host.groups.get(org, group_id))

    def on_put(self, req, resp, slug, group_id):
        org = organization(req, slug)
        data = check(self.json(req), GROUP_UPDATE_FIELDS)
        group = self.host.groups.get(org, group_id)
        source = self.source(req, org)
        if "assignee" in data:
            member = (
                self.host.organizations.member_by_email(org, data["assignee"])
                if data["assignee"]
                else None
            )
            self.host.groups.set_assignee(group, member, source)
        if "status" in data:
            group = self.host.groups.get(org, group_id)
            self.host.groups.set_status(group, data["status"], source)
        resp.media = self._detail(self.host.groups.get(org, group_id))

    def on_delete(self, req, resp, slug, group_id):
        self.host.groups.delete(organization(req, slug), group_id)
        resp.status = falcon.HTTP_204


class GroupActivity(Resource):
    def on_get(self, req, resp, slug, group_id):
        group = self.host.groups.get(organization(req, slug), group_id)
        resp.media = self.host.groups.activity(group)


class Comments(Resource):
    def on_get(self, req, resp, slug, group_id):
        group = self.host.groups.get(organization(req, slug), group_id)
        resp.media = [serialize.comment(c) for c in self.host.groups.comments(group)]

    @idempotent(calls_tracker=False)
    def on_post(self, req, resp, slug, group_id):
        org = organization(req, slug)
        data = check(self.json(req), COMMENT_FIELDS)
        group = self.host.groups.get(org, group_id)
        comment = self.host.groups.add_comment(
            group, data["text"], self.source(req, org)
        )
        resp.status = falcon.HTTP_201
        resp.media = serialize.comment(comment)


class CommentItem(Resource):
    def on_put(self, req, resp, slug, group_id, comment_id):
        org = organization(req, slug)
        data = check(self.json(req), COMMENT_FIELDS)
        group = self.host.groups.get(org, group_id)
        comment = self.host.groups.edit_comment(
            group, comment_id, data["text"], self.source(req, org)
        )
        resp.media = serialize.comment(comment)


class IntegrationResource(Resource):
    """What the integration endpoints share (not their responders)."""

    def _render(self, integration, org_integration):
        provider = self.host.providers.get(integration.provider)
        name = provider.name if provider else integration.provider
        return serialize.integration(
            integration,
            org_integration,
            name,
            self.host.breakers.status(integration),
        )


class Integrations(IntegrationResource):
    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        resp.media = [self._render(i, oi) for i, oi in self.host.integrations.list(org)]


class IntegrationItem(IntegrationResource):
    def on_get(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        resp.media = self._render(*self.host.integrations.get(org, integration_id))

    def on_put(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        self.host.integrations.update_config(org, integration_id, self.json(req))
        resp.media = self._render(*self.host.integrations.get(org, integration_id))

    def on_delete(self, req, resp, slug, integration_id):
        self.host.integrations.remove(organization(req, slug), integration_id)
        resp.status = falcon.HTTP_204


class IntegrationWebhookSecret(IntegrationResource):
    """``POST .../integrations/{id}/rotate-webhook-secret``: a new shared
    webhook secret; the old webhook URL fails from now on."""

    def on_post(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        integration, _ = self.host.integrations.get(org, integration_id)
        rotated = self.host.integrations.rotate_webhook_secret(integration)
        resp.media = {
            "integration": self._render(
                *self.host.integrations.get(org, integration_id)
            ),
            "message": rotated.message,
            "webhook_url": rotated.webhook_url,
        }
        resp.cache_control = ["no-store"]


class IntegrationSettings(Resource):
    """``GET/PUT .../integrations/{id}/config[?project=ID...]``: the settings
    form with its choices (statuses of mapped projects and of ``project``)."""

    def on_get(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        projects = req.get_param_as_list("project") or []
        form = self.host.settings.form(org, integration_id, projects)
        resp.media = serialize.settings_form(form)

    def on_put(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        self.host.integrations.update_config(org, integration_id, self.json(req))
        resp.media = serialize.settings_form(
            self.host.settings.form(org, integration_id)
        )


class IntegrationSearch(Resource):
    """``GET .../integrations/{id}/search?field=&query=[&project=]``."""

    def on_get(self, req, resp, slug, integration_id):
        org = organization(req, slug)
        choices = self.host.tracker_issues.search(
            org,
            integration_id,
            req.get_param("field"),
            req.get_param("query"),
            req.get_param("project"),
        )
        resp.media = [{"value": c.value, "label": c.label} for c in choices]


class SetupPipelines(Resource):
    """Start a provider's setup pipeline for the organization."""

    def on_post(self, req, resp, slug):
        org = organization(req, slug)
        data = check(self.json(req), SETUP_START_FIELDS)
        status = self.host.setup.start(org, data["provider"])
        resp.status = falcon.HTTP_201
        resp.media = serialize.pipeline(status)


class SetupPipelineItem(Resource):
    """Show the current step of a pipeline, or submit it."""

    def on_get(self, req, resp, slug, pipeline_id):
        org = organization(req, slug)
        resp.media = serialize.pipeline(self.host.setup.status(org, pipeline_id))

    def on_post(self, req, resp, slug, pipeline_id):
        org = organization(req, slug)
        status = self.host.setup.submit(org, pipeline_id, self.json(req))
        resp.media = serialize.pipeline(status)


class Deliveries(Resource):
    """``GET .../deliveries[?limit=&before=&status=]``: the webhook delivery log."""

    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        limit = int_param(req, "limit", 50, 500)
        before = int_param(req, "before", 0, 2**62) or None
        status = req.get_param("status")
        resp.media = self.host.inbound.recent(org, limit, before, status)


class Events(Resource):
    """``GET .../events[?after=&limit=&types=&wait=]``: the change feed, in
    order, from the cursor ``after`` (the last answer's ``next``)."""

    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        types = [t for t in (req.get_param("types") or "").split(",") if t]
        resp.media = self.host.events.page(
            org,
            req.get_param("after"),
            limit=int_param(req, "limit", 100, 500),
            types=types,
            wait=int_param(req, "wait", 0, 30),
        )


class DeliveryReprocess(Resource):
    """``POST .../deliveries/{id}/reprocess``: apply a delivery again."""

    def on_post(self, req, resp, slug, delivery_id):
        org = organization(req, slug)
        resp.media = self.host.inbound.reprocess(org, delivery_id)
        resp.status = falcon.HTTP_202


class DeadJobs(Resource):
    """``GET .../jobs/dead[?limit=&before=]``: the organization's dead letters."""

    def on_get(self, req, resp, slug):
        org = organization(req, slug)
        limit = int_param(req, "limit", 50, 500)
        before = int_param(req, "before", 0, 2**62) or None
        jobs = self.host.jobs.dead_letters(org, limit, before)
        resp.media = [serialize.job(job) for job in jobs]


class JobRetry(Resource):
    """``POST .../jobs/{id}/retry``: queue a dead-lettered job again."""

    def on_post(self, req, resp, slug, job_id):
        org = organization(req, slug)
        resp.media = serialize.job(self.host.jobs.retry_for(org, job_id))
        resp.status = falcon.HTTP_202


class GroupLinks(Resource):
    """Link an existing tracker issue to a group."""

    @idempotent(calls_tracker=True)
    def on_post(self, req, resp, slug, group_id):
        org = organization(req, slug)
        data = check(self.json(req), LINK_FIELDS)
        issue = self.host.tracker_issues.link(
            org, group_id, data["integration_id"], data["key"].strip(), data
        )
        resp.status = falcon.HTTP_201
        resp.media = serialize.external_issue(issue)


class GroupLinkItem(Resource):
    def on_delete(self, req, resp, slug, group_id, external_issue_id):
        org = organization(req, slug)
        self.host.tracker_issues.unlink(org, group_id, external_issue_id)
        resp.status = falcon.HTTP_204


class GroupCreateIssue(Resource):
    """The create form for a tracker issue (GET), and creating it (POST)."""

    def on_get(self, req, resp, slug, group_id, integration_id):
        org = organization(req, slug)
        params = {k: v for k, v in req.params.items() if isinstance(v, str)}
        fields = self.host.tracker_issues.create_form(
            org, group_id, integration_id, params
        )
        search = f"{API_PREFIX}/{slug}/integrations/{integration_id}/search"
        resp.media = {"fields": [serialize.form_field(f, search) for f in fields]}

    @idempotent(calls_tracker=True)
    def on_post(self, req, resp, slug, group_id, integration_id):
        org = organization(req, slug)
        issue = self.host.tracker_issues.create(
            org, group_id, integration_id, self.json(req)
        )
        resp.status = falcon.HTTP_201
        resp.media = serialize.external_issue(issue)
