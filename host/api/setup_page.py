"""The browser setup pages: ``/extensions/{provider}/setup/``.

They drive the same :class:`host.services.setup.SetupService` as the JSON
API. A page is opened with a one-time link (``trackbridge install``) or the
organization's API token; from then on the pipeline id lives only in an
HttpOnly, SameSite=Lax cookie, so the tracker's redirect back (a top-level
GET to the constant callback URL) finds it. Forms carry a CSRF token derived
from the pipeline id; secrets are never echoed back into a page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import falcon

from host.api.pages import (
    BOOLEANS,
    CSRF,
    booleans,
    csrf_ok,
    csrf_token,
    read_form,
    same_origin,
    templates,
)
from host.errors import (
    NotAuthenticated,
    NotFound,
    TrackbridgeError,
    ValidationError,
)
from host.services import sync_flags
from host.services.setup import PipelineStatus
from host.types import WEBHOOK_WAITING, FormField, Provider

COOKIE = "tb_setup"


class SetupPage:
    def __init__(self, host) -> None:
        self.host = host

    # ---- GET: start from a link, show a step, or take the tracker's callback ----

    def on_get(self, req, resp, provider_slug):
        provider = self._provider(provider_slug)
        resp.context.address_warning = self._address_warning(req)
        link = req.get_param("link")
        if link:
            try:
                organization = self.host.setup.redeem_link(link, provider.key)
            except NotFound as ex:
                resp.status = falcon.HTTP_404
                return self._render_start(resp, provider, "", error=ex.detail)
            return self._start(resp, provider, organization)
        pipeline_id = req.cookies.get(COOKIE)
        callback = {
            k: v
            for k, v in req.params.items()
            if k in ("oauth_token", "oauth_verifier")
        }
        if not pipeline_id:
            if callback.get("oauth_verifier"):
                return self._render(
                    resp,
                    provider,
                    title="Access approved",
                    done="The tracker approved access, but this browser has no setup"
                    " in progress. Paste this verification code where you started: "
                    + callback["oauth_verifier"],
                )
            return self._render_start(resp, provider, req.get_param("org") or "")
        try:
            organization = self.host.setup.organization_of(pipeline_id)
            if callback:
                status = self.host.setup.submit(organization, pipeline_id, callback)
                return self._after_submit(resp, provider, organization, status)
            status = self.host.setup.status(organization, pipeline_id)
        except NotFound as ex:
            resp.unset_cookie(COOKIE, path="/extensions/")
            return self._render_start(resp, provider, "", error=ex.detail)
        except TrackbridgeError as ex:
            status = self.host.setup.status(organization, pipeline_id)
            return self._render_step(resp, provider, status, error=ex.detail)
        return self._render_step(resp, provider, status)

    # ---- POST: start with a token, or submit the current step ----

    def on_post(self, req, resp, provider_slug):
        provider = self._provider(provider_slug)
        resp.context.address_warning = self._address_warning(req)
        same_origin(req, self.host.config.public_url)
        data = read_form(req, self.host.config.max_body_bytes)
        if data.get("_action") == "start":
            return self._start_with_token(resp, provider, data)
        pipeline_id = req.cookies.get(COOKIE)
        if not csrf_ok(data, pipeline_id):
            raise falcon.HTTPForbidden(
                description="This form has expired or did not come from this page:"
                " open the setup page again."
            )
        organization = self.host.setup.organization_of(pipeline_id)
        if data.get("_action") == "restart":
            return self._start(resp, provider, organization)
        booleans(data)
        try:
            status = self.host.setup.submit(organization, pipeline_id, data)
        except ValidationError as ex:
            status = self.host.setup.status(organization, pipeline_id)
            resp.status = falcon.HTTP_400
            return self._render_step(
                resp, provider, status, errors=ex.errors, values=data
            )
        except TrackbridgeError as ex:
            status = self.host.setup.status(organization, pipeline_id)
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_step(
                resp, provider, status, error=ex.detail, values=data
            )
        return self._after_submit(resp, provider, organization, status)

    # ---- helpers ----

    def _provider(self, slug: str) -> Provider:
        provider = self.host.provider_by_slug(slug)
        if provider is None:
            raise NotFound(f"Unknown provider: {slug}")
        return provider

    def _start_with_token(self, resp, provider, data):
        slug = str(data.get("org", "")).strip()
        try:
            organization, _ = self.host.organizations.authenticate(
                str(data.get("token", ""))
            )
            if organization.slug != slug:
                raise NotAuthenticated(
                    "That token does not belong to this organization."
                )
        except NotAuthenticated as ex:
            resp.status = falcon.HTTP_401
            return self._render_start(resp, provider, slug, error=ex.detail)
        return self._start(resp, provider, organization)

    def _start(self, resp, provider, organization):
        status = self.host.setup.start(organization, provider.key)
        resp.set_cookie(
            COOKIE,
            status.pipeline_id,
            max_age=self.host.config.setup_ttl_seconds,
            path="/extensions/",
            secure=self.host.config.public_url.startswith("https://"),
            http_only=True,
            same_site="Lax",
        )
        raise falcon.HTTPSeeOther(f"/extensions/{provider.slug}/setup/")

    def _after_submit(self, resp, provider, organization, status: PipelineStatus):
        if status.complete:
            resp.unset_cookie(COOKIE, path="/extensions/")
            return self._render_installed(resp, provider, organization, status)
        if status.redirect_url:
            raise falcon.HTTPSeeOther(status.redirect_url)
        raise falcon.HTTPSeeOther(f"/extensions/{provider.slug}/setup/")

    def _render_installed(self, resp, provider, organization, status) -> None:
        """Where the install ends: what was installed, what syncs (nothing
        until turned on), whether Jira's webhooks arrive yet, and the way to
        the settings."""
        integration, org_integration = self.host.integrations.get(
            organization, status.integration_id
        )
        webhook = integration.metadata.get("webhook_status")
        waiting = webhook == WEBHOOK_WAITING
        settings = (
            f"/settings/{organization.slug}/integrations/{integration.id}?link="
            + self.host.settings.create_link(organization, integration.id)
        )
        toggles = [
            (label, sync_flags.enabled(org_integration.config, flag))
            for flag, label in sync_flags.LABELS.items()
        ]
        self._render(
            resp,
            provider,
            title="Installed",
            done=f"{_named(provider.name, integration.name)} is installed"
            + (
                ": waiting for its first webhook."
                if waiting
                else f" (webhook: {webhook})."
                if webhook
                else "."
            ),
            installed={
                "name": integration.name,
                "id": integration.id,
                "host": integration.metadata.get("domain_name")
                or integration.external_id,
                "toggles": toggles,
                "nothing_syncs": not any(on for _, on in toggles),
                "settings_url": settings,
                "slug": organization.slug,
                "console_url": f"/console/{organization.slug}?link="
                + self.host.console.create_link(organization),
                "waiting": waiting,
            },
            # In manual mode, what the tracker's administrator enters, again.
            instructions=status.view.instructions if waiting and status.view else (),
        )

    def _render_start(self, resp, provider, slug: str, error: str | None = None):
        self._render(
            resp,
            provider,
            title=f"Install {provider.name}",
            command=f"trackbridge install {provider.key} --org {slug or 'SLUG'}",
            fields=[
                FormField(name="org", label="Organization", required=True),
                FormField(
                    name="token", label="API token", type="password", required=True
                ),
            ],
            values={"org": slug},
            hidden={"_action": "start"},
            submit_label="Start",
            error=error,
        )

    def _render_step(
        self,
        resp,
        provider,
        status: PipelineStatus,
        *,
        errors=None,
        values=None,
        error=None,
    ):
        fields = list(status.view.fields)
        shown = {
            f.name: v
            for f in fields
            if not f.secret and (v := (values or {}).get(f.name)) is not None
        }
        self._render(
            resp,
            provider,
            title=status.step.title,
            intro=status.view.intro,
            instructions=status.view.instructions,
            fields=fields,
            errors=errors or {},
            values=shown,
            hidden={
                CSRF: csrf_token(status.pipeline_id),
                BOOLEANS: ",".join(f.name for f in fields if f.type == "boolean"),
            },
            step=status.step,
            step_index=status.step_index,
            total_steps=status.total_steps,
            submit_label="Continue",
            error=error,
        )

    def _address_warning(self, req) -> str | None:
        """What to say when this page was opened at another address than
        ``public_url``: the URLs the install gives the tracker are public_url's."""
        public = urlsplit(self.host.config.public_url)
        opened = req.get_header("X-Forwarded-Host") or req.netloc
        if opened.lower() == public.netloc.lower():
            return None
        return (
            f"You opened this page at {opened}, but this host's public_url is"
            f" {self.host.config.public_url}: the webhook and sign-in URLs the tracker"
            " gets point there. If it cannot reach that address, set [host]"
            " public_url (or TRACKBRIDGE_PUBLIC_URL) to where it reaches this"
            " host, restart, and start again."
        )

    def _render(self, resp, provider, **context):
        defaults = {
            "address_warning": resp.context.get("address_warning"),
            "installed": None,
            "provider": provider,
            "intro": "",
            "command": None,
            "instructions": (),
            "fields": None,
            "errors": {},
            "values": {},
            "hidden": {},
            "step": None,
            "step_index": 0,
            "total_steps": 0,
            "submit_label": "Continue",
            "error": None,
            "done": None,
            "action": f"/extensions/{provider.slug}/setup/",
        }
        resp.content_type = falcon.MEDIA_HTML
        resp.text = templates.get_template("setup.html").render({**defaults, **context})


def _named(provider: str, integration: str) -> str:
    """``Jira Server “Fake Jira (host)”``; once only where the integration's
    name starts with the provider's (``“Jira Cloud (acme.atlassian.net)”``)."""
    quoted = f"“{integration}”"
    return quoted if integration.startswith(provider) else f"{provider} {quoted}"
