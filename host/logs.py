"""Logging set-up shared by the web app, the worker and the CLI.

Every record carries ``request_id``: the id of the HTTP request being
answered (the caller's ``X-Request-Id`` when it is sane, else a new one,
sent back in the answer), ``job-<id>`` inside a job, else ``-``. With
``log_format = json`` each record is one JSON object per line, for log
shippers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

FORMATS = ("text", "json")

#: The request (or job) the current code works for.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)
#: What a caller's ``X-Request-Id`` may be; anything else gets a new id (a
#: header is not to be trusted into log lines).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(header: str | None) -> str:
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def working_for(request_id: str) -> Iterator[None]:
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, request_id, message
    (and the traceback as ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "info", format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
            )
        )
    # Like basicConfig: a process whose root logger already has handlers
    # (a test runner, an embedding application) keeps them.
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), handlers=[handler]
    )
