"""Creating a Jira issue from the console's group page (fake Jira): the
provider's create form as HTML, a choice that changes it, Jira's refusal per
field, and the new issue linked."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.fake_jira_create import add_project
from tests.html_forms import ConsoleBrowser, untouched


@pytest.fixture
def browser(client, jira_host, org, jira):
    add_project(jira, "PRJ", "10000", "Checkout")
    add_project(jira, "ABC", "10001", "Accounts")
    browser = ConsoleBrowser(client)
    browser.get("/console/acme", link=jira_host.console.create_link(org))
    return browser


@pytest.fixture
def group(jira_host, org):
    return jira_host.groups.create(org, "KeyError: 'cart'", "shop/cart.py in total")


def test_the_group_page_leads_to_the_create_form(browser, group, jira_integration):
    page = browser.get(f"/console/acme/groups/{group.id}").text
    assert f'action="/console/acme/groups/{group.id}/create"' in page
    assert f'<option value="{jira_integration.id}">' in page


def test_an_issue_is_created_from_the_console_and_linked(
    browser, group, jira, jira_integration, jira_host, org
):
    path = f"/console/acme/groups/{group.id}/create"
    form = browser.get(path, integration=str(jira_integration.id))
    assert form.status_code == 200
    assert 'name="project"' in form.text and "Update the form" in form.text
    assert 'value="None"' not in form.text and ">None<" not in form.text
    assert "ABC \u2013 Accounts" in form.text
    # Choosing PRJ and a Bug: the form is asked for again, and grows.
    updated = browser.post(
        path,
        {
            "integration": str(jira_integration.id),
            "project": "10000",
            "issuetype": "10004",
            "_action": "update",
        },
    )
    assert updated.status_code == 200 and "Root cause" in updated.text
    assert jira.seen("/rest/api/2/issue", "POST") == []  # updating creates nothing
    # Submitted as it stands: Jira's refusal is shown on its field.
    body, _ = untouched(updated.text, press=("_action", "create"))
    refused = browser.client.simulate_post(
        path,
        body=body,
        headers=browser._headers({"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert refused.status_code == 400
    assert "Nothing was created: check these fields." in refused.text
    assert 'href="#f-customfield_10204"' in refused.text
    assert re.search(r'id="f-customfield_10204"[^>]*aria-invalid="true"', refused.text)
    assert "KeyError: &#39;cart&#39;" in refused.text  # the title kept
    # Filled in: created, linked, back on the group's page.
    body, _ = untouched(refused.text, press=("_action", "create"))
    filled = [
        (name, "a typo" if name == "customfield_10204" else value)
        for name, value in parse_qsl(body, keep_blank_values=True)
    ]
    made = browser.client.simulate_post(
        path,
        body=urlencode(filled),
        headers=browser._headers({"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"].startswith(f"/console/acme/groups/{group.id}?")
    back = browser.get(made.headers["location"].split("?")[0], done="x")
    refused_post, post = jira.seen(
        "/rest/api/2/issue", "POST"
    )  # Jira said no, then yes
    assert "customfield_10204" not in refused_post.json()["fields"]
    assert post.json()["fields"]["customfield_10204"] == "a typo"
    [issue] = jira_host.store.integrations.issues_for_group(group.id)
    assert issue.key in unescape(back.text)


def test_another_organizations_group_or_integration_is_a_404(
    client, browser, group, jira_integration, jira_host
):
    other = jira_host.organizations.create("other")
    theirs = ConsoleBrowser(client)
    theirs.get("/console/other", link=jira_host.console.create_link(other))
    path = f"/console/other/groups/{group.id}/create"
    assert theirs.get(path, integration=str(jira_integration.id)).status_code == 404
    posted = theirs.post(
        path,
        {"integration": str(jira_integration.id), "title": "x", "_action": "create"},
    )
    assert posted.status_code == 404
