"""The gunicorn logger ``trackbridge serve`` runs: no secret in any line.

gunicorn writes the request line into its own lines: the access log, and
the error log when a worker fails or is killed in the middle of a request
("Error handling request /extensions/jira-server/issue-updated/<JWT>/").
A webhook path carries its token and a one-time link carries its secret in
the query, so this logger redacts both from every line it writes, before
any handler sees it. Its lines go out in the host's own log format.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

from host.config import load_config
from host.logs import configure_logging

REDACTED = "[redacted]"
#: A path segment that is a JWT (three base64url parts), or a long opaque
#: token: what webhook URLs carry.
_PATH_TOKEN = re.compile(
    r"(?<=/)(?:[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|[A-Za-z0-9_-]{40,})(?=/|\?|\s|$|\")"
)
#: Query parameters whose value is a secret.
_QUERY_SECRET = re.compile(
    r"(?i)((?:^|[?&\s])(?:link|token|oauth_token|oauth_verifier|secret|jwt)=)[^&\s\"]*"
)


def redact(text: str) -> str:
    """``text`` with URL tokens and secret query values replaced."""
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", _PATH_TOKEN.sub(REDACTED, text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback) with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingLogger(Logger):
    """gunicorn's logger, with :class:`RedactingFilter` on both its logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
        # gunicorn's own lines ("Booting worker", "Worker timeout") in the
        # host's format (JSON too), through the root logger the host sets
        # up, rather than gunicorn's handler and format beside it.
        config = load_config()
        configure_logging(config.log_level, config.log_format)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True

    def atoms(self, resp, req, environ, request_time):
        found = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(found.get(key), str):
                found[key] = redact(found[key])
        return found
