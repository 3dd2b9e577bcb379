"""Connecting Jira Cloud in a real browser (headless Chromium), both ways.

Real ``trackbridge serve`` (the Jira Cloud plugin from its entry point), the
fake Atlassian key server and the fake Jira Cloud site on loopback (which
checks every JWT the app signs). Through the app: the site installs it with
Atlassian's signed call, an administrator opens the app's configure page and
the claim code it shows goes into the setup page. With an API token: a
wrong token is refused on its field, the right one connects and the signed
webhook is made. Each integration is then on its organization's console.
"""

from __future__ import annotations

import re

import requests

from tests.browser import MARKS, chromium, fits, host_with_acme, shot
from tests.conftest import run_cli
from tests.jira_cloud.conftest import (
    SHARED_SECRET,
    install_token,
    lifecycle_body,
    site_token,
)
from tests.jira_cloud.fake_cloud import FakeJiraCloud
from tests.servers import serving

pytestmark = MARKS

EMAIL = "bot@acme.example"
API_TOKEN = "an-atlassian-api-token"


def link_from(output: str) -> str:
    """The one-time link a command printed."""
    return re.search(r"^https?://\S+$", output, re.MULTILINE)[0]


def test_connect_jira_cloud_through_the_app_and_with_a_token(
    tmp_path, atlassian_key, install_keys
):
    from playwright.sync_api import expect

    port, env = host_with_acme(
        tmp_path, f"[jira]\ninstall_keys_url = {install_keys.url}\n"
    )
    base = f"http://127.0.0.1:{port}"
    run_cli(env, "org", "create", "beta")
    with (
        FakeJiraCloud(SHARED_SECRET) as site,
        serving(env, port),
        chromium() as browser,
    ):
        site.api_tokens[EMAIL] = API_TOKEN
        site.admins.add(EMAIL)
        # The site knows the app by the key its descriptor gave.
        descriptor = requests.get(f"{base}/extensions/jira/descriptor/", timeout=10)
        site.app_key = descriptor.json()["key"]
        installed = requests.post(
            f"{base}/extensions/jira/installed/",
            json=lifecycle_body(
                key=site.app_key, baseUrl=site.url, sharedSecret=SHARED_SECRET
            ),
            headers={
                "Authorization": "JWT " + install_token(atlassian_key[0], aud=base)
            },
            timeout=10,
        )
        assert installed.status_code == 204, installed.text

        # acme, through the app: the configure page Jira frames shows the code.
        page = browser.new_page()
        query = "xdm_e=https%3A%2F%2Facme.atlassian.net&lic=none"
        token = site_token("GET", "/extensions/jira/configure", query)
        page.goto(f"{base}/extensions/jira/configure/?{query}&jwt={token}")
        code = page.locator("pre").inner_text().strip()
        assert code.startswith("tbc_")
        page.goto(link_from(run_cli(env, "install", "jira", "--org", "acme")))
        expect(page.locator(".step")).to_have_text("Jira Cloud · step 1")
        expect(page.locator("#f-claim_code")).to_be_visible()
        expect(page.locator("#f-site_url")).to_be_hidden()
        page.fill("#f-claim_code", code)
        page.click("button[type=submit]")
        domain = site.url.split("//", 1)[1]
        expect(page.get_by_role("status")).to_have_text(
            f"“Jira Cloud ({domain})” is installed."
        )
        expect(page.locator("main")).to_contain_text("trackbridge console --org acme")
        page.screenshot(path=str(shot("install-cloud-app")), full_page=True)

        # beta, with an API token, at phone width.
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(link_from(run_cli(env, "install", "jira", "--org", "beta")))
        page.select_option("#f-auth_mode", "api_token")
        expect(page.locator("#f-claim_code")).to_be_hidden()
        page.fill("#f-site_url", site.url)
        page.fill("#f-email", EMAIL)
        page.fill("#f-api_token", "not the token")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert").first).to_contain_text(
            "Jira refused the email and API token (HTTP 401)."
        )
        page.fill("#f-api_token", API_TOKEN)
        page.click("button[type=submit]")
        expect(page.locator(".step")).to_have_text("Jira Cloud · step 2 of 2")
        page.select_option("#f-webhook_mode", "automatic")
        page.click("button:not(.secondary)[type=submit]")
        expect(page.get_by_role("status")).to_contain_text("is installed")
        fits(page, "installed")
        page.screenshot(path=str(shot("install-cloud-token")), full_page=True)

        # Each organization's console shows its own Jira Cloud integration.
        for slug in ("acme", "beta"):
            page.goto(link_from(run_cli(env, "console", "--org", slug)))
            expect(page.locator("main")).to_contain_text(f"Jira Cloud ({domain})")
            fits(page, f"{slug}'s console")

    [webhook] = site.webhooks.values()
    assert webhook["url"].startswith(f"{base}/extensions/jira/webhook/")
    # Only the wrong token typed on purpose was refused: every request the
    # app signed (its /myself after the claim among them) passed the checks.
    assert site.refused == ["bad API token"]
    assert any(path == "/rest/api/3/myself" for _, path, _, _ in site.requests)
