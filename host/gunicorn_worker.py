"""The gunicorn worker ``trackbridge serve`` runs: errors as JSON.

gunicorn itself refuses what it cannot parse before the app sees it: a
header line over 8190 bytes or more than 100 headers (431), a request line
over 4094 bytes (414), a malformed request (400). Its answer is an HTML
page; every other error of trackbridge is JSON with a ``detail``, and
clients should not need two parsers. This worker writes the same status
with a JSON body. (A sync worker handles one request at a time, so
swapping gunicorn's writer around one error page affects nothing else.)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from gunicorn import util
from gunicorn.workers.sync import SyncWorker


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"detail": f"{reason}: {mesg}" if mesg else reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


@contextlib.contextmanager
def _json_error_pages() -> Iterator[None]:
    html_writer = util.write_error
    util.write_error = write_json_error
    try:
        yield
    finally:
        util.write_error = html_writer


class JsonErrorWorker(SyncWorker):
    def handle_error(self, req, client, addr, exc):
        with _json_error_pages():
            super().handle_error(req, client, addr, exc)
