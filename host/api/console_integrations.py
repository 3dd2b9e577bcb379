"""The console's overview and what its buttons do to one integration:
open its settings, show or renew its webhook URL, sign in to the tracker
again, remove it.

Each button is a POST with the page's CSRF token (nothing here acts on a
GET but the removal's confirmation page, which only asks). Another
organization's integration is a 404, as in the API.
"""

from __future__ import annotations

import falcon

from host.api.console_page import ConsolePage
from host.errors import TrackbridgeError
from host.types import WEBHOOK_WAITING


class OverviewPage(ConsolePage):
    """What every overview answer shares: the page, with a notice, an
    error or a webhook URL shown once."""

    section = "overview"

    def _render_overview(self, resp, organization, session_id, **context) -> None:
        self._render(
            resp,
            "overview.html",
            organization,
            session_id,
            title=f"{organization.name}: integrations",
            integrations=self.host.console.overview(organization),
            waiting_status=WEBHOOK_WAITING,
            **{"webhook_url": None, "webhook_integration": None, **context},
        )


class Overview(OverviewPage):
    """``/console/{org}``: each integration's health and the way to act on it."""

    def on_get(self, req, resp, slug):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        self._render_overview(resp, *signed, notice=req.get_param("done"))

    def on_post(self, req, resp, slug):
        self._sign_in_form(req, resp, slug)


class IntegrationButton(OverviewPage):
    """A button of one integration's card: a signed-in form, then
    :meth:`press` with the integration (another organization's: 404)."""

    def on_post(self, req, resp, slug, integration_id):
        form = self._form(req, resp, slug)
        if form is None:
            return
        organization, session_id, _ = form
        integration, _ = self.host.integrations.get(organization, integration_id)
        self.press(resp, organization, session_id, integration)

    def press(self, resp, organization, session_id, integration) -> None:
        raise NotImplementedError


class IntegrationSettings(IntegrationButton):
    """``POST …/integrations/{id}/settings``: open its settings page, signed
    in (a one-time link made on the click, never on a list)."""

    def press(self, resp, organization, session_id, integration):
        link = self.host.settings.create_link(organization, integration.id)
        raise falcon.HTTPSeeOther(
            f"/settings/{organization.slug}/integrations/{integration.id}?link={link}"
        )


class IntegrationReauthenticate(IntegrationButton):
    """``POST …/integrations/{id}/reauthenticate``: the provider's setup,
    signed in, to give the tracker new credentials (installing the same
    tracker again replaces them and keeps links and settings)."""

    def press(self, resp, organization, session_id, integration):
        provider = self.host.provider(integration.provider)
        link = self.host.setup.create_link(organization, provider.key)
        raise falcon.HTTPSeeOther(f"/extensions/{provider.slug}/setup?link={link}")


class IntegrationWebhookUrl(IntegrationButton):
    """``POST …/integrations/{id}/webhook-url``: the URL the tracker's
    webhook calls, shown on this answer only (it holds the secret)."""

    def press(self, resp, organization, session_id, integration):
        url = self.host.integrations.webhook_url(integration)
        if url is None:
            return self._render_overview(
                resp,
                organization,
                session_id,
                notice=f"{integration.name} has no webhook URL of its own to show:"
                " the tracker sends to the address it was given when it was"
                " connected, with nothing secret in it.",
            )
        self._render_overview(
            resp,
            organization,
            session_id,
            webhook_url=url,
            webhook_integration=integration,
        )


class IntegrationWebhookSecret(IntegrationButton):
    """``POST …/integrations/{id}/rotate-webhook-secret``: a new webhook
    secret (the old URL fails from now on); the overview then says what
    happened, and shows a new URL an administrator must enter once, on this
    answer only."""

    def press(self, resp, organization, session_id, integration):
        try:
            rotated = self.host.integrations.rotate_webhook_secret(integration)
        except TrackbridgeError as ex:
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_overview(
                resp, organization, session_id, error=ex.detail
            )
        self._render_overview(
            resp,
            organization,
            session_id,
            notice=rotated.message,
            webhook_url=rotated.webhook_url,
            webhook_integration=integration if rotated.webhook_url else None,
        )


class IntegrationRemove(IntegrationButton):
    """``…/integrations/{id}/remove``: GET asks (what goes, what stays),
    POST removes; then the overview says so."""

    def on_get(self, req, resp, slug, integration_id):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        organization, session_id = signed
        integration, _ = self.host.integrations.get(organization, integration_id)
        self._render(
            resp,
            "remove.html",
            organization,
            session_id,
            title=f"Remove {integration.name}?",
            integration=integration,
            links=self.host.store.integrations.count_links(
                organization.id, integration.id
            ),
        )

    def press(self, resp, organization, session_id, integration):
        self.host.integrations.remove(organization, integration.id)
        raise falcon.HTTPSeeOther(
            f"/console/{organization.slug}?done="
            + falcon.uri.encode_value(f"{integration.name} was removed.")
        )


#: The integration buttons, by the last part of their path.
ACTIONS = {
    "settings": IntegrationSettings,
    "reauthenticate": IntegrationReauthenticate,
    "webhook-url": IntegrationWebhookUrl,
    "rotate-webhook-secret": IntegrationWebhookSecret,
    "remove": IntegrationRemove,
}
