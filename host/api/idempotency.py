"""``Idempotency-Key``: a POST sent again with the same key gets the first
answer instead of doing the thing twice.

A client that lost an answer (a timeout, a dropped connection) cannot know
whether its group, comment, link or tracker issue was made; with a key of its
choosing it can simply send the request again. Within a day, for the same
organization:

- the same key and the same request (method, path, body) answers the first
  answer again, with ``Idempotent-Replayed: true``;
- the same key with another request is a 422: keys are not reusable;
- while the first request is still running, 409 with ``Retry-After``.

Only answers below 400 are kept: a refused request did nothing and may be
sent again, fixed, with the same key. A change made in the host alone is
done in the same transaction as keeping its answer, so it happens exactly
once. One that calls a tracker (link, create) cannot be: its key is taken
first, and a request that died without an answer frees it after
:data:`ABANDONED_SECONDS`; the Jira provider then finds an issue whose create
answer was lost instead of creating a second one.
"""

from __future__ import annotations

import functools
import hashlib
import re

import falcon

from host.api.requests import organization, read_body
from host.errors import Conflict, Unprocessable, ValidationError
from host.store.idempotency import KEEP_SECONDS

HEADER = "Idempotency-Key"
#: A request that calls a tracker and left no answer this long ago died.
ABANDONED_SECONDS = 120.0
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class StillRunning(Conflict):
    retry_after = 2


def idempotent(*, calls_tracker: bool):
    """Make a POST responder ``(self, req, resp, slug, **params)`` honour
    the header (see the module)."""

    def decorate(responder):
        @functools.wraps(responder)
        def responding(self, req, resp, slug, **params):
            key = req.get_header(HEADER)
            if key is None:
                return responder(self, req, resp, slug, **params)
            if not _KEY.fullmatch(key):
                raise ValidationError(
                    {HEADER: ["1 to 255 printable ASCII characters, no spaces."]},
                    f"{HEADER} is not a valid key.",
                )
            host, org = self.host, organization(req, slug)
            body = read_body(req, host.config.max_body_bytes)
            fingerprint = hashlib.sha256(
                b"\0".join([req.method.encode(), req.path.encode(), body])
            ).hexdigest()
            run = _Run(host, org.id, key, fingerprint, resp)
            if calls_tracker:
                with host.store.transaction():
                    if run.replayed():
                        return None
                    run.begin()
                try:
                    responder(self, req, resp, slug, **params)
                except BaseException:
                    with host.store.transaction():
                        run.forget()
                    raise
                with host.store.transaction():
                    run.keep()
                return None
            with host.store.transaction():  # the change and its answer, once
                if run.replayed():
                    return None
                run.begin()
                responder(self, req, resp, slug, **params)
                run.keep()
            return None

        return responding

    return decorate


class _Run:
    def __init__(self, host, organization_id, key, fingerprint, resp) -> None:
        self.store, self.clock = host.store.idempotency, host.clock
        self.organization_id, self.key = organization_id, key
        self.fingerprint, self.resp = fingerprint, resp

    def replayed(self) -> bool:
        """Answer from the key's first request if it has one; ``False`` when
        this request should run.

        :raises Unprocessable: the key was used for another request.
        :raises StillRunning: its first request has not answered yet.
        """
        self.store.hold(self.organization_id, self.key)
        kept = self.store.get(self.organization_id, self.key)
        now = self.clock()
        if kept is None or kept["started_at"] < now - KEEP_SECONDS:
            return False
        if kept["fingerprint"] != self.fingerprint:
            raise Unprocessable(
                f"This {HEADER} was used for another request; use a new key for a"
                " new request."
            )
        if kept["status"] is None:
            if kept["started_at"] < now - ABANDONED_SECONDS:
                return False  # its request died without an answer
            raise StillRunning(
                f"A request with this {HEADER} is still running; send it again"
                " in a moment to get its answer."
            )
        self.resp.status = falcon.code_to_http_status(kept["status"])
        self.resp.media = kept["body"]
        self.resp.set_header("Idempotent-Replayed", "true")
        return True

    def begin(self) -> None:
        self.store.begin(self.organization_id, self.key, self.fingerprint, self.clock())

    def keep(self) -> None:
        status = falcon.http_status_to_code(self.resp.status)
        if status < 400:
            self.store.finish(self.organization_id, self.key, status, self.resp.media)
        else:
            self.store.forget(self.organization_id, self.key)

    def forget(self) -> None:
        self.store.forget(self.organization_id, self.key)
