"""What the HTML pages share: templates, form reading, CSRF tokens and the
same-origin check."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import falcon
import jinja2
from markupsafe import Markup

from host.api.requests import read_body
from host.errors import NotAuthenticated, UnsupportedMediaType, ValidationError
from host.services.settings import SESSION_SECONDS

FORM = "application/x-www-form-urlencoded"
#: Hidden field naming the checkboxes, so an unchecked one reads as False.
BOOLEANS = "_booleans"
CSRF = "_csrf"

templates = jinja2.Environment(
    loader=jinja2.PackageLoader("host", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def when(iso: str | None) -> Markup:
    """A stored time for people: ``2026-12-01 18:44 UTC`` in a ``<time>``
    that keeps the exact one."""
    if not iso:
        return Markup("-")
    shown = f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso
    return Markup('<time datetime="{}">{}</time>').format(iso, shown)


templates.filters["when"] = when


def token_sign_in(host, data: dict[str, Any], slug: str):
    """The organization a sign-in form's API token names, if it is ``slug``;
    else None and why (for the sign-in page)."""
    try:
        organization, _ = host.organizations.authenticate(str(data.get("token", "")))
    except NotAuthenticated as ex:
        return None, ex.detail
    if organization.slug != slug:
        return None, "That token belongs to another organization."
    return organization, None


def start_session(resp, host, organization, *, cookie: str, path: str, same_site):
    """Sign the browser in to ``organization``: a new session whose id only
    an HttpOnly cookie holds (Secure when public_url is https)."""
    resp.set_cookie(
        cookie,
        host.settings.start_session(organization),
        max_age=SESSION_SECONDS,
        path=path,
        secure=host.config.public_url.startswith("https://"),
        http_only=True,
        same_site=same_site,
    )


def csrf_token(session_id: str) -> str:
    """A form token bound to the browser's (HttpOnly) session id."""
    return hmac.new(session_id.encode(), b"csrf", hashlib.sha256).hexdigest()


def csrf_ok(data: dict[str, Any], session_id: str | None) -> bool:
    """Whether a posted form carries the token of this session (used up)."""
    given = str(data.pop(CSRF, ""))
    return bool(session_id) and hmac.compare_digest(given, csrf_token(session_id))


def same_origin(req: falcon.Request, public_url: str) -> None:
    """Refuse a form another site made the browser post.

    The CSRF token guards the forms of a session; this guards every form,
    including the sign-in and start forms, which have no session yet (a
    forged one could sign the browser in to the attacker's organization).
    Browsers say where a POST comes from in ``Sec-Fetch-Site`` and
    ``Origin``; a request without either (not a browser) passes. Pages send
    ``Referrer-Policy: no-referrer``, under which a browser posts its forms
    with ``Origin: null``; its ``Sec-Fetch-Site: same-origin`` says enough.
    """
    site = (req.get_header("Sec-Fetch-Site") or "").lower()
    if site == "same-origin":
        return
    origin = req.get_header("Origin")
    ours = {_origin(req.prefix), _origin(public_url)}
    if site == "cross-site" or (origin is not None and origin not in ours):
        raise falcon.HTTPForbidden(
            description="This form was posted from another site: open the page "
            "on this host and submit it there."
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def read_form(req: falcon.Request, max_bytes: int) -> dict[str, Any]:
    """The posted form, read within the same body limit as the JSON API."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise UnsupportedMediaType(f"Content-Type must be {FORM}.")
    body = read_body(req, max_bytes)
    try:
        text = body.decode()
        # Falcon would turn bytes that are not UTF-8 (%FF, an encoded lone
        # surrogate) into U+FFFD and save that: refused instead.
        unquote_to_bytes(text.replace("+", " ")).decode()
    except UnicodeDecodeError:
        raise ValidationError(
            {}, "The form is not valid UTF-8 text; nothing was saved."
        ) from None
    form = falcon.uri.parse_query_string(text, keep_blank=True, csv=False)
    values = [
        v
        for value in form.values()
        for v in (value if isinstance(value, list) else [value])
    ]
    if any("\x00" in v for v in values):
        raise ValidationError(
            {},
            "A field holds a NUL character (%00), which cannot be stored;"
            " nothing was saved.",
        )
    return form


def booleans(data: dict[str, Any]) -> None:
    """Turn the checkboxes named in :data:`BOOLEANS` into True / False."""
    for name in str(data.pop(BOOLEANS, "")).split(","):
        if name:
            data[name] = data.get(name) == "true"
