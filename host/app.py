"""The Falcon app factory.

``create_app()`` with no argument reads the configuration, so gunicorn can
serve ``'host.app:create_app()'``; each worker then opens its own database
connection. Tests pass a ready :class:`host.core.Host`.
"""

from __future__ import annotations

import logging

import falcon

from host.api import (
    console_integrations,
    console_page,
    hooks,
    openapi,
    resources,
    rules,
)
from host.api.middleware import RequestContext, SecurityHeaders
from host.api.requests import TokenAuth
from host.api.settings_page import SettingsPage
from host.api.setup_page import SetupPage
from host.api.webhooks import ProviderWebhook, Replica
from host.config import load_config
from host.core import Host
from host.errors import TrackbridgeError
from host.jsontext import INT_MAX
from host.logs import configure_logging

log = logging.getLogger(__name__)

API = "/api/0/organizations/{slug}"


def create_app(host: Host | None = None) -> falcon.App:
    if host is None:
        config = load_config()
        configure_logging(config.log_level, config.log_format)
        host = Host.from_config(config)
    app = falcon.App(
        middleware=[
            RequestContext(host),
            SecurityHeaders(),
            TokenAuth(host),
            openapi.QueryCheck(),
        ]
    )
    # {name:id}: an integer the store can hold; any other is no route (404).
    app.router_options.converters["id"] = StoreId
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.set_error_serializer(_serialize_http_error)
    app.add_error_handler(Exception, _internal_error)
    app.add_error_handler(TrackbridgeError, _trackbridge_error)

    app.add_route("/healthz", resources.Health(host))
    app.add_route("/metrics", resources.MetricsPage(host))
    app.add_route(openapi.PATH, openapi.OpenApiDocument())
    app.add_route("/internal/replicate", Replica(host))
    app.add_route(API, resources.OrganizationItem(host))
    app.add_route(f"{API}/members", resources.Members(host))
    app.add_route(f"{API}/tokens", resources.Tokens(host))
    app.add_route(f"{API}/tokens/{{token_id:id}}", resources.TokenItem(host))
    app.add_route(f"{API}/groups", resources.Groups(host))
    app.add_route(f"{API}/groups/{{group_id:id}}", resources.GroupItem(host))
    app.add_route(
        f"{API}/groups/{{group_id:id}}/activity", resources.GroupActivity(host)
    )
    app.add_route(f"{API}/groups/{{group_id:id}}/comments", resources.Comments(host))
    app.add_route(
        f"{API}/groups/{{group_id:id}}/comments/{{comment_id:id}}",
        resources.CommentItem(host),
    )
    app.add_route(f"{API}/groups/{{group_id:id}}/links", resources.GroupLinks(host))
    app.add_route(
        f"{API}/groups/{{group_id:id}}/links/{{external_issue_id:id}}",
        resources.GroupLinkItem(host),
    )
    app.add_route(
        f"{API}/groups/{{group_id:id}}/integrations/{{integration_id:id}}/create",
        resources.GroupCreateIssue(host),
    )
    app.add_route(f"{API}/integrations", resources.Integrations(host))
    app.add_route(
        f"{API}/integrations/{{integration_id:id}}", resources.IntegrationItem(host)
    )
    app.add_route(
        f"{API}/integrations/{{integration_id:id}}/config",
        resources.IntegrationSettings(host),
    )
    app.add_route(
        f"{API}/integrations/{{integration_id:id}}/search",
        resources.IntegrationSearch(host),
    )
    app.add_route(
        f"{API}/integrations/{{integration_id:id}}/rotate-webhook-secret",
        resources.IntegrationWebhookSecret(host),
    )
    app.add_route(f"{API}/deliveries", resources.Deliveries(host))
    app.add_route(f"{API}/events", resources.Events(host))
    app.add_route(f"{API}/rules", rules.Rules(host))
    app.add_route(f"{API}/rules/{{rule_id:id}}", rules.RuleItem(host))
    app.add_route(f"{API}/hooks", hooks.Hooks(host))
    app.add_route(f"{API}/hooks/{{hook_id:id}}", hooks.HookItem(host))
    app.add_route(f"{API}/hooks/{{hook_id:id}}/rotate-secret", hooks.HookSecret(host))
    app.add_route(f"{API}/hooks/{{hook_id:id}}/deliveries", hooks.HookDeliveries(host))
    app.add_route(
        f"{API}/hooks/{{hook_id:id}}/deliveries/{{delivery_id:id}}/redeliver",
        hooks.HookRedeliver(host),
    )
    app.add_route(
        f"{API}/deliveries/{{delivery_id:id}}/reprocess",
        resources.DeliveryReprocess(host),
    )
    app.add_route(f"{API}/jobs/dead", resources.DeadJobs(host))
    app.add_route(f"{API}/jobs/{{job_id:id}}/retry", resources.JobRetry(host))
    app.add_route(f"{API}/setup", resources.SetupPipelines(host))
    app.add_route(f"{API}/setup/{{pipeline_id}}", resources.SetupPipelineItem(host))
    for contributed in host.hook.register_routes(host=host):
        for route in contributed or ():
            app.add_route(route.uri_template, route.resource, suffix=route.suffix)
    app.add_route("/extensions/{provider_slug}/setup", SetupPage(host))
    app.add_route(
        "/settings/{slug}/integrations/{integration_id:id}", SettingsPage(host)
    )
    app.add_route("/console/{slug}", console_integrations.Overview(host))
    for action, page in console_integrations.ACTIONS.items():
        app.add_route(
            f"/console/{{slug}}/integrations/{{integration_id:id}}/{action}",
            page(host),
        )
    app.add_route("/console/{slug}/groups", console_page.Groups(host))
    app.add_route("/console/{slug}/groups/{group_id:id}", console_page.GroupPage(host))
    app.add_route(
        "/console/{slug}/groups/{group_id:id}/create",
        console_page.GroupCreateIssue(host),
    )
    app.add_route("/console/{slug}/deliveries", console_page.Deliveries(host))
    app.add_route("/console/{slug}/jobs", console_page.DeadJobs(host))
    app.add_route("/console/{slug}/tokens", console_page.Tokens(host))
    app.add_route("/console/{slug}/hooks", console_page.Hooks(host))
    # Last, so that plugins' own pages under /extensions/ take precedence.
    app.add_route("/extensions/{provider_slug}/{path:path}", ProviderWebhook(host))
    return app


class StoreId(falcon.routing.IntConverter):
    """A path id: 1 to 2**63 - 1, the store's range; anything else matches
    no route, so ``/groups/99999999999999999999999`` is a 404, not a 500."""

    def __init__(self) -> None:
        super().__init__(min=1, max=INT_MAX)


def _trackbridge_error(req, resp, ex: TrackbridgeError, params) -> None:
    resp.status = falcon.code_to_http_status(ex.status)
    resp.media = ex.to_dict()
    retry_after = getattr(ex, "retry_after", None)
    if retry_after is not None:
        resp.set_header("Retry-After", str(retry_after))


def _internal_error(req, resp, ex: Exception, params) -> None:
    if isinstance(ex, falcon.HTTPError):
        raise ex
    # The route template, not the path: a webhook path carries its token.
    log.exception("unhandled error on %s %s", req.method, req.uri_template or "?")
    resp.status = falcon.HTTP_500
    resp.media = {"detail": "Internal server error."}


def _serialize_http_error(req, resp, ex: falcon.HTTPError) -> None:
    detail = ex.description
    if detail is None and ex.status_code == 404:
        detail = f"No such endpoint: {req.path}"
    elif detail is None and ex.status_code == 405:
        detail = f"Method {req.method} is not allowed on {req.path}."
    elif detail is None:
        detail = ex.title
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"detail": detail}
