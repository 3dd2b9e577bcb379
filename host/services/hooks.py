"""Webhook subscriptions: the change feed pushed to an application.

An organization subscribes a URL (``POST .../hooks``), for every event type
or some. Each hook has its own position in the feed; one job at a time
(``hooks.deliver``) sends what follows it, in feed order, so one group's
changes always arrive in order. Every request is signed as the Standard
Webhooks specification says (``webhook-id``: the event's id, the same on
every retry; ``webhook-timestamp``; ``webhook-signature``: ``v1,`` and an
HMAC-SHA256 with the hook's secret, made by the ``standardwebhooks``
package, whose verifier a receiver uses). The secret is shown once, when
the hook is made or its secret rotated.

A delivery that fails (no answer, an answer other than 2xx, a redirect:
none is followed, a destination this host must not call) is tried again
after 10 s, doubling to an hour, for about a day
(:data:`GIVE_UP_SECONDS`); then it is logged as given up and the next event
goes. A hook that has failed without a success for
:data:`DISABLE_AFTER_SECONDS` is disabled, with a ``hook.disabled`` event
in the feed; re-enabling it (``PUT`` ``{"active": true}``) starts again
where it stopped. Every attempt is logged (``GET .../hooks/{id}/
deliveries``) and any can be sent again (``POST .../redeliver``).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import standardwebhooks

from host.destinations import DestinationPolicy, DestinationRefused, failure_reason
from host.errors import Gone, NotFound, ValidationError
from host.services import events as feed
from host.times import epoch_of, iso_time

if TYPE_CHECKING:
    from host.core import Host
    from host.types import Organization

log = logging.getLogger(__name__)

#: Events one job sends before it hands over to the next.
BATCH = 100
FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 3600.0
#: How long one event is tried before it is given up.
GIVE_UP_SECONDS = 86_400.0
#: How long a hook may fail without one success before it is disabled.
DISABLE_AFTER_SECONDS = 3 * 86_400.0
MAX_URL_LENGTH = 2048


class HookService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    # ---- subscriptions ----

    def create(self, organization: Organization, data: Any) -> tuple[dict, str]:
        """A new hook (it gets the events from now on) and its secret.

        :raises ValidationError: per field: ``url``, ``events``, ``active``.
        """
        fields = self._checked(data, required=True)
        secret = _new_secret()
        with self.store.transaction():
            hook_id = self.store.hooks.create(
                organization.id,
                fields["url"],
                fields.get("events", []),
                fields.get("active", True),
                secret,
                self.store.events.last(organization.id),
            )
        return self.get(organization, hook_id), secret

    def list(self, organization: Organization) -> list[dict]:
        return self.store.hooks.list(organization.id)

    def get(self, organization: Organization, hook_id: int) -> dict:
        hook = self.store.hooks.get(organization.id, hook_id)
        if hook is None:
            raise NotFound("Hook not found.")
        return hook

    def update(self, organization: Organization, hook_id: int, data: Any) -> dict:
        """Change ``url``, ``events`` or ``active`` (turning a disabled hook
        on again forgets its failures and sends from where it stopped)."""
        hook = self.get(organization, hook_id)
        fields = self._checked(data, required=False)
        if fields.get("active"):
            fields.update(failing_since=None, disabled_reason=None)
        with self.store.transaction():
            if fields:
                self.store.hooks.update(hook["id"], **fields)
            if fields.get("active") and not hook["active"]:
                self.wake(organization.id)
        return self.get(organization, hook_id)

    def delete(self, organization: Organization, hook_id: int) -> None:
        with self.store.transaction():
            if not self.store.hooks.delete(organization.id, hook_id):
                raise NotFound("Hook not found.")

    def rotate_secret(self, organization: Organization, hook_id: int) -> str:
        """A new secret, from the next delivery on; shown this once."""
        hook = self.get(organization, hook_id)
        secret = _new_secret()
        with self.store.transaction():
            self.store.hooks.set_secret(hook["id"], secret)
        return secret

    def attempts(
        self, organization: Organization, hook_id: int, limit: int, before: int | None
    ) -> list[dict]:
        hook = self.get(organization, hook_id)
        return self.store.hooks.attempts(hook["id"], limit, before)

    def redeliver(self, organization: Organization, hook_id: int, attempt_id: int):
        """Send the event of a logged attempt once more (a job does)."""
        hook = self.get(organization, hook_id)
        attempt = self.store.hooks.attempt(hook["id"], attempt_id)
        if attempt is None:
            raise NotFound("Delivery not found.")
        if self.store.events.get(organization.id, attempt["event_id"]) is None:
            raise Gone(
                "That event is older than the feed keeps ([host]"
                " event_retention_days); it cannot be sent again."
            )
        with self.store.transaction():
            self.host.jobs.enqueue(
                "hooks.redeliver",
                {"hook_id": hook["id"], "organization_id": organization.id,
                 "event_id": attempt["event_id"]},
            )  # fmt: skip

    # ---- sending ----

    def wake(self, organization_id: int) -> None:
        """An event was recorded (in this transaction), or a hook was turned
        on: each active hook of the organization with no job on its way
        gets one."""
        for hook_id in self.store.hooks.schedule(organization_id):
            self.host.jobs.enqueue(
                "hooks.deliver",
                {"hook_id": hook_id, "organization_id": organization_id},
            )

    def deliver(self, payload: dict) -> None:
        """The ``hooks.deliver`` job: send what follows the hook's position."""
        organization = self.store.organizations.get(payload["organization_id"])
        hook = self.store.hooks.get(payload["organization_id"], payload["hook_id"])
        if organization is None or hook is None:
            return
        if not hook["active"]:
            with self.store.transaction():
                self.store.hooks.unschedule(hook["id"])
            return
        found = self.store.events.after(
            organization.id,
            (hook["position_tx"], hook["position_id"]),
            BATCH,
            hook["events"],
        )
        with self.host.outbound_session() as session:
            position = self._send_in_order(session, organization, hook, found, payload)
        if position is None:
            return  # the rest waits for a retry, or the hook was disabled
        with self.store.transaction():
            if len(found) == BATCH:
                self._again(payload, 0)
            elif self.store.events.pending_after(
                organization.id, position, hook["events"]
            ):
                self._again(payload, 0.5)  # written, not shown yet
            else:
                self.store.hooks.unschedule(hook["id"])

    def _send_in_order(self, session, organization, hook, found, payload):
        """Send ``found``, one after another; the position reached, or
        ``None`` when the rest must wait (a retry is queued) or the hook was
        disabled."""
        position = (hook["position_tx"], hook["position_id"])
        secret = self.store.hooks.secret(hook["id"])
        failing_since = hook["failing_since"]
        for event in found:
            status, error = self._send(session, hook, secret, organization, event)
            now = self.host.clock()
            with self.store.transaction():
                self._log(hook, event, status, error, now)
                if error is None:
                    position, failing_since = (event["tx"], event["id"]), None
                    self.store.hooks.advance(hook["id"], position)
                    continue
                failing_since = failing_since or now
                self.store.hooks.update(hook["id"], failing_since=failing_since)
                if now - failing_since >= DISABLE_AFTER_SECONDS:
                    self._disable(organization, hook, error, failing_since)
                    return None
                tries, first = self.store.hooks.tries(hook["id"], event["id"])
                if now - epoch_of(first) < GIVE_UP_SECONDS:
                    self._again(payload, _backoff(tries))
                    return None
                log.warning(
                    "hook %s: gave up on %s after a day of failures (%s)",
                    hook["id"], _event_id(event), error,
                )  # fmt: skip
                position = (event["tx"], event["id"])
                self.store.hooks.advance(hook["id"], position)
                self.store.hooks.update(hook["id"], failing_since=failing_since)
        return position

    def dead(self, payload: dict, error: str) -> None:
        """A ``hooks.deliver`` job failed for good (not a refused delivery:
        those are retried here, see the module): the next event schedules
        the hook again, from the same position."""
        log.warning("hook %s: its delivery job failed: %s", payload["hook_id"], error)
        with self.store.transaction():
            self.store.hooks.unschedule(payload["hook_id"])

    def redeliver_job(self, payload: dict) -> None:
        """The ``hooks.redeliver`` job: one event, once, position unchanged."""
        organization = self.store.organizations.get(payload["organization_id"])
        hook = self.store.hooks.get(payload["organization_id"], payload["hook_id"])
        event = self.store.events.get(payload["organization_id"], payload["event_id"])
        if organization is None or hook is None or event is None:
            return  # gone since, or past the feed's retention
        secret = self.store.hooks.secret(hook["id"])
        with self.host.outbound_session() as session:
            status, error = self._send(session, hook, secret, organization, event)
        with self.store.transaction():
            self._log(hook, event, status, error, self.host.clock())

    def _send(
        self, session, hook, secret, organization, event
    ) -> tuple[int | None, str | None]:
        """POST the event, signed; its status and what went wrong, if anything."""
        body = json.dumps(feed.envelope(organization, event), separators=(",", ":"))
        sent_at = datetime.now(UTC)  # what receivers check against their clock
        headers = {
            "webhook-id": _event_id(event),
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": standardwebhooks.Webhook(secret).sign(
                _event_id(event), sent_at, body
            ),
            "Content-Type": "application/json",
            "User-Agent": "trackbridge",
        }
        try:
            answer = session.post(
                hook["url"], data=body.encode(), headers=headers, allow_redirects=False
            )
        except DestinationRefused as ex:
            return None, str(ex)
        except requests.Timeout:
            return None, "no answer in time"
        except requests.RequestException as ex:
            return None, failure_reason(ex)
        if 200 <= answer.status_code < 300:
            return answer.status_code, None
        if 300 <= answer.status_code < 400:
            return answer.status_code, (
                f"answered {answer.status_code} (redirects are not followed)"
            )
        return answer.status_code, f"answered {answer.status_code}"

    def _log(self, hook, event, status, error, now: float) -> None:
        self.store.hooks.add_attempt(
            hook["id"], event["id"], event["type"], status, error, iso_time(now)
        )

    def _again(self, payload: dict, delay: float) -> None:
        self.host.jobs.enqueue("hooks.deliver", payload, delay=delay)

    def _disable(self, organization, hook, error, failing_since) -> None:
        reason = (
            f"Disabled: every delivery failed since {iso_time(failing_since)}"
            f" (last: {error})."
        )
        self.store.hooks.update(
            hook["id"], active=False, scheduled=0, disabled_reason=reason
        )
        log.warning("hook %s of organization %s: %s", hook["id"], organization.slug,
                    reason)  # fmt: skip
        self.host.events.record(
            organization.id,
            "hook.disabled",
            {"hook": {"id": hook["id"], "url": hook["url"]}, "reason": reason},
        )

    def _checked(self, data: Any, *, required: bool) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError({}, "Send a JSON object.")
        errors: dict[str, list[str]] = {}
        fields: dict[str, Any] = {}
        unknown = sorted(set(data) - {"url", "events", "active"})
        for name in unknown:
            errors[name] = ["Unknown field (url, events, active)."]
        if "url" in data or required:
            problem = self._url_problem(data.get("url"))
            if problem:
                errors["url"] = [problem]
            else:
                fields["url"] = data["url"]
        if "events" in data:
            chosen = data["events"]
            if not isinstance(chosen, list) or not all(
                isinstance(t, str) for t in chosen
            ):
                errors["events"] = ["A list of event types (empty: every type)."]
            elif unknown_types := sorted(set(chosen) - set(feed.TYPES)):
                errors["events"] = [
                    f"Unknown event type(s): {', '.join(unknown_types)}."
                ]
            else:
                fields["events"] = sorted(set(chosen))
        if "active" in data:
            if not isinstance(data["active"], bool):
                errors["active"] = ["true or false."]
            else:
                fields["active"] = data["active"]
        if errors:
            raise ValidationError(errors)
        return fields

    def _url_problem(self, url: Any) -> str | None:
        if not isinstance(url, str) or not url:
            return "The URL to send events to (http or https)."
        if len(url) > MAX_URL_LENGTH:
            return f"At most {MAX_URL_LENGTH} characters."
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "An absolute http or https URL."
        if parts.username or parts.password or parts.fragment:
            return "No user name, password or #fragment in the URL."
        policy = DestinationPolicy(
            allow_loopback=self.host.config.allow_loopback_destinations
        )
        try:
            policy.check_address(parts.hostname.strip("[]"))
        except ValueError:
            return None  # a name: checked when connecting, after DNS
        except DestinationRefused as ex:
            return f"This host may not send there: {ex}."
        return None


def _new_secret() -> str:
    """As Standard Webhooks writes them: ``whsec_`` and base64 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _event_id(event: dict) -> str:
    return f"evt_{event['id']}"


def _backoff(tries: int) -> float:
    return min(FIRST_RETRY_SECONDS * 2 ** max(tries - 1, 0), MAX_RETRY_SECONDS)
