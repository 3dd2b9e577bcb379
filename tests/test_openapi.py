"""The OpenAPI contract at /api/0/openapi.json: it names every route the
app serves, it is a valid OpenAPI 3.1 document, and what the API answers
matches it.

Answers are checked two ways: every test client of the suite carries
tests/contract.py's check (real flows, real objects), and here
schemathesis sends each operation a fixed, bounded number of generated
requests, valid and not, against an organization with one of each object.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from host.api import openapi
from host.services.groups import Source
from tests.conftest import install_tiny, link_issue
from tests.contract import checked_app, served_routes

#: Generated requests per operation (and both engines): enough to try each
#: parameter's edges, few enough for the suite's budget.
EXAMPLES = 5


def test_every_route_and_method_is_in_the_contract(host):
    served = served_routes(checked_app(host))
    plugins = {
        route.uri_template
        for routes in host.hook.register_routes(host=host)
        for route in routes or ()
    }
    api = {
        template: methods
        for template, methods in served.items()
        if template not in openapi.PAGES and template not in plugins
    }
    described = {template: set(methods) for template, methods in openapi.ROUTES.items()}
    assert api == described
    # What is left out is only pages: every one of them is served.
    assert set(openapi.PAGES) <= set(served)


def test_the_contract_is_public_and_valid_openapi_3_1(client):
    answer = client.simulate_get("/api/0/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json["openapi"] == "3.1.0"
    assert answer.json == openapi.document()
    schema = schemathesis.openapi.from_dict(answer.json)
    schema.validate()  # raises on a document OpenAPI 3.1 does not allow
    # Every operation has an id, a summary, and its errors spelled out.
    ids = [
        operation["operationId"]
        for methods in openapi.ROUTES.values()
        for operation in methods.values()
    ]
    assert len(ids) == len(set(ids))
    for template, methods in openapi.ROUTES.items():
        for method, operation in methods.items():
            assert operation["summary"], (method, template)
            if template.startswith("/api/0/organizations/"):
                assert {"401", "404", "500"} <= set(operation["responses"])


def test_an_answer_off_the_contract_is_reported():
    """The suite-wide check finds what it is for (else every test passes
    it by saying nothing)."""
    from tests.contract import problems_with

    groups = "/api/0/organizations/{slug}/groups"
    good = (
        '[{"id": 1, "title": "t", "culprit": "", "status": "resolved",'
        ' "assignee": null}]'
    )
    assert problems_with(groups, "get", 200, "application/json", good) == []
    extra = good.replace('"assignee": null', '"assignee": null, "secret": "x"')
    assert "secret" in problems_with(groups, "get", 200, "application/json", extra)[0]
    wrong = good.replace('"resolved"', '"fixed"')
    assert problems_with(groups, "get", 200, "application/json", wrong)
    assert "no 418 answer" in problems_with(groups, "get", 418, None, "")[0]
    assert problems_with(f"{groups}/{{group_id:id}}", "delete", 204, None, "x")


@pytest.fixture
def populated(host, org):
    """An organization with one of each object (ids 1 where they are the
    first), so generated requests find some of them."""
    integration = install_tiny(host, org)
    group = host.groups.create(org, "KeyError in checkout", "app.checkout")
    host.groups.add_comment(group, "seen twice", Source(user=True))
    link_issue(host, group.id, integration.id, "TINY-1", "1")
    host.hooks.create(org, {"url": "http://127.0.0.1:9/hook"})
    host.rules.create(
        org,
        {"integration_id": integration.id, "when": {"event": "group.created"}},
    )
    return org


#: Operations that may refuse a request of the right shape for what the
#: request means, which no schema says: schemathesis' "schema-valid request
#: rejected" check cannot judge them (every other check still runs).
JUDGED_BY_MEANING = {
    "createGroup": "an Idempotency-Key sent again with another body is a 422",
    "addComment": "an Idempotency-Key sent again with another body is a 422",
    "linkIssue": "the key must name an issue of the tracker (and the key: 422)",
    "createIssue": "the fields are the tracker's create form (GET .../create)",
    "listEvents": "a cursor is one the feed handed out",
    "searchChoices": "field names one of the tracker's searched fields",
    "createRule": "the fields are the tracker's create form",
    "updateRule": "the fields are the tracker's create form",
    "updateIntegrationConfig": "the keys are the provider's settings form",
    "saveSettings": "the keys are the provider's settings form",
    "submitSetup": "the values are the setup step's form",
}


@pytest.fixture
def contract_app(host, populated):
    return checked_app(host)


schema = schemathesis.openapi.from_dict(openapi.document())
schema.config.update(base_url="http://tb.test")


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_operation_answers_as_the_contract_says(case, contract_app, auth):
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = "acme"  # the token's organization
    # Set, not passed: the checks that send again (without the token, say)
    # take the app from the operation and the transport from its schema.
    case.operation.app = case.operation.schema.app = contract_app
    operation_id = case.operation.definition.raw["operationId"]
    excluded = [positive_data_acceptance] if operation_id in JUDGED_BY_MEANING else []
    # The token, unless schemathesis left it out on purpose (to see a 401).
    negated = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(headers={} if negated else auth, excluded_checks=excluded)
