"""The whole install in a real browser: headless Chromium driven by Playwright.

Real ``trackbridge serve`` (the Jira Server plugin loaded from its entry
point), the fake Jira on loopback, and Debian's Chromium. The browser fills
the form, is sent to Jira's authorize page, clicks Allow, comes back through
the callback URL, and sees the installed integration.
"""

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.servers import free_port, serving

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install chromium);"
        " .ci/run installs it",
    ),
]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_install_jira_server_in_a_browser(tmp_path, jira, key_pair):
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    config = tmp_path / "config.ini"
    config.write_text(
        f"[host]\ndatabase = tb.db\npublic_url = http://127.0.0.1:{port}\n"
    )
    env = {"TRACKBRIDGE_CONFIG": str(config)}
    run_cli(env, "org", "create", "acme")
    link = run_cli(env, "install", "jira_server", "--org", "acme").splitlines()[1]
    assert link.startswith(
        f"http://127.0.0.1:{port}/extensions/jira-server/setup/?link="
    )

    with serving(env, port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(link)
            expect(page.get_by_role("heading")).to_have_text("Connect to Jira Server")
            page.fill("#f-url", jira.url)
            page.select_option("#f-auth_mode", "token")
            expect(page.locator("#f-personal_access_token")).to_be_visible()
            expect(page.locator("#f-private_key")).to_be_hidden()
            page.select_option("#f-auth_mode", "oauth")
            expect(page.locator("#f-personal_access_token")).to_be_hidden()
            page.fill("#f-consumer_key", "trackbridge")
            page.fill("#f-private_key", key_pair[0])
            page.click("button[type=submit]")

            expect(page.locator("dl.copy")).to_contain_text("Consumer callback URL")
            expect(page.locator("dl.copy")).to_contain_text(key_pair[1].splitlines()[1])
            page.click("button[type=submit]")  # off to Jira

            page.wait_for_url(f"{jira.url}/plugins/servlet/oauth/authorize*")
            page.click("#approve")  # Jira sends the browser back to the callback

            expect(page.locator("dl.copy")).to_contain_text("Webhook URL")
            page.select_option("#f-webhook_mode", "automatic")
            page.click("button[type=submit]")
            expect(page.get_by_role("status")).to_contain_text("is installed and ready")
            page.screenshot(path=str(tmp_path / "installed.png"))
        finally:
            browser.close()

    [webhook] = jira.webhooks.values()
    assert webhook["url"].startswith(
        f"http://127.0.0.1:{port}/extensions/jira-server/issue-updated/"
    )
    assert "trackbridge" in run_cli(env, "plugins")
