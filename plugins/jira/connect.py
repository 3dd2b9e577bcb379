"""Atlassian Connect JWTs: the query string hash, reading a token, checking
one, and signing our own calls to a Jira Cloud site.

Jira signs every lifecycle call and webhook it sends an app with a JWT in
``Authorization: JWT <token>`` whose ``qsh`` claim is the SHA-256 of the
request's canonical form (method, path relative to the app's base URL,
sorted and encoded query), so a token is good for one request only.
Install and uninstall calls are RS256, signed by Atlassian (the key found
by the token's ``kid``); everything else is HS256 with the tenant's shared
secret. The algorithm is never taken from the token: each check pins its
own, so ``alg: none`` and RS256/HS256 confusion are refused.

Every problem raises :class:`TokenRefused` with a detail for the answer
and the log; nothing here lets a PyJWT error through.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlsplit

import jwt

#: Lifetime of the tokens we sign for calls to Jira (Atlassian's maximum
#: advice is a few minutes; Sentry uses 300 s).
OUTBOUND_LIFETIME = 300


class TokenRefused(Exception):
    """A Connect token failed a check; ``detail`` says which."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# ---- the query string hash ----


def percent_encode(text: str) -> str:
    """RFC 3986: unreserved characters kept, everything else ``%XX``
    (space ``%20``, ``/`` ``%2F``, ``~`` kept)."""
    return quote(text, safe="~")


def canonical_request(
    method: str, path: str, query: Mapping[str, str | Sequence[str]]
) -> str:
    """``METHOD&/path&k=v&...``: the path without its trailing slash (``/``
    for the root) and with ``&`` escaped; the query without ``jwt``, sorted
    by key, a repeated key's values sorted and joined with ``,``."""
    canonical_path = "/" + path.strip("/")
    canonical_path = canonical_path.replace("&", "%26")
    pairs = []
    for key in sorted(k for k in query if k != "jwt"):
        value = query[key]
        values = [value] if isinstance(value, str) else list(value)
        joined = ",".join(percent_encode(v) for v in sorted(values))
        pairs.append(f"{percent_encode(key)}={joined}")
    return f"{method.upper()}&{canonical_path}&{'&'.join(pairs)}"


def query_hash(method: str, path: str, query: Mapping[str, str | Sequence[str]]) -> str:
    return hashlib.sha256(canonical_request(method, path, query).encode()).hexdigest()


def relative_path(path: str, base_url: str) -> str:
    """The request path relative to the app's (or the site's) base URL: a
    host served under ``/tb`` signs ``/extensions/...``, not ``/tb/...``."""
    prefix = urlsplit(base_url).path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def query_of(url_query: str) -> dict[str, list[str]]:
    """A query string as every value of every key (``parse_qs`` order)."""
    found: dict[str, list[str]] = {}
    for key, value in parse_qsl(url_query, keep_blank_values=True):
        found.setdefault(key, []).append(value)
    return found


# ---- reading and checking tokens ----


def token_from_header(authorization: str | None) -> str:
    """The token of ``Authorization: JWT <token>`` (any scheme, as Jira's
    own clients vary)."""
    if not authorization or " " not in authorization.strip():
        raise TokenRefused("Missing or malformed Authorization header.")
    return authorization.strip().split(" ", 1)[1].strip()


def unverified_header(token: str) -> dict:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefused("Could not decode the JWT header.") from None


def unverified_issuer(token: str) -> str:
    """Who the token says sent it (the tenant's ``clientKey``), before the
    signature is checked: only to find the secret to check it with."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRefused("Could not decode the JWT.") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenRefused("The JWT has no issuer.")
    return issuer


def verify_shared_secret(token: str, secret: str, expected_qsh: str) -> dict:
    """A tenant's HS256 token for one request: signature, ``exp``, ``qsh``.

    :raises TokenRefused: any other algorithm (``kid`` or not), a bad
        signature, expired, no or another ``qsh``.
    """
    header = unverified_header(token)
    if header.get("alg") != "HS256":
        raise TokenRefused("Invalid algorithm in JWT header: HS256 expected.")
    claims = _decode(
        token, secret, ["HS256"], audience=None, required=["exp", "iat", "iss"]
    )
    _check_qsh(claims, expected_qsh)
    return claims


def verify_signed_install(
    token: str, public_key_pem: str, audience: str, expected_qsh: str
) -> dict:
    """Atlassian's RS256 install or uninstall token: signature with the key
    its ``kid`` named, ``aud`` equal to our base URL byte for byte, ``exp``,
    ``qsh``. The caller still checks ``iss`` against the body's clientKey.

    :raises TokenRefused: as :func:`verify_shared_secret`, or another
        audience.
    """
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise TokenRefused("Invalid algorithm in JWT header: RS256 expected.")
    claims = _decode(
        token,
        public_key_pem,
        ["RS256"],
        audience=audience,
        required=["exp", "iat", "iss", "aud"],
    )
    _check_qsh(claims, expected_qsh)
    return claims


def _decode(token, key, algorithms, *, audience, required) -> dict:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            options={"require": required, "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused("Expired signature.") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused("The JWT's audience is not this app's base URL.") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("Invalid signature.") from None
    except jwt.InvalidAlgorithmError:
        raise TokenRefused("Invalid algorithm in JWT header.") from None
    except jwt.MissingRequiredClaimError as ex:
        raise TokenRefused(f"The JWT has no {ex.claim!r} claim.") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenRefused("Could not decode the JWT.") from None


def _check_qsh(claims: Mapping, expected: str) -> None:
    qsh = claims.get("qsh")
    if not isinstance(qsh, str):
        raise TokenRefused("The JWT has no query string hash (qsh).")
    if qsh != expected:
        # "context-qsh" (a token made for a page) is refused too: this
        # request is not a page context.
        raise TokenRefused("Query hash mismatch: the JWT was made for another request.")


# ---- signing our calls ----


def sign_request(
    app_key: str,
    secret: str,
    method: str,
    url: str,
    site_base_url: str,
    *,
    now: float | None = None,
) -> str:
    """``Authorization`` for one call to a Jira Cloud site: a fresh HS256
    JWT (``iss`` our app key, ``iat``, ``exp`` +300 s, the ``qsh`` of this
    method, path relative to the site, and query)."""
    issued = int(time.time() if now is None else now)
    parts = urlsplit(url)
    path = relative_path(parts.path, site_base_url)
    claims = {
        "iss": app_key,
        "iat": issued,
        "exp": issued + OUTBOUND_LIFETIME,
        "qsh": query_hash(method, path, query_of(parts.query)),
    }
    return "JWT " + jwt.encode(claims, secret, algorithm="HS256")
