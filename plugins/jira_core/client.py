"""The HTTP client for one Jira: Server / Data Center or Cloud.

Each auth mode signs every request afresh: OAuth 1.0a RSA-SHA1 (Server's
Application Link: a nonce per attempt), a personal access token (Server:
``Authorization: Bearer``), an Atlassian account's API token (Cloud: HTTP
basic auth) or an Atlassian Connect JWT (Cloud: one per request, its qsh
over that request's method, path and query). The session never retries at
the transport level: a retried signed request would reuse its nonce and
Jira would refuse it (``oauth_problem=nonce_used``). Retries happen in jobs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests
from requests_oauthlib import OAuth1

from host.breakers import TrackerNotAnswering
from host.destinations import DestinationPolicy, DestinationRefused
from host.errors import IntegrationError, ValidationError

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30

#: Jira's OAuth problems, with what the person setting it up should do.
OAUTH_HINTS = {
    "signature_invalid": "Jira could not verify the signature: the public key in "
    "the Application Link must match this private key.",
    "consumer_key_unknown": "Jira does not know this consumer key: add it to the "
    "Application Link's incoming authentication.",
    "timestamp_refused": "Jira refused the request time: check that this server's "
    "clock and Jira's agree.",
    "nonce_used": "Jira saw this request before; start the setup again.",
    "token_rejected": "Jira rejected the token: it may have expired or been "
    "revoked; start the setup again.",
    "signature_method_rejected": "Jira accepts only RSA-SHA1 signatures from an "
    "Application Link.",
    "permission_unknown": "The request was not approved in Jira: click Allow on "
    "Jira's page, then continue.",
    "token_expired": "The token expired before it was used; start the setup again.",
    "parameter_absent": "Jira says a required OAuth parameter is missing.",
}


class JiraError(IntegrationError):
    """A failed call to Jira, with what Jira said about it."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        errors: dict[str, str] | None = None,
        oauth_problem: str | None = None,
        retry_after: float | None = None,
        jira_message: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(detail)
        #: The class of failure when Jira was not reached or did not answer
        #: like Jira: dns, unreachable, timeout, tls, refused (a destination
        #: this host may not call), redirect, not_jira, not_answering (not
        #: called: its circuit breaker is open); else None.
        self.kind = kind
        if status is None or status >= 500 or status == 429 or kind == "not_jira":
            # Jira failed (or did not answer like Jira), not the caller's
            # request: 502 Bad Gateway.
            self.status = 502
        #: What Jira itself said (its messages and field errors), if it said it.
        self.jira_message = jira_message
        self.http_status = status
        self.errors = errors or {}
        self.oauth_problem = oauth_problem
        self.retry_after = retry_after


@dataclass(frozen=True)
class OAuthCredentials:
    consumer_key: str
    private_key: str
    token: str | None = None
    token_secret: str | None = None

    def auth(self, **extra: Any) -> OAuth1:
        """A signer for one request: a fresh nonce and timestamp each time."""
        return OAuth1(
            self.consumer_key,
            rsa_key=self.private_key,
            signature_method="RSA-SHA1",
            signature_type="AUTH_HEADER",
            resource_owner_key=self.token,
            resource_owner_secret=self.token_secret,
            **extra,
        )


@dataclass(frozen=True)
class TokenCredentials:
    personal_access_token: str


@dataclass(frozen=True)
class BasicCredentials:
    """Jira Cloud: an Atlassian account's email and API token."""

    email: str
    api_token: str


@dataclass(frozen=True)
class ConnectCredentials:
    """Jira Cloud through the Connect app: our app key and the site's
    shared secret sign each request (see :mod:`plugins.jira.connect`)."""

    app_key: str
    shared_secret: str
    #: Signs (method, full URL with its query) -> the Authorization value.
    sign: Callable[[str, str], str]


Credentials = (
    OAuthCredentials | TokenCredentials | BasicCredentials | ConnectCredentials
)


#: The only paths a request may go to, below the base URL: the REST APIs
#: and the OAuth servlet of an Application Link.
ALLOWED_PREFIXES = ("/rest/", "/plugins/servlet/oauth/")


def jira_path(template: str, *values: object) -> str:
    """A Jira API path with each ``{}`` filled by one percent-encoded value.

    An issue key, project, user or comment id from a caller is one path
    segment, never more: ``/`` and ``\\`` are encoded with the rest, and a
    value that is empty, ``.`` or ``..`` (which an HTTP library or Jira
    would collapse into another path) is refused.

    :raises ValidationError: a value cannot be one path segment.
    """
    encoded = []
    for value in values:
        text = str(value)
        if text in ("", ".", "..") or any(ord(ch) < 32 for ch in text):
            raise ValidationError({}, f"{text!r} is not a valid Jira identifier.")
        encoded.append(quote(text, safe=""))
    return template.format(*encoded)


def check_path(path: str) -> None:
    """Refuse a path outside :data:`ALLOWED_PREFIXES` or with dot segments
    (encoded or not): a request must not be steerable elsewhere on Jira's
    host with the stored credentials."""
    segments = [unquote(segment) for segment in path.split("?", 1)[0].split("/")]
    if not path.startswith(ALLOWED_PREFIXES) or any(
        segment in (".", "..") for segment in segments
    ):
        raise ValidationError({}, f"Refused to call Jira at {path!r}.")


class JiraClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        *,
        verify: bool | str = True,
        session: requests.Session | None = None,
        on_unauthorized: Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.verify = verify
        self.session = session or DestinationPolicy().session()
        #: Called when Jira answers 401: the stored credentials stopped working.
        self.on_unauthorized = on_unauthorized
        #: Called after each call with (method, endpoint template, status or
        #: "error", seconds): the host's tracker call metrics.
        self.observer: Callable[[str, str, str, float], None] | None = None

    @property
    def netloc(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def hostname(self) -> str:
        return urlsplit(self.base_url).hostname or self.netloc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: bool = False,
        oauth: dict[str, Any] | None = None,
        expect: type = dict,
    ) -> Any:
        """Call Jira; return parsed JSON (or, with ``form``, a form-encoded dict).

        :param oauth: extra OAuth1 arguments for this request (callback,
            verifier), used by the setup dance.
        :param expect: the JSON type the answer must be (``dict`` or
            ``list``); anything else is a :class:`JiraError` here, at the
            boundary, never an ``AttributeError`` further in. An empty answer
            is an empty one of that type.
        :raises JiraError: any failure, with a message fit for the user.
        :raises ValidationError: ``path`` leaves Jira's APIs (see
            :func:`check_path`).
        """
        check_path(path)
        headers = {"Accept": "application/json"}
        auth = None
        if isinstance(self.credentials, OAuthCredentials):
            auth = self.credentials.auth(**(oauth or {}))
        elif isinstance(self.credentials, TokenCredentials):
            headers["Authorization"] = (
                f"Bearer {self.credentials.personal_access_token}"
            )
        elif isinstance(self.credentials, BasicCredentials):
            auth = (self.credentials.email, self.credentials.api_token)
        elif isinstance(self.credentials, ConnectCredentials):
            # Signed over the URL exactly as it will be sent (its query too).
            prepared = requests.Request(
                method, f"{self.base_url}{path}", params=params
            ).prepare()
            headers["Authorization"] = self.credentials.sign(method, prepared.url)
        started = time.perf_counter()
        outcome = "error"
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json_body,
                headers=headers,
                auth=auth,
                verify=self.verify,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
            )
        except DestinationRefused as ex:
            raise JiraError(
                f"Not calling {self.netloc}: {ex}", kind="refused"
            ) from None
        except TrackerNotAnswering as ex:
            raise JiraError(str(ex), kind="not_answering") from None
        except requests.exceptions.SSLError as ex:
            raise JiraError(
                f"TLS verification failed for {self.netloc}: {_reason(ex)}. Provide "
                "the CA bundle of a self-signed Jira, or turn off Verify SSL.",
                kind="tls",
            ) from None
        except requests.Timeout:
            raise JiraError(
                f"Timed out attempting to reach host: {self.netloc}", kind="timeout"
            ) from None
        except requests.ConnectionError as ex:
            dns = "NameResolutionError" in repr(ex) or "gaierror" in repr(ex)
            raise JiraError(
                f"Could not resolve the host name {self.hostname}."
                if dns
                else f"Unable to reach host: {self.netloc} (connection failed).",
                kind="dns" if dns else "unreachable",
            ) from None
        except requests.RequestException:
            raise JiraError(
                f"Unable to reach host: {self.netloc}", kind="unreachable"
            ) from None
        else:
            outcome = str(response.status_code)
        finally:
            if self.observer is not None:
                seconds = time.perf_counter() - started
                self.observer(method, endpoint(path), outcome, seconds)
        if response.is_redirect:
            where = _where(response.headers.get("Location"))
            raise JiraError(
                f"Jira answered {endpoint(path)} with a redirect (HTTP"
                f" {response.status_code}) to {where}"
                ": enter the URL Jira is served at, which trackbridge calls without"
                " following redirects.",
                status=response.status_code,
                kind="redirect",
            )
        if response.status_code >= 400:
            if response.status_code == 401 and self.on_unauthorized:
                self.on_unauthorized()
            raise error_from_response(response)
        if form:
            return dict(parse_qsl(response.text))
        if response.status_code == 204 or not response.content:
            return expect()
        try:
            answer = response.json()
        except ValueError:
            raise JiraError(
                f"Jira answered {endpoint(path)} with something that is not JSON "
                f"(HTTP {response.status_code}).",
                status=response.status_code,
                kind="not_jira",
            ) from None
        if not isinstance(answer, expect):
            raise JiraError(
                f"Jira answered {endpoint(path)} with {_json_kind(answer)}, not"
                f" {_json_kind(expect())}.",
                status=response.status_code,
                kind="not_jira",
            )
        return answer


def _json_kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), "a number")


def require(answer: Any, name: str, where: str, kinds: tuple = (str, int)) -> Any:
    """``answer[name]``, which Jira's answer to ``where`` must hold (a
    non-empty string or a number, unless ``kinds`` says otherwise).

    :raises JiraError: it is missing or of another type.
    """
    value = answer.get(name) if isinstance(answer, dict) else None
    if isinstance(value, bool) or not isinstance(value, kinds) or value == "":
        raise JiraError(
            f"Jira answered {endpoint(where)} without a usable {name!r}.",
            kind="not_jira",
        )
    return value


def string(value: Any) -> str:
    """A text field of Jira's answer, or ``""`` when it is not a string."""
    return value if isinstance(value, str) else ""


def dicts(items: Any) -> list[dict]:
    """The objects in a list Jira answered (anything else in it is skipped)."""
    return (
        [item for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )


#: A path segment naming one thing: an issue key, a number, a project key.
_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-\d+")
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]+")


def endpoint(path: str) -> str:
    """The path with what names one thing replaced (``/issue/{key}/comment``),
    so metrics have one series per endpoint, not per issue."""
    parts: list[str] = []
    for part in path.split("/"):
        if part.isdigit() and parts[-1:] != ["api"]:  # not the API's version
            part = "{id}"
        elif _ISSUE_KEY.fullmatch(part):
            part = "{key}"
        elif _PROJECT_KEY.fullmatch(part):
            part = "{project}"
        parts.append(part)
    return "/".join(parts)


def _where(location: str | None) -> str:
    """Where a redirect pointed, without its query (which may hold a token)."""
    if not location:
        return "nowhere (no Location)"
    parts = urlsplit(location)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path
    )


def error_from_response(response: requests.Response) -> JiraError:
    """One clear error from whatever shape Jira's error body has."""
    status = response.status_code
    retry_after = _retry_after(response.headers.get("Retry-After"))
    text = response.text or ""
    problem = (
        dict(parse_qsl(text)).get("oauth_problem") if "oauth_problem=" in text else None
    )
    if problem:
        hint = OAUTH_HINTS.get(problem, "")
        return JiraError(
            f"Jira refused the request (oauth_problem={problem}). {hint}".strip(),
            status=status,
            oauth_problem=problem,
        )
    messages: list[str] = []
    errors: dict[str, str] = {}
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    if isinstance(body, dict):
        messages = [str(m) for m in body.get("errorMessages") or [] if m]
        if isinstance(body.get("errors"), dict):
            errors = {str(k): str(v) for k, v in body["errors"].items()}
        for item in body.get("messages") or []:
            if isinstance(item, dict) and item:
                messages.append(str(next(iter(item.values()))))
    detail = " ".join(messages + [f"{k}: {v}" for k, v in errors.items()])
    if status == 401 and not detail:
        detail = "Unauthorized: the access token is invalid or was revoked."
    detail = detail or "unknown error"
    return JiraError(
        f"Error communicating with Jira (HTTP {status}): {detail}",
        status=status,
        errors=errors,
        retry_after=retry_after,
        jira_message=detail,
    )


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _reason(ex: Exception) -> str:
    text = str(ex)
    return (
        "certificate verify failed"
        if "CERTIFICATE_VERIFY_FAILED" in text
        else text[:200]
    )
