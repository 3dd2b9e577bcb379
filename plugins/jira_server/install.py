"""Installing against a Jira Server: the form, the keys, the webhook.

Everything here is checked before anything reaches Jira, and every Jira
failure becomes a message that says what to do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.destinations import host_allowed
from host.errors import SetupError, ValidationError
from plugins.jira_core.client import JiraClient, JiraError, jira_path

CONSUMER_KEY_MAX = 200
WEBHOOK_NAME = "trackbridge issue sync"
WEBHOOK_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
)
LEGACY_WEBHOOKS = "/rest/webhooks/1.0/webhook"  # Jira <= 9
MODERN_WEBHOOKS = "/rest/jira-webhook/1.0/webhooks"  # Jira >= 10


@dataclass(frozen=True)
class InstallationConfig:
    url: str
    verify_ssl: bool
    ca_bundle: str | None
    auth_mode: Literal["oauth", "token"]
    consumer_key: str | None = None
    private_key: str | None = None
    personal_access_token: str | None = None


def validate_installation(
    data: dict[str, Any], allowed_hosts: Sequence[str] = ()
) -> InstallationConfig:
    """Check the setup form; every invalid field gets its own message.

    ``allowed_hosts`` (``[jira_server] allowed_hosts``), when given, limits
    the Jira hosts this host will call: exact names, or ``*.example.com``.
    """
    errors: dict[str, list[str]] = {}
    url = ""
    try:
        url = normalize_base_url(str(data.get("url") or ""))
    except ValueError as ex:
        errors["url"] = [str(ex)]
    else:
        hostname = urlsplit(url).hostname or ""
        if allowed_hosts and not host_allowed(hostname, allowed_hosts):
            errors["url"] = [
                f"{hostname} is not one of the Jira hosts this trackbridge may"
                " connect to (ask its administrator: [jira_server] allowed_hosts)."
            ]
    verify_ssl = _boolean(data.get("verify_ssl", True))
    if verify_ssl is None:
        errors["verify_ssl"] = ["Must be a boolean."]
    ca_bundle = str(data.get("ca_bundle") or "").strip() or None
    if ca_bundle and "-----BEGIN CERTIFICATE-----" not in ca_bundle:
        errors["ca_bundle"] = ["Paste the CA certificate(s) in PEM format."]
    auth_mode = str(data.get("auth_mode") or "oauth")
    if auth_mode not in ("oauth", "token"):
        errors["auth_mode"] = [
            "Choose OAuth (Application Link) or personal access token."
        ]
    consumer_key = private_key = token = None
    if auth_mode == "oauth":
        consumer_key = str(data.get("consumer_key") or "").strip()
        if not consumer_key:
            errors["consumer_key"] = ["This field is required."]
        elif len(consumer_key) > CONSUMER_KEY_MAX:
            errors["consumer_key"] = [
                f"Consumer key is limited to {CONSUMER_KEY_MAX} characters."
            ]
        private_key = str(data.get("private_key") or "").strip()
        if not private_key:
            errors["private_key"] = ["This field is required."]
        else:
            try:
                load_private_key(private_key)
            except ValueError as ex:
                errors["private_key"] = [str(ex)]
    elif auth_mode == "token":
        token = str(data.get("personal_access_token") or "").strip()
        if not token:
            errors["personal_access_token"] = ["This field is required."]
    if errors:
        raise ValidationError(errors)
    return InstallationConfig(
        url=url,
        verify_ssl=bool(verify_ssl),
        ca_bundle=ca_bundle,
        auth_mode=auth_mode,  # type: ignore[arg-type]
        consumer_key=consumer_key,
        private_key=private_key,
        personal_access_token=token,
    )


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Load an unencrypted RSA private key, or say exactly what is wrong."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise ValueError(
            "This private key is encrypted: export it without a passphrase."
        ) from None
    except ValueError:
        raise ValueError(
            "Private key must be an RSA private key in PEM format"
            " (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(
            "Jira Application Links need an RSA key; this is another type."
        )
    return key


def public_key_pem(private_key: str) -> str:
    """The public key to paste into Jira's Application Link."""
    return (
        load_private_key(private_key)
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


#: A context path segment: what a servlet container deploys Jira under.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
#: A DNS name (underscores allowed: internal hosts have them) or an IP literal.
_HOST = re.compile(
    r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*"
    r"|[0-9a-f:.]*:[0-9a-f:.]*"
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_base_url(text: str) -> str:
    """A Jira base URL, or ``ValueError`` saying what is wrong with it.

    Scheme (http or https), host, an optional port and an optional context
    path (``/jira``); nothing else: no user name or password, no query or
    fragment (not even an empty ``?`` or ``#``: every request is built by
    appending an API path, which they would swallow), no dot segments or
    backslashes. The host is lower-cased, a default port dropped and the
    trailing slash removed, so one Jira has one base URL.
    """
    url = text.strip()
    if not url:
        raise ValueError("Enter your Jira's URL, including http:// or https://.")
    if any(ch in url for ch in "?#\\@") or any(ord(ch) <= 32 for ch in url):
        raise ValueError(
            "Enter only Jira's base URL (like https://jira.example.com or"
            " https://example.com/jira): no spaces, user name, query (?),"
            " fragment (#) or backslashes."
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "//" not in url:
        raise ValueError("Enter a valid URL, including http:// or https://.")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("The port must be a number from 1 to 65535.") from None
    if port == 0:
        raise ValueError("The port must be a number from 1 to 65535.")
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(s in (".", "..") or not _PATH_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(
            "The path after the host may only name where Jira is deployed"
            " (like /jira): letters, digits, '.', '_', '~' and '-', no '.' or"
            " '..' segments."
        )
    host = parts.hostname.lower().rstrip(".")
    if not _HOST.fullmatch(host):
        raise ValueError(f"{host!r} is not a valid host name.")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = "".join(f"/{segment}" for segment in segments)
    return f"{scheme}://{netloc}{path}"


def external_id(base_url: str, mode: str, *names: str) -> str:
    """The integration's identity, in full: the Jira (its normalized base URL
    without the scheme) and what Jira authenticated there.

    ``{host[:port][/path]}#{mode}:{name}[:{name}]``, each name
    percent-encoded, so no two identities can be written the same way (the
    base URL can hold no ``#``, a name no ``:``).
    """
    where = base_url.split("://", 1)[-1]
    return f"{where}#{mode}:" + ":".join(quote(name, safe="") for name in names)


def account_key(integration_external_id: str) -> str | None:
    """The Jira user key the integration acts as (the last name of its
    :func:`external_id`), or ``None`` for an identity without one."""
    if "#" not in integration_external_id or ":" not in integration_external_id:
        return None
    return unquote(integration_external_id.rsplit(":", 1)[-1]) or None


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def webhook_token(integration_external_id: str, secret: str) -> str:
    return jwt.encode({"id": integration_external_id}, secret, algorithm="HS256")


def webhook_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/extensions/jira-server/issue-updated/{token}/"


def verify_option(config: InstallationConfig, ca_directory: Path) -> bool | str:
    """What requests' ``verify`` gets: False, True, or a CA bundle file."""
    if not config.verify_ssl:
        return False
    if config.ca_bundle:
        return ca_bundle_file(config.ca_bundle, ca_directory)
    return True


def ca_bundle_file(pem: str, directory: Path) -> str:
    """Write the CA bundle once, named by its hash, and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(pem.encode()).hexdigest()}.pem"
    if not path.exists():
        path.write_text(pem)
    return str(path)


def server_major_version(client: JiraClient) -> int | None:
    """Jira's major version from serverInfo, or None when it cannot be read."""
    try:
        info = client.request("GET", "/rest/api/2/serverInfo")
    except JiraError:
        return None
    numbers = info.get("versionNumbers") if isinstance(info, dict) else None
    if isinstance(numbers, list) and numbers and isinstance(numbers[0], int):
        return numbers[0]
    version = str(info.get("version", "")) if isinstance(info, dict) else ""
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def require_admin(client: JiraClient, user: str) -> None:
    """Fail early, and precisely, when the Jira user cannot create webhooks."""
    try:
        permissions = client.request("GET", "/rest/api/2/mypermissions")
    except JiraError:
        return  # the webhook call itself will say what is wrong
    listed = permissions.get("permissions")
    administer = listed.get("ADMINISTER") if isinstance(listed, dict) else None
    if isinstance(administer, dict) and administer.get("havePermission") is False:
        raise SetupError(
            f"The Jira user {user} is not a Jira administrator, and only administrators"
            " can create webhooks. Ask a Jira administrator to install trackbridge, or"
            " choose the manual webhook mode and have an administrator add the webhook."
        )


def create_webhook(client: JiraClient, url: str) -> dict[str, Any]:
    """Create the issue webhook; return what to remember about it.

    Jira 10 moved the resource; the version picks the endpoint, and a 404 or
    405 from one falls back to the other.
    """
    major = server_major_version(client)
    order = (
        [MODERN_WEBHOOKS, LEGACY_WEBHOOKS]
        if major is not None and major >= 10
        else [LEGACY_WEBHOOKS, MODERN_WEBHOOKS]
    )
    body = {"name": WEBHOOK_NAME, "url": url, "events": list(WEBHOOK_EVENTS)}
    error: JiraError | None = None
    for path in order:
        try:
            created = client.request("POST", path, json_body=body)
        except JiraError as ex:
            error = ex
            if ex.http_status in (404, 405):
                continue
            break
        return {
            "webhook_id": created.get("id") or _id_from_self(created.get("self")),
            "webhook_self": created.get("self"),
            "webhook_api": path,
        }
    raise SetupError(
        f"Could not create issue webhook in Jira. {error.jira_message or error.detail}"
    )


def delete_webhook(client: JiraClient, metadata: dict[str, Any]) -> bool:
    """Delete the webhook by its stored id; True when it is gone (404 included)."""
    webhook_id, api = metadata.get("webhook_id"), metadata.get("webhook_api")
    if not webhook_id or not api:
        return True  # manual mode: nothing of ours to delete
    try:
        client.request("DELETE", jira_path(api + "/{}", webhook_id))
    except JiraError as ex:
        return ex.http_status == 404
    return True


def _id_from_self(self_url: str | None):
    tail = (self_url or "").rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "off", "0", "no", ""):
        return False
    return None
