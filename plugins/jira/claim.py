"""An organization claims a tenant: proof that it controls the Jira site.

Only a Jira administrator can open the app's configure page (Jira → Apps →
Manage apps → trackbridge → Configure). Jira loads it with a JWT signed by
the site's shared secret; the page shows a one-time claim code (an hour,
once). Whoever pastes that code into trackbridge's setup (``trackbridge
install jira --org SLUG``) saw the page, so controls the site; another
organization that guesses or replays a code gets nowhere (a 144-bit code,
only its hash kept, used up by the first claim).
"""

from __future__ import annotations

import hashlib
import html
import secrets
from urllib.parse import urlsplit

import falcon

from host.errors import ValidationError
from host.types import FormField, IntegrationSpec, StepResult
from plugins.jira import connect
from plugins.jira.connect import TokenRefused
from plugins.jira.descriptor import app_base_url
from plugins.jira.tenants import INSTALLED, TenantStore

PREFIX = "tbc_"
#: Seconds a claim code works.
CLAIM_SECONDS = 3600


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


class ConfigurePage:
    """``GET /extensions/jira/configure/?jwt=…``: the app's configure page
    in Jira (an iframe), showing a fresh claim code. Always a page (Jira
    shows whatever comes back), never the code without a valid token."""

    def __init__(self, host, tenants: TenantStore) -> None:
        self.host = host
        self.tenants = tenants

    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_HTML
        token = req.get_param("jwt") or ""
        try:
            tenant, secret = self._tenant(token)
            expected = connect.query_hash(
                "GET",
                connect.relative_path(req.path, app_base_url(self.host)),
                connect.query_of(urlsplit(req.url).query),
            )
            connect.verify_shared_secret(token, secret, expected)
        except TokenRefused as ex:
            resp.status = falcon.HTTP_401
            resp.text = _page(
                "Unable to verify this page",
                f"Open it again from Jira's app settings. ({html.escape(ex.detail)})",
            )
            return
        code = PREFIX + secrets.token_urlsafe(18)
        self.tenants.set_claim(
            tenant.client_key, code_hash(code), self.host.clock() + CLAIM_SECONDS
        )
        resp.context.frame_ancestors = tenant.base_url  # Jira shows it in a frame
        resp.text = _page(
            "Connect this site to trackbridge",
            "In trackbridge, start the install for your organization"
            " (<code>trackbridge install jira --org SLUG</code>, or the link it"
            " prints) and paste this code. It works once, for an hour; opening"
            " this page again makes a new one."
            f"<pre>{html.escape(code)}</pre>"
            f"<p>Site: {html.escape(tenant.base_url)}</p>",
        )

    def _tenant(self, token: str):
        if not token:
            raise TokenRefused("No token.")
        tenant = self.tenants.get(connect.unverified_issuer(token))
        if tenant is None or tenant.status != INSTALLED:
            raise TokenRefused("This site has not installed the app.")
        return tenant, self.tenants.shared_secret(tenant.client_key)


def field() -> FormField:
    """The claim code, asked when the site is connected through the app."""
    return FormField(
        name="claim_code",
        label="Claim code",
        secret=True,
        placeholder="tbc_…",
        show_if=("auth_mode", "app"),
        help="Install the trackbridge app in Jira (README: Installing Jira Cloud),"
        " then open Apps → Manage apps → trackbridge → Configure: it shows the"
        " code. It works once.",
    )


def submit(host, data) -> StepResult:
    """The tenant the code names.

    :raises ValidationError: no code, or not a live one (wrong, used,
        expired, or its site uninstalled the app).
    """
    code = str(data.get("claim_code", "")).strip()
    if not code:
        raise ValidationError({"claim_code": ["Paste the code Jira's app page shows."]})
    tenant = TenantStore(host).redeem_claim(code_hash(code), host.clock())
    if tenant is None:
        raise ValidationError(
            {
                "claim_code": [
                    "This code is not valid: it may be mistyped, used already or"
                    " older than an hour. Open the app's configure page in Jira"
                    " again for a new one."
                ]
            }
        )
    return StepResult(state={"auth_mode": "app", "client_key": tenant.client_key})


def build(host, state) -> IntegrationSpec:
    tenant = TenantStore(host).get(state["client_key"])
    domain = urlsplit(tenant.base_url).netloc
    return IntegrationSpec(
        external_id=tenant.client_key,
        name=f"Jira Cloud ({domain})",
        # The shared secret stays in the tenant's row (re-installs replace
        # it there); the integration names the tenant.
        metadata={
            "base_url": tenant.base_url,
            "domain_name": domain,
            "auth": "connect",
        },
        credentials={},
    )


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · trackbridge</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:1rem;color:#1d2330}"
        "pre{background:#f3f5f8;padding:.5rem;font-size:1.1rem}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{body}</p></body></html>"
    )
