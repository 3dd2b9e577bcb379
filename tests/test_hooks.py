"""Webhook subscriptions: the change feed pushed to a real receiver on
loopback, signed as Standard Webhooks and checked with its own verifier."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest
import standardwebhooks

from host.services.groups import Source
from host.services.hooks import DISABLE_AFTER_SECONDS, MAX_RETRY_SECONDS
from tests.servers import LoopbackFake
from tests.test_cli import run  # noqa: F401 (a fixture)


class Receiver(LoopbackFake):
    """An application's endpoint: keeps what it got, answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.got: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(Handler)
        self.url += "/hooks"

    def verified(self, secret: str) -> list[dict]:
        """Every event received, each signature checked."""
        webhook = standardwebhooks.Webhook(secret)
        return [webhook.verify(body, headers) for headers, body in self.got]


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def subscribe(api, receiver):
    def make(**fields):
        answer = api("post", "/hooks", json={"url": receiver.url, **fields})
        assert answer.status_code == 201, answer.json
        return answer.json

    return make


def test_each_change_arrives_signed_in_order(host, org, api, run_jobs, receiver,
                                             subscribe):  # fmt: skip
    hook = subscribe()
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in api("get", f"/hooks/{hook['id']}").json
    assert "secret" not in json.dumps(api("get", "/hooks").json)
    group = host.groups.create(org, "KeyError", "app.py")
    host.groups.add_comment(group, "looking", Source(user=True))
    host.groups.set_status(group, "resolved", Source(user=True))
    run_jobs()
    events = receiver.verified(hook["secret"])
    assert [e["type"] for e in events] == [
        "group.created",
        "comment.created",
        "group.updated",
    ]
    assert [h["webhook-id"] for h, _ in receiver.got] == [e["id"] for e in events]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + "A" * 32).verify(
            receiver.got[0][1], receiver.got[0][0]
        )


def test_a_receiver_down_for_a_while_gets_everything_in_order_after(
    host, org, api, run_jobs, receiver, subscribe, clock
):
    hook = subscribe()
    receiver.status = 503
    group = host.groups.create(org, "KeyError", "app.py")
    for n in range(3):
        host.groups.add_comment(group, f"c{n}", Source(user=True))
    run_jobs()
    assert len(receiver.got) == 1  # the first event, refused; the rest wait
    for _ in range(4):  # retried with backoff while it is down
        clock.advance(MAX_RETRY_SECONDS)
        run_jobs()
    refused = len(receiver.got)
    assert refused == 5
    receiver.status = 200
    clock.advance(MAX_RETRY_SECONDS)
    run_jobs()
    delivered = receiver.verified(hook["secret"])[refused:]
    assert [e["type"] for e in delivered] == ["group.created"] + ["comment.created"] * 3
    assert [e["data"]["comment"]["text"] for e in delivered[1:]] == ["c0", "c1", "c2"]
    log = api("get", f"/hooks/{hook['id']}/deliveries").json
    assert [a["ok"] for a in reversed(log)] == [False] * 5 + [True] * 4
    assert log[-1]["status_code"] == 503 and log[-1]["error"] == "answered 503"


def test_a_hook_failing_for_days_is_disabled_and_says_so(
    host, org, api, run_jobs, receiver, subscribe, clock
):
    hook = subscribe()
    receiver.status = 500
    group = host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    waited = 0.0
    while waited <= DISABLE_AFTER_SECONDS:  # a change every 12 hours, refused
        clock.advance(MAX_RETRY_SECONDS)
        waited += MAX_RETRY_SECONDS
        if waited % (12 * 3600) == 0:
            host.groups.add_comment(group, f"at {waited:.0f}", Source(user=True))
        run_jobs()
    shown = api("get", f"/hooks/{hook['id']}").json
    assert shown["active"] is False
    assert "every delivery failed since" in shown["disabled_reason"]
    disabled = api("get", "/events", params={"types": "hook.disabled"}).json
    assert [e["data"]["hook"]["id"] for e in disabled["events"]] == [hook["id"]]
    sent = len(receiver.got)
    host.groups.set_status(group, "resolved", Source(user=True))
    run_jobs()
    assert len(receiver.got) == sent  # disabled: nothing more is sent
    receiver.status = 200
    assert api("put", f"/hooks/{hook['id']}", json={"active": True}).json["active"]
    run_jobs()
    assert receiver.verified(hook["secret"])[-1]["type"] == "group.updated"


def test_only_the_chosen_types_are_sent(host, org, run_jobs, receiver, subscribe):
    hook = subscribe(events=["comment.created"])
    group = host.groups.create(org, "KeyError", "app.py")
    host.groups.set_status(group, "resolved", Source(user=True))
    host.groups.add_comment(group, "looking", Source(user=True))
    run_jobs()
    assert [e["type"] for e in receiver.verified(hook["secret"])] == ["comment.created"]


def test_an_attempt_can_be_sent_again_and_a_rotated_secret_signs_the_next(
    host, org, api, run_jobs, receiver, subscribe
):
    hook = subscribe()
    host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    [first] = api("get", f"/hooks/{hook['id']}/deliveries").json
    rotated = api("post", f"/hooks/{hook['id']}/rotate-secret").json["secret"]
    assert rotated != hook["secret"]
    path = f"/hooks/{hook['id']}/deliveries/{first['id']}/redeliver"
    assert api("post", path).status_code == 202
    run_jobs()
    assert [h["webhook-id"] for h, _ in receiver.got] == [first["event_id"]] * 2
    headers, body = receiver.got[-1]
    assert (
        standardwebhooks.Webhook(rotated).verify(body, headers)["id"]
        == (first["event_id"])
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user:pw@example.com/x"}, "url"),
        ({"url": "https://example.com/x", "events": ["group.exploded"]}, "events"),
        ({"url": "https://example.com/x", "events": "group.created"}, "events"),
        ({"url": "https://example.com/x", "active": "yes"}, "active"),
        ({"url": "https://example.com/x", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_hook_is_400_naming_the_field(api, body, field):
    answer = api("post", "/hooks", json=body)
    assert answer.status_code == 400
    assert field in answer.json["errors"], answer.json


def test_the_destination_rules_apply_to_hook_urls(host, api, monkeypatch):
    strict = dataclasses.replace(host.config, allow_loopback_destinations=False)
    monkeypatch.setattr(host, "config", strict)
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest"):
        answer = api("post", "/hooks", json={"url": url})
        assert answer.status_code == 400
        assert "may not send there" in answer.json["errors"]["url"][0]


def test_a_deleted_hook_gets_nothing_more(host, org, api, run_jobs, receiver,
                                         subscribe):  # fmt: skip
    hook = subscribe()
    assert api("delete", f"/hooks/{hook['id']}").status_code == 204
    host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    assert receiver.got == []
    assert api("get", f"/hooks/{hook['id']}").status_code == 404


def test_the_secret_is_shown_once_and_stored_sealed(
    host, org, api, run_jobs, receiver, subscribe, caplog
):
    from tests.conftest import dump

    hook = subscribe()
    host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    shown = [
        api("get", "/hooks").text,
        api("get", f"/hooks/{hook['id']}").text,
        api("get", f"/hooks/{hook['id']}/deliveries").text,
        api("get", "/events").text,
        caplog.text,
        dump(host.store),
    ]
    assert not [text for text in shown if hook["secret"] in text]
    assert hook["secret"] not in json.dumps([h for h, _ in receiver.got])


def test_the_command_line_manages_hooks(run, org, receiver):  # noqa: F811
    made = run("hooks", "create", receiver.url, "--org", "acme",
               "--event", "group.created")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "whsec_" in made.output
    listed = run("hooks", "list", "--org", "acme")
    heading, row = listed.output.splitlines()
    assert heading.split() == ["ID", "ACTIVE", "EVENTS", "URL", "FAILING", "SINCE"]
    assert row.split() == ["1", "yes", "group.created", receiver.url, "-"]
    assert "whsec_" not in listed.output
    (as_json,) = json.loads(run("hooks", "list", "--org", "acme", "--json").output)
    assert as_json["url"] == receiver.url and "secret" not in as_json
    assert "whsec_" in run("hooks", "rotate-secret", "1", "--org", "acme").output
    assert run("hooks", "delete", "1", "--org", "acme").exit_code == 0
    assert run("hooks", "list", "--org", "acme").output == "(none)\n"


def test_the_readmes_receiver_verifies_handles_and_catches_up(
    host, org, client, run_jobs, monkeypatch, capsys
):
    """The receiver the README shows, run as it is: the host serves its API
    over real HTTP on loopback, deliveries go to the receiver's server."""
    import re
    import types
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    [code] = [
        block
        for block in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "class Receiver" in block
    ]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    api_server = make_server("127.0.0.1", 0, client.app, handler_class=Quiet)
    threading.Thread(target=api_server.serve_forever, daemon=True).start()
    answer = client.simulate_post(
        "/api/0/organizations/acme/hooks",
        json={"url": "http://127.0.0.1:9/unused"},
        headers={"Authorization": f"Bearer {host.organizations.create_token(org)}"},
    )
    hook = answer.json
    for name, value in {
        "TRACKBRIDGE_URL": f"http://127.0.0.1:{api_server.server_port}",
        "TRACKBRIDGE_ORG": "acme",
        "TRACKBRIDGE_TOKEN": host.organizations.create_token(org),
        "TRACKBRIDGE_HOOK_SECRET": hook["secret"],
    }.items():
        monkeypatch.setenv(name, value)
    receiver = types.ModuleType("receiver")
    exec(compile(code, "README.md receiver", "exec"), receiver.__dict__)
    server = receiver.HTTPServer(("127.0.0.1", 0), receiver.Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # While it was down: a group and a comment. It catches up from the feed.
        group = host.groups.create(org, "KeyError", "app.py")
        host.groups.add_comment(group, "looking", Source(user=True))
        cursor = receiver.catch_up()
        assert "comment on group" in capsys.readouterr().out
        # Back up: deliveries reach it, signed; a delivered event is not
        # handled twice when the feed brings it again.
        url = f"http://127.0.0.1:{server.server_port}/"
        host.hooks.update(org, hook["id"], {"url": url})
        host.groups.set_status(group, "resolved", Source(user=True))
        run_jobs()
        assert "changed: {'status'" in capsys.readouterr().out
        receiver.catch_up(cursor)
        assert "changed" not in capsys.readouterr().out
        [attempt, *_] = host.hooks.attempts(org, hook["id"], 10, None)
        assert attempt["status_code"] == 204
        # A forged delivery is refused.
        forged = {"webhook-id": "evt_x", "webhook-timestamp": "1",
                  "webhook-signature": "v1,AA=="}  # fmt: skip
        assert urllib_post(url, b'{"id": "evt_x"}', forged) == 401
    finally:
        server.shutdown()
        api_server.shutdown()


def urllib_post(url: str, body: bytes, headers: dict) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers)) as r:
            return r.status
    except urllib.error.HTTPError as ex:
        return ex.code


def test_an_event_past_the_feeds_retention_cannot_be_sent_again(
    host, org, api, run_jobs, subscribe
):
    hook = subscribe()
    host.groups.create(org, "KeyError", "app.py")
    run_jobs()
    [attempt] = api("get", f"/hooks/{hook['id']}/deliveries").json
    with host.store.transaction():  # the event expired before its attempt's log
        host.store.events.delete_older("9999", 100)
    path = f"/hooks/{hook['id']}/deliveries/{attempt['id']}/redeliver"
    answer = api("post", path)
    assert answer.status_code == 410
    assert "older than the feed keeps" in answer.json["detail"]


def test_a_delivery_job_that_dies_leaves_the_hook_to_the_next_event(
    host, org, run_jobs, receiver, subscribe, monkeypatch
):
    hook = subscribe()
    monkeypatch.setattr(host.hooks, "_send", lambda *a: 1 / 0)  # a bug, say
    host.groups.create(org, "KeyError", "app.py")
    for _ in range(host.config.jobs.max_attempts):
        host.clock.advance(3600)
        run_jobs()
    assert host.store.jobs.list(("dead",))[0]["kind"] == "hooks.deliver"
    monkeypatch.undo()
    host.groups.create(org, "TypeError", "app.py")
    run_jobs()
    assert [e["data"]["group"]["title"] for e in receiver.verified(hook["secret"])] == [
        "KeyError",
        "TypeError",
    ]
