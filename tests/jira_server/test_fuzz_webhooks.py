"""Property-based: no webhook body, token or header makes trackbridge fail.

Real Jira payloads from ../shared with any part replaced or removed, plain
JSON documents and raw bytes go to the webhook with a valid token; arbitrary
tokens and headers go with a real payload. The answer is always 200 or a
400 with a ``detail``, never 5xx, and every stored delivery is then applied
by its job without an error (a Jira question that fails may only ask for a
retry). Counts are fixed and derandomized; the README states them.
"""

from __future__ import annotations

import contextlib
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.errors import RetryLater
from tests.conftest import SHARED
from tests.jira_server.conftest import webhook_token
from tests.test_fuzz_api import DOCUMENTS

BODY_EXAMPLES = 1000
TOKEN_EXAMPLES = 300
HEADER_EXAMPLES = 200
FIXTURES = sorted((SHARED / "fixtures" / "jira-webhooks").glob("*.json"))
PAYLOADS = [json.loads(path.read_text()) for path in FIXTURES]


def _fuzz(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )


def _paths(value, prefix=()):
    """Every place in a document: dict keys and list positions."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated_payloads(draw) -> bytes:
    """A real payload with one part replaced by anything, or removed."""
    payload = json.loads(json.dumps(draw(st.sampled_from(PAYLOADS))))
    path = draw(st.sampled_from(list(_paths(payload))[1:]))
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(DOCUMENTS)
    return json.dumps(payload).encode()


BODIES = (
    mutated_payloads()
    | DOCUMENTS.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=300)
)


@pytest.fixture
def hook(client, jira_host, jira_integration, configure, link):
    """Post to the webhook, linked and configured so events really apply."""
    if not PAYLOADS:
        pytest.skip(f"no Jira payloads under {SHARED} (../shared is missing)")
    configure(
        sync_reverse_assignment=True,
        sync_status_reverse=True,
        sync_comments_reverse=True,
    )
    for payload in PAYLOADS:
        issue = payload.get("issue") or {}
        if (
            jira_host.store.integrations.external_issue(
                jira_integration.id, key=issue["key"], issue_id=str(issue["id"])
            )
            is None
        ):
            link(issue["key"], str(issue["id"]))

    def post(body: bytes, token: str | None = None, headers=None):
        token = webhook_token() if token is None else token
        return client.simulate_post(
            f"/extensions/jira-server/issue-updated/{token}/",
            body=body,
            headers=headers or {"Content-Type": "application/json"},
        )

    return post


def test_no_body_fails_the_webhook_or_its_job(hook, jira_host):
    @_fuzz(BODY_EXAMPLES)
    @given(body=BODIES)
    def check(body):
        response = hook(body)
        _assert_answered(response)
        if response.status_code == 200 and response.json["received"]:
            delivery_id = jira_host.store.deliveries.recent(1)[0]["id"]
            with contextlib.suppress(RetryLater):  # Jira may be asked, and fail
                jira_host.inbound.process_delivery(delivery_id)

    check()
    # The mutations kept enough of Jira's shape to be applied, not just refused.
    outcomes = [d["status"] for d in jira_host.store.deliveries.recent(BODY_EXAMPLES)]
    assert outcomes.count("processed") >= BODY_EXAMPLES // 10, outcomes


@_fuzz(TOKEN_EXAMPLES)
@given(
    token=st.text(max_size=200)
    | st.from_regex(r"[A-Za-z0-9_-]{1,40}(\.[A-Za-z0-9_-]{0,60}){2}", fullmatch=True)
)
def test_no_token_fails_the_webhook_or_is_let_in(hook, jira_host, token):
    before = jira_host.store.deliveries.recent(1)
    response = hook(PAYLOAD_BODY, token=quote(token, safe=""))
    assert response.status_code in (400, 404), response.text
    assert response.json.get("detail")
    assert jira_host.store.deliveries.recent(1) == before


@_fuzz(HEADER_EXAMPLES)
@given(
    headers=st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
        st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
        max_size=5,
    )
)
def test_no_header_fails_the_webhook(hook, headers):
    _assert_answered(hook(PAYLOAD_BODY, headers=headers))


PAYLOAD_BODY = json.dumps(PAYLOADS[0]).encode() if PAYLOADS else b"{}"


def _assert_answered(response) -> None:
    assert response.status_code in (200, 400, 413, 415), response.text
    if response.status_code != 200:
        assert response.json.get("detail"), response.text
