"""Property-based: no JSON body, query or header makes the API answer 5xx.

Every JSON endpoint gets arbitrary JSON documents (and arbitrary bytes); the
answer must be a 2xx, or a 4xx whose body is JSON with a ``detail``. The
example counts are fixed and derandomized, so a run is repeatable and the
count is the one stated in the README: ``BODY_EXAMPLES`` per endpoint.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import install_tiny

BODY_EXAMPLES = 300
FUZZ = settings(
    max_examples=BODY_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
#: Keys the API actually reads, so documents reach past the first check.
KEYS = st.sampled_from(
    [
        "title", "culprit", "status", "assignee", "text", "email", "name", "key",
        "comment", "provider", "project", "issuetype", "description", "labels",
        "sync_comments", "sync_status_forward", "user_mappings", "url",
        "integration_id", "external_issue_id", "id", "priority", "fields",
    ]
)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=20,
)
BODIES = DOCUMENTS.map(lambda value: json.dumps(value).encode()) | st.binary(
    max_size=200
)

#: (method, path) of every endpoint that reads a JSON body; ``{group}``,
#: ``{comment}``, ``{integration}`` and ``{pipeline}`` are filled in.
ENDPOINTS = [
    ("post", "/members"),
    ("post", "/groups"),
    ("put", "/groups/{group}"),
    ("post", "/groups/{group}/comments"),
    ("put", "/groups/{group}/comments/{comment}"),
    ("post", "/groups/{group}/links"),
    ("post", "/groups/{group}/integrations/{integration}/create"),
    ("put", "/integrations/{integration}"),
    ("put", "/integrations/{integration}/config"),
    ("post", "/setup"),
    ("post", "/setup/{pipeline}"),
    ("post", "/hooks"),
    ("put", "/hooks/{hook}"),
    ("post", "/rules"),
]


@pytest.fixture
def ids(host, org, api):
    group = host.groups.create(org, "KeyError", "app.py")
    comment = api("post", f"/groups/{group.id}/comments", json={"text": "hi"}).json
    integration = install_tiny(host, org)
    pipeline = api("post", "/setup", json={"provider": "tiny"}).json["pipeline"]
    hook = api("post", "/hooks", json={"url": "https://app.example/hook"}).json
    return {
        "group": group.id,
        "comment": comment["id"],
        "integration": integration.id,
        "pipeline": pipeline,
        "hook": hook["id"],
    }


@pytest.mark.parametrize("method, template", ENDPOINTS)
def test_no_body_makes_an_endpoint_fail(api, ids, method, template):
    path = template.format(**ids)
    # The route and its ids are real: the fuzz reaches the endpoint's checks.
    assert api(method, path, json={}).status_code not in (404, 405)

    @FUZZ
    @given(body=BODIES)
    def check(body):
        response = api(
            method, path, body=body, headers={"Content-Type": "application/json"}
        )
        _assert_answered(response)

    check()


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["field", "query", "project", "limit", "cursor", "status"]),
        st.text(max_size=30),
        max_size=3,
    )
)
def test_no_query_makes_a_listing_fail(api, ids, query):
    for path in ("/groups", f"/integrations/{ids['integration']}/search"):
        _assert_answered(api("get", path, params=query))


@FUZZ
@given(
    content_type=st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
    actor=st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
)
def test_no_header_makes_a_write_fail(api, ids, content_type, actor):
    response = api(
        "post",
        f"/groups/{ids['group']}/comments",
        body=b'{"text": "hello"}',
        headers={"Content-Type": content_type, "X-Trackbridge-Actor": actor},
    )
    _assert_answered(response)


def _assert_answered(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert isinstance(response.json, dict) and response.json.get("detail"), (
            response.status_code,
            response.text,
        )


@pytest.mark.parametrize(
    "template",
    [
        "",
        "/members",
        "/groups",
        "/groups/{group}",
        "/groups/{group}/activity",
        "/groups/{group}/comments",
        "/groups/{group}/comments/{comment}",
        "/groups/{group}/links",
        "/groups/{group}/integrations/{integration}/create",
        "/integrations",
        "/integrations/{integration}",
        "/integrations/{integration}/config",
        "/integrations/{integration}/search",
        "/deliveries",
        "/setup",
        "/setup/{pipeline}",
    ],
)
def test_a_wrong_method_is_405_with_the_allowed_ones(api, ids, template):
    response = api("patch", template.format(**ids), json={})
    assert response.status_code == 405
    assert response.json["detail"].startswith("Method PATCH is not allowed")
    assert response.headers["allow"]
    # ...and a write in another media type is 415.
    if "POST" in response.headers["allow"] and template in ("/groups", "/members"):
        refused = api(
            "post", template, body=b"title=x", headers={"Content-Type": "text/plain"}
        )
        assert refused.status_code == 415 and refused.json["detail"]


def test_every_method_a_route_does_not_serve_is_405(api, ids, client):
    """Every route under an organization, every method its resource lacks
    (a responder inherited by mistake would answer with a 500 instead)."""
    from tests.test_cross_org import ORG_API, served_routes

    served = served_routes(client.app)
    fill = {
        "group_id:id": ids["group"],
        "comment_id:id": ids["comment"],
        "integration_id:id": ids["integration"],
        "external_issue_id:id": 1,
        "delivery_id:id": 1,
        "job_id:id": 1,
        "token_id:id": 1,
        "pipeline_id": ids["pipeline"],
        "hook_id:id": 1,
        "rule_id:id": 1,
    }
    tried = 0
    for route in {route for _, route in served}:
        path = route
        for name, value in fill.items():
            path = path.replace("{" + name + "}", str(value))
        for method in ("GET", "POST", "PUT", "DELETE"):
            if (method, route) in served:
                continue
            answer = api(method.lower(), path, json={})
            assert answer.status_code == 405, (method, ORG_API + route)
            tried += 1
    assert tried == 77
    # Found by this sweep: the group item route inherited the listing's POST
    # and answered 500.
    assert api("post", f"/groups/{ids['group']}", json={}).status_code == 405
