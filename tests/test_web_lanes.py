"""Which requests ``host.web`` runs in the tracker lanes (by organization,
under ``tracker_request_timeout_seconds``) rather than the shared pool: every
one that may wait on a tracker while a person or client waits."""

from __future__ import annotations

import pytest

from host.web import TRACKER_CALLS, tracker_call

ORG = "/api/0/organizations/acme"


@pytest.mark.parametrize(
    "path",
    [
        f"{ORG}/integrations/1/search",
        f"{ORG}/integrations/1/config",
        f"{ORG}/integrations/1/rotate-webhook-secret",
        f"{ORG}/groups/1/links",
        f"{ORG}/groups/1/integrations/1/create",
        f"{ORG}/setup",
        f"{ORG}/setup/abc",
        "/settings/acme/integrations/1",
        "/console/acme/groups/1",
        "/console/acme/integrations/1/rotate-webhook-secret",
        "/console/acme/integrations/1/remove",
        "/console/acme/groups/1/create",
        "/extensions/jira-server/setup/",
    ],
)
def test_what_waits_on_a_tracker_runs_in_its_organizations_lane(path):
    found = TRACKER_CALLS.match(path)
    assert found is not None
    assert "acme" in (found["org"], found["settings_org"], found["console_org"]) or (
        path.startswith("/extensions/")
    )


@pytest.mark.parametrize(
    "path",
    [
        f"{ORG}/groups",
        f"{ORG}/groups/1",
        f"{ORG}/events",
        f"{ORG}/integrations/1",
        "/console/acme",
        "/console/acme/groups",
        "/console/acme/deliveries",
        "/console/acme/integrations/1/webhook-url",
        "/console/acme/integrations/1/reauthenticate",
        "/extensions/jira-server/issue-updated/token/",
        "/healthz",
    ],
)
def test_what_never_calls_a_tracker_stays_in_the_shared_pool(path):
    assert TRACKER_CALLS.match(path) is None


def test_removing_an_integration_waits_on_the_tracker_reading_it_does_not():
    """The last organization's removal deletes the tracker's webhook."""
    path = f"{ORG}/integrations/1"
    found = tracker_call(path, "DELETE")
    assert found is not None and found["org"] == "acme"
    assert tracker_call(path, "GET") is None
    assert tracker_call(path, "PUT") is None
