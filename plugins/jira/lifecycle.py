"""The Connect app's own endpoints: its descriptor, and the ``installed``
and ``uninstalled`` lifecycle calls Jira Cloud makes.

Answers follow Sentry's Jira Cloud integration where it is sound: a
missing or unreadable ``Authorization`` header and a token made for
another request (qsh) are 409; a signed-install token whose key cannot be
had, that is expired, badly signed, for another audience or issuer is 400
with its own detail. Unlike Sentry, every token problem is such an answer
(never a 500), the key is fetched with a timeout and cached, and the
algorithm is pinned (RS256 for lifecycle calls) rather than read from the
token.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import falcon

from host import jsontext
from plugins.jira import connect, site_url
from plugins.jira.connect import TokenRefused
from plugins.jira.descriptor import app_base_url, descriptor
from plugins.jira.install_keys import InstallKeys
from plugins.jira.tenants import TenantStore
from plugins.jira.webhooks import KEY

log = logging.getLogger(__name__)


class LifecycleCall:
    """What ``installed`` and ``uninstalled`` share: the signed-install
    token of this request, checked."""

    def __init__(self, host, keys: InstallKeys, tenants: TenantStore) -> None:
        self.host = host
        self.keys = keys
        self.tenants = tenants

    def _token(self, req) -> str:
        try:
            return connect.token_from_header(req.get_header("Authorization"))
        except TokenRefused as ex:
            raise _refused(409, ex.detail) from None

    def _claims(self, req, token: str) -> dict:
        """The claims of Atlassian's RS256 token for this request.

        :raises falcon.HTTPError: 400 with the problem (409 for a qsh made
            for another request).
        """
        base = app_base_url(self.host)
        try:
            kid = connect.unverified_header(token).get("kid")
        except TokenRefused:
            raise _refused(400, "Failed to fetch key id.") from None
        if not kid:
            # Signed install is required: an HS256 install would let anyone
            # who invents a clientKey and secret install a tenant.
            raise _refused(400, "Missing key id.")
        expected = connect.query_hash(
            req.method,
            connect.relative_path(req.path, base),
            connect.query_of(urlsplit(req.url).query),
        )
        try:
            pem = self.keys.public_key(kid)
            return connect.verify_signed_install(token, pem, base, expected)
        except TokenRefused as ex:
            status = 409 if ex.detail.startswith("Query hash") else 400
            raise _refused(status, ex.detail) from None

    def _body(self, req) -> dict:
        raw = req.bounded_stream.read(self.host.config.max_body_bytes + 1)
        if not raw or len(raw) > self.host.config.max_body_bytes:
            raise _refused(400, "The lifecycle body is missing or too large.")
        try:
            body = jsontext.loads(raw, max_depth=self.host.config.max_json_depth)
        except jsontext.JsonRefused as ex:
            raise _refused(400, str(ex)) from None
        if not isinstance(body, dict):
            raise _refused(400, "The lifecycle body must be a JSON object.")
        return body


class Installed(LifecycleCall):
    """``POST /extensions/jira/installed/``: a site installed (or
    re-installed) the app; its tenant waits for an organization to claim it."""

    def on_post(self, req, resp):
        token = self._token(req)
        body = self._body(req)
        claims = self._claims(req, token)
        problems = {
            name: "is required"
            for name in ("clientKey", "sharedSecret", "baseUrl")
            if not isinstance(body.get(name), str) or not body[name].strip()
        }
        if problems:
            raise falcon.HTTPBadRequest(
                description="The lifecycle body lacks "
                + ", ".join(sorted(problems))
                + ".",
            )
        if claims.get("iss") != body["clientKey"]:
            raise _refused(400, "Token issuer does not match clientKey.")
        base_url = body["baseUrl"].strip().rstrip("/")
        if not site_url.acceptable(self.host, base_url):
            raise _refused(400, "baseUrl must be an https:// URL.")
        tenant, new = self.tenants.save_install(
            body["clientKey"],
            base_url,
            body["sharedSecret"],
            display_url=_text(body.get("displayUrl")),
            server_version=_text(body.get("serverVersion")),
        )
        log.info(
            "jira cloud tenant %s %s (%s)",
            tenant.id,
            "installed" if new else "re-installed",
            tenant.base_url,
        )
        if not new:
            _follow_a_moved_site(self.host, tenant)
        resp.status = falcon.HTTP_204


def _follow_a_moved_site(host, tenant) -> None:
    """A claimed site re-installed from another URL (a renamed site): the
    integration calls and links it there from now on, not at the old URL,
    which Atlassian redirects only for a while and never for a signed POST."""
    integration = host.integrations.by_external_id(KEY, tenant.client_key)
    if integration is None or integration.metadata.get("base_url") == tenant.base_url:
        return
    host.integrations.update_metadata(
        integration,
        {"base_url": tenant.base_url, "domain_name": urlsplit(tenant.base_url).netloc},
    )
    log.info(
        "jira cloud integration %s: the site moved from %s to %s",
        integration.id,
        integration.metadata.get("base_url"),
        tenant.base_url,
    )


class Uninstalled(LifecycleCall):
    """``POST /extensions/jira/uninstalled/``: the site removed the app;
    the tenant is marked so (kept, with whatever it links)."""

    def on_post(self, req, resp):
        token = self._token(req)
        claims = self._claims(req, token)
        tenant = self.tenants.get(str(claims.get("iss")))
        if tenant is None:
            raise _refused(409, "No tenant for this token's issuer.")
        self.tenants.mark_uninstalled(tenant.client_key)
        log.info("jira cloud tenant %s uninstalled (%s)", tenant.id, tenant.base_url)
        resp.status = falcon.HTTP_204


class Descriptor:
    """``GET /extensions/jira/descriptor/``: the app's Connect descriptor."""

    def __init__(self, host) -> None:
        self.host = host

    def on_get(self, req, resp):
        resp.media = descriptor(self.host)


def _refused(status: int, detail: str) -> falcon.HTTPError:
    log.info("jira cloud lifecycle call refused (%s): %s", status, detail)
    return falcon.HTTPError(falcon.code_to_http_status(status), description=detail)


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
