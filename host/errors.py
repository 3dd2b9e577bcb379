"""The host's error hierarchy.

Every error a user can cause maps to one HTTP status and a JSON body
``{"detail": "..."}`` (with ``"errors": {field: [messages]}`` for per-field
problems), so no bad input ever turns into a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class TrackbridgeError(Exception):
    """Base of every error the host answers with a 4xx."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_dict(self) -> dict:
        return {"detail": self.detail}


class ValidationError(TrackbridgeError):
    """Input failed validation; ``errors`` maps each field to its messages."""

    def __init__(
        self,
        errors: Mapping[str, Sequence[str]],
        detail: str = "Invalid input.",
    ) -> None:
        super().__init__(detail)
        self.errors = {name: list(messages) for name, messages in errors.items()}

    def to_dict(self) -> dict:
        if not self.errors:
            return {"detail": self.detail}
        return {"detail": self.detail, "errors": self.errors}


class NotAuthenticated(TrackbridgeError):
    status = 401


class NotFound(TrackbridgeError):
    status = 404


class MethodNotAllowed(TrackbridgeError):
    status = 405


class Conflict(TrackbridgeError):
    status = 409


class Unprocessable(TrackbridgeError):
    """Well-formed, but not something the host can do (422)."""

    status = 422


class Gone(TrackbridgeError):
    """What was asked for existed once and is kept no longer."""

    status = 410


class PayloadTooLarge(TrackbridgeError):
    status = 413


class UnsupportedMediaType(TrackbridgeError):
    status = 415


class Unavailable(TrackbridgeError):
    """The host cannot serve this now (the database is locked or cannot be
    written); the client should try again after ``retry_after`` seconds."""

    status = 503

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class WebhookRejected(TrackbridgeError):
    """A webhook request failed authentication; ``detail`` says which check.

    A provider's subclass may choose its ``status`` (the answer here) and
    its ``routed_status``: what a control node answers for it (200 by
    default, as Sentry's Jira Server parser does, so the tracker does not
    retry a request that can never pass; Sentry's Jira Cloud parser
    answers 400).
    """

    routed_status = 200


class SetupError(TrackbridgeError):
    """A setup pipeline step failed (Jira unreachable, token refused...)."""


class IntegrationError(TrackbridgeError):
    """A provider could not do what was asked; the message is for the user."""


class PluginError(Exception):
    """Plugins are inconsistent (duplicate provider key, missing hook)."""


class ConfigError(Exception):
    """The configuration file or environment is invalid."""


class DeliveryUnreadable(Exception):
    """Raised by a provider's ``parse_webhook``: the stored delivery can never
    be applied (it is not a document the provider reads). It is marked
    ``failed`` with this message at once, never retried."""


class RetryLater(Exception):
    """Raised inside a job: try again, after ``delay`` seconds if given.

    Providers raise it for 429/503 with ``Retry-After`` and other transient
    failures; the job runner schedules the retry and keeps ``reason`` as the
    job's last error.
    """

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
