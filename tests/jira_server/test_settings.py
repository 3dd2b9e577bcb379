"""An organization's Jira settings: the JSON form and the HTML settings page."""

import re

import pytest

from tests.fake_jira_create import add_project
from tests.html_forms import untouched


@pytest.fixture
def projects(jira):
    add_project(jira, "PRJ", "10000", "Checkout", statuses=("1", "3", "5"))
    add_project(jira, "OPS", "10002", "Operations", statuses=("10000", "10001"))
    return jira


@pytest.fixture
def config_url(jira_integration):
    return f"/integrations/{jira_integration.id}/config"


def test_the_form_has_jira_choices(projects, api, config_url, configure):
    configure(
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "3"}}
    )
    form = api("get", config_url, params={"project": "10002"}).json
    fields = {f["name"]: f for f in form["fields"]}
    assert fields["sync_status_forward_mapping"]["type"] == "mapping"
    assert [c["value"] for c in fields["sync_status_reverse_mapping"]["columns"]] == [
        "resolve",
        "unresolve",
    ]
    assert fields["resolution_strategy"]["default"] == "resolve"
    assert form["projects"] == [
        {"value": "10002", "label": "OPS \u2013 Operations"},
        {"value": "10000", "label": "PRJ \u2013 Checkout"},
    ]
    assert form["statuses"] == {
        "10000": [
            {"value": "1", "label": "Open"},
            {"value": "3", "label": "In Progress"},
            {"value": "5", "label": "Resolved"},
        ],
        "10002": [
            {"value": "10000", "label": "To Do"},
            {"value": "10001", "label": "Done"},
        ],
    }
    assert form["problems"] == []


def test_text_settings_are_parsed(projects, api, config_url):
    saved = api(
        "put",
        config_url,
        json={
            "user_mappings": "Ann@Example.com = ann.k\n\nbob@example.com=bob",
            "issues_ignored_fields": "\nhello world ,,\ngoodnight\nmoon , ,",
        },
    )
    assert saved.status_code == 200, saved.json
    assert saved.json["config"]["user_mappings"] == {
        "ann@example.com": "ann.k",
        "bob@example.com": "bob",
    }
    assert saved.json["config"]["issues_ignored_fields"] == [
        "hello world",
        "goodnight",
        "moon",
    ]
    bad = api("put", config_url, json={"user_mappings": "ann@example.com ann.k"})
    assert bad.status_code == 400
    assert bad.json["errors"]["user_mappings"] == [
        "Line 1: write member@example.com = jira.name."
    ]


def test_jira_unreachable_still_shows_the_form(projects, api, config_url, configure):
    configure(
        sync_status_forward_mapping={"PRJ": {"on_resolve": "5", "on_unresolve": "3"}}
    )
    projects.failures["/rest/api/2/project"] = (503, "", "text/plain")
    form = api("get", config_url).json
    assert form["projects"] == []
    assert form["problems"][0].startswith("Could not list the projects")
    assert len(form["fields"]) == 11


# ---- the HTML page ----

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def page_path(integration) -> str:
    return f"/settings/acme/integrations/{integration.id}"


def sign_in(client, token, integration):
    """Sign in with the API token; the session cookie it set."""
    response = client.simulate_post(
        page_path(integration), body=f"_action=signin&token={token}", headers=FORM
    )
    assert response.status_code == 303, response.text
    return response.cookies["tb_session"].value


def open_page(client, integration, session):
    page = client.simulate_get(
        page_path(integration), headers={"Cookie": f"tb_session={session}"}
    )
    assert page.status_code == 200
    csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', page.text)[1]
    return page, csrf


def post(client, integration, session, body):
    return client.simulate_post(
        page_path(integration),
        body=body,
        headers={**FORM, "Cookie": f"tb_session={session}"},
    )


def test_without_a_session_the_page_asks_to_sign_in(client, jira_integration):
    page = client.simulate_get(page_path(jira_integration))
    assert page.status_code == 200
    assert "Sign in to change settings" in page.text
    assert "Send assignments" not in page.text


def test_a_token_of_another_organization_does_not_sign_in(
    client, jira_host, jira_integration
):
    other = jira_host.organizations.create("other")
    foreign = jira_host.organizations.create_token(other)
    response = client.simulate_post(
        page_path(jira_integration),
        body=f"_action=signin&token={foreign}",
        headers=FORM,
    )
    assert response.status_code == 401
    assert "another organization" in response.text
    wrong = client.simulate_post(
        page_path(jira_integration), body="_action=signin&token=nope", headers=FORM
    )
    assert wrong.status_code == 401 and "tb_session" not in wrong.cookies


def test_a_one_time_link_signs_in_once(client, jira_host, org, jira_integration):
    token = jira_host.settings.create_link(org, jira_integration.id)
    first = client.simulate_get(page_path(jira_integration), params={"link": token})
    assert first.status_code == 303
    assert first.cookies["tb_session"].http_only
    again = client.simulate_get(page_path(jira_integration), params={"link": token})
    assert again.status_code == 404
    assert "expired or was already used" in again.text


def test_saving_toggles_text_and_a_mapping_row(
    projects, client, token, jira_host, org, jira_integration
):
    session = sign_in(client, token, jira_integration)
    page, csrf = open_page(client, jira_integration, session)
    assert "OPS \u2013 Operations" in page.text
    # Add a row for PRJ: the page comes back with its statuses, unsaved.
    added = post(
        client,
        jira_integration,
        session,
        f"_csrf={csrf}&_booleans=sync_comments,sync_status_forward"
        "&_action=_add.sync_status_forward_mapping"
        "&_add.sync_status_forward_mapping=10000&resolution_strategy=resolve",
    )
    assert added.status_code == 200
    assert 'name="sync_status_forward_mapping.10000.on_resolve"' in added.text
    assert ">In Progress</option>" in added.text
    assert jira_host.integrations.get(org, jira_integration.id)[1].config == {}
    saved = post(
        client,
        jira_integration,
        session,
        f"_csrf={csrf}&_booleans=sync_comments,sync_status_forward"
        "&sync_status_forward=true"
        "&sync_status_forward_mapping.row=10000"
        "&sync_status_forward_mapping.10000.on_resolve=5"
        "&sync_status_forward_mapping.10000.on_unresolve=3"
        "&resolution_strategy=resolve_next_release"
        "&user_mappings=ann%40example.com+%3D+ann.k&_action=save",
    )
    assert saved.status_code == 303, saved.text
    config = jira_host.integrations.get(org, jira_integration.id)[1].config
    assert config["sync_status_forward"] is True
    assert config["sync_comments"] is False
    assert config["sync_status_forward_mapping"] == {
        "10000": {"on_resolve": "5", "on_unresolve": "3"}
    }
    assert config["resolution_strategy"] == "resolve_next_release"
    assert config["user_mappings"] == {"ann@example.com": "ann.k"}
    shown = client.simulate_get(
        saved.headers["location"], headers={"Cookie": f"tb_session={session}"}
    )
    assert "Saved." in shown.text
    assert "ann@example.com = ann.k" in shown.text


def test_a_half_filled_row_is_refused_and_kept_on_the_page(
    projects, client, token, jira_host, org, jira_integration
):
    session = sign_in(client, token, jira_integration)
    _, csrf = open_page(client, jira_integration, session)
    refused = post(
        client,
        jira_integration,
        session,
        f"_csrf={csrf}&_booleans=&sync_status_forward_mapping.row=10000"
        "&sync_status_forward_mapping.10000.on_resolve=5"
        "&sync_status_forward_mapping.10000.on_unresolve="
        "&resolution_strategy=resolve&_action=save",
    )
    assert refused.status_code == 400
    assert "Resolve and unresolve status are required." in refused.text
    assert '<option value="5" selected>Resolved</option>' in refused.text
    assert jira_host.integrations.get(org, jira_integration.id)[1].config == {}


def test_a_post_without_the_csrf_token_is_refused(
    projects, client, token, jira_host, org, jira_integration
):
    session = sign_in(client, token, jira_integration)
    body = "_booleans=sync_comments&sync_comments=true&_action=save"
    assert post(client, jira_integration, session, body).status_code == 403
    forged = post(client, jira_integration, session, f"_csrf={'0' * 64}&{body}")
    assert forged.status_code == 403
    no_session = client.simulate_post(
        page_path(jira_integration), body=body, headers=FORM
    )
    assert no_session.status_code == 403
    assert jira_host.integrations.get(org, jira_integration.id)[1].config == {}


def test_a_session_is_for_its_own_organization(
    client, jira_host, token, jira_integration
):
    session = sign_in(client, token, jira_integration)
    other = jira_host.organizations.create("other")
    page = client.simulate_get(
        f"/settings/other/integrations/{jira_integration.id}",
        headers={"Cookie": f"tb_session={session}"},
    )
    assert "Sign in to change settings" in page.text
    assert other.slug == "other"


def test_an_untouched_form_saves_at_the_first_try(
    projects, client, token, jira_host, org, jira_integration
):
    """A new integration's page, saved as a browser submits it unchanged:
    no input shows "None", and Save succeeds and keeps the defaults."""
    session = sign_in(client, token, jira_integration)
    page, _ = open_page(client, jira_integration, session)
    body, inputs = untouched(page.text, press=("_action", "save"))
    assert "None" not in [i.get("value") for i in inputs]
    assert ">None<" not in page.text
    saved = post(client, jira_integration, session, body)
    assert saved.status_code == 303, saved.text
    shown = client.simulate_get(
        saved.headers["location"], headers={"Cookie": f"tb_session={session}"}
    )
    assert "Saved." in shown.text and "Not saved" not in shown.text
    again, _ = untouched(shown.text, press=("_action", "save"))
    assert again == body  # what was saved shows as it was
