"""The generic setup pipeline through its JSON API, driven by the tiny provider."""

import hashlib

import pytest

from tests import tiny_tracker


@pytest.fixture
def start(api):
    def begin():
        response = api("post", "/setup", json={"provider": "tiny"})
        assert response.status_code == 201
        return response.json

    return begin


def test_a_pipeline_shows_its_step_and_completes(api, start, host):
    begun = start()
    assert begun["status"] == "step"
    assert begun["step"] == {"name": "connect", "title": "Connect Tiny Tracker"}
    assert (begun["step_index"], begun["total_steps"]) == (0, 1)
    assert [f["name"] for f in begun["fields"]] == ["url", "secret"]
    assert begun["instructions"] == [
        {"label": "Webhook URL", "value": "http://tb.example/extensions/tiny/hook/"}
    ]
    assert len(begun["pipeline"]) >= 40

    url = f"/setup/{begun['pipeline']}"
    assert api("get", url).json["step"]["name"] == "connect"
    done = api("post", url, json={"url": "https://tiny.example/", "secret": "s" * 12})
    assert done.json["status"] == "complete"
    integration = api("get", f"/integrations/{done.json['integration_id']}").json
    assert integration["external_id"] == "tiny.example"
    assert integration["metadata"] == {
        "base_url": "https://tiny.example",
        "webhook_id": "w-1",
    }
    assert host.store.integrations.credentials(integration["id"]) == {
        "secret": "s" * 12
    }
    # single use: the pipeline is gone once complete
    assert api("post", url, json={}).status_code == 404


def test_the_pipeline_id_is_stored_only_as_a_hash(start, host):
    pipeline_id = start()["pipeline"]
    stored = host.store.db.execute("SELECT id_hash FROM setup_pipelines").fetchone()[0]
    assert stored == hashlib.sha256(pipeline_id.encode()).hexdigest()
    assert pipeline_id not in stored


def test_invalid_input_stays_on_the_step_and_saves_nothing(api, start, host):
    url = f"/setup/{start()['pipeline']}"
    response = api("post", url, json={"url": "tiny.example", "secret": "short"})
    assert response.status_code == 400
    assert response.json["errors"] == {
        "url": ["Enter a valid URL."],
        "secret": ["Use at least 8 characters."],
    }
    assert api("get", url).json["step_index"] == 0
    assert api("get", "/integrations").json == []


def test_a_failed_post_install_saves_nothing(api, start, host):
    url = f"/setup/{start()['pipeline']}"
    response = api("post", url, json={"url": "https://fail.example", "secret": "s" * 9})
    assert response.status_code == 400
    assert response.json == {"detail": "Could not create the webhook in Tiny Tracker."}
    assert api("get", "/integrations").json == []
    assert host.store.db.execute("SELECT count(*) FROM credentials").fetchone()[0] == 0
    # the user can correct it and finish with the same pipeline
    again = api("post", url, json={"url": "https://ok.example", "secret": "s" * 9})
    assert again.json["status"] == "complete"


def test_pipelines_expire(api, start, clock, host):
    url = f"/setup/{start()['pipeline']}"
    clock.advance(host.config.setup_ttl_seconds + 1)
    response = api("get", url)
    assert response.status_code == 404
    assert response.json == {
        "detail": "This setup session has expired or does not exist."
    }


def test_a_pipeline_belongs_to_its_organization(client, start, host):
    url = f"/api/0/organizations/other/setup/{start()['pipeline']}"
    other = host.organizations.create("other")
    headers = {"Authorization": f"Bearer {host.organizations.create_token(other)}"}
    assert client.simulate_get(url, headers=headers).status_code == 404


def test_unknown_providers_are_404(api):
    response = api("post", "/setup", json={"provider": "gitlab"})
    assert (response.status_code, response.json) == (
        404,
        {"detail": "Unknown provider gitlab; installed: tiny."},
    )


def test_installing_the_same_tracker_twice_shares_one_integration(
    api, start, host, client
):
    body = {"url": "https://tiny.example", "secret": "first-secret"}
    first = api("post", f"/setup/{start()['pipeline']}", json=body).json
    other = host.organizations.create("other")
    token = host.organizations.create_token(other)
    headers = {"Authorization": f"Bearer {token}"}
    begun = client.simulate_post(
        "/api/0/organizations/other/setup", json={"provider": "tiny"}, headers=headers
    ).json
    second = client.simulate_post(
        f"/api/0/organizations/other/setup/{begun['pipeline']}",
        json={**body, "secret": "second-secret"},
        headers=headers,
    ).json
    assert first["integration_id"] == second["integration_id"]
    orgs = host.store.integrations.org_integrations(first["integration_id"])
    assert [o.organization_id for o in orgs] == [1, other.id]
    # Joining changes nothing the first organization uses: the shared secret
    # stays; each organization signs in with its own credentials.
    assert host.store.integrations.credentials(first["integration_id"]) == {
        "secret": "first-secret"
    }
    own = [
        host.store.integrations.installation_credentials(o.id)["api_key"] for o in orgs
    ]
    assert own == ["key-for-first-secret", "key-for-second-secret"]
    assert [c["hook"] for c in tiny_tracker.CALLS] == ["post_install", "post_install"]


def test_expired_pipelines_are_forgotten_when_another_starts(start, clock, host):
    start()
    clock.advance(host.config.setup_ttl_seconds + 1)
    start()
    count = host.store.db.execute("SELECT count(*) FROM setup_pipelines").fetchone()[0]
    assert count == 1
