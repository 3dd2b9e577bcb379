"""A fake Atlassian install-key server over real HTTP on loopback: each
key id's PEM at ``/{kid}``, as connect-install-keys.atlassian.com serves
them; ways to misbehave (missing, not a key, slow) and what it was asked."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

from tests.servers import LoopbackFake


class FakeInstallKeys(LoopbackFake):
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        #: kid -> (status, body) answered instead of the key.
        self.answers: dict[str, tuple[int, str]] = {}
        #: Seconds to wait before answering.
        self.delay = 0.0
        self.requests: list[str] = []
        super().__init__(self._handler())

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                kid = self.path.lstrip("/")
                fake.requests.append(kid)
                if fake.delay:
                    time.sleep(fake.delay)
                status, body = fake.answers.get(kid) or (
                    (200, fake.keys[kid]) if kid in fake.keys else (404, "Not Found")
                )
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
