"""Jira calls in ``GET /metrics``: by endpoint template, status and latency."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugins.jira_core.client import JiraError, endpoint
from plugins.jira_server.setup import integration_client
from tests.fake_jira import add_issue


def families(client) -> dict:
    text = client.simulate_get("/metrics").text
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_endpoint_templates_name_no_issue_or_project():
    assert endpoint("/rest/api/2/issue/PRJ-12/transitions") == (
        "/rest/api/2/issue/{key}/transitions"
    )
    assert endpoint("/rest/api/2/issue/10001/comment/10200") == (
        "/rest/api/2/issue/{id}/comment/{id}"
    )
    assert endpoint("/rest/api/2/project/PRJ/statuses") == (
        "/rest/api/2/project/{project}/statuses"
    )
    assert endpoint("/rest/api/2/search") == "/rest/api/2/search"


def test_jira_calls_are_counted_and_timed(jira_host, jira, jira_integration, client):
    add_issue(jira, "PRJ-1", "10001")
    jira.delays["/rest/api/2/issue/PRJ-1"] = 0.12
    api = integration_client(jira_host, jira_integration)
    api.request("GET", "/rest/api/2/issue/PRJ-1")
    jira.failures["/rest/api/2/issue/PRJ-1"] = (503, "busy", "text/plain")
    with pytest.raises(JiraError, match="503"):
        api.request("GET", "/rest/api/2/issue/PRJ-1")
    api.base_url = "http://127.0.0.1:1"  # nobody answers there
    with pytest.raises(JiraError, match="Unable to reach host"):
        api.request("GET", "/rest/api/2/status")
    found = families(client)
    calls = {
        (s.labels["endpoint"], s.labels["status"]): s.value
        for s in found["trackbridge_tracker_requests"].samples
    }
    assert calls == {
        ("/rest/api/2/issue/{key}", "200"): 1,
        ("/rest/api/2/issue/{key}", "503"): 1,
        ("/rest/api/2/status", "error"): 1,
    }
    issue = {
        s.labels["le"]: s.value
        for s in found["trackbridge_tracker_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["endpoint"].endswith("{key}")
    }
    # Both calls waited 0.12 s: none under 0.1 s, both under 0.25 s, and every
    # bucket is there, cumulative.
    assert (issue["0.1"], issue["0.25"], issue["+Inf"]) == (0, 2, 2)
    assert len(issue) == 9
    assert "pat-svc" not in client.simulate_get("/metrics").text
