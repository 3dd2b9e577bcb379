"""The install and the settings page in a real browser (headless Chromium).

Real ``trackbridge serve`` (the Jira Server plugin loaded from its entry
point), the fake Jira on loopback, and Debian's Chromium driven by
Playwright. The install: the browser fills the form, is sent to Jira's
authorize page, clicks Allow, comes back through the callback URL, and sees
the installed integration. The settings: it opens the one-time link, turns
toggles on, adds a project's status mapping and saves.
"""

import json
import urllib.request

from tests.browser import MARKS, chromium, fits, host_with_acme, shot
from tests.conftest import run_cli
from tests.fake_jira_create import add_project
from tests.servers import serving

pytestmark = MARKS


def test_install_jira_server_in_a_browser(tmp_path, jira, key_pair):
    from playwright.sync_api import expect

    port, env = host_with_acme(tmp_path)
    link = run_cli(env, "install", "jira_server", "--org", "acme").splitlines()[1]
    assert link.startswith(
        f"http://127.0.0.1:{port}/extensions/jira-server/setup/?link="
    )

    with serving(env, port), chromium() as browser:
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
        expect(page.get_by_role("status")).to_contain_text("is installed")
        page.screenshot(path=str(shot("install-done")), full_page=True)

    [webhook] = jira.webhooks.values()
    assert webhook["url"].startswith(
        f"http://127.0.0.1:{port}/extensions/jira-server/issue-updated/"
    )
    assert "trackbridge" in run_cli(env, "plugins")


def tab_to(page, selector: str, limit: int = 25) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would
    (fails if it cannot be reached)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_install_with_the_keyboard_only_at_phone_width(tmp_path, jira):
    """Token mode and a webhook added by hand: every step reached and sent
    with Tab, typing, arrow keys and Enter; no mouse."""
    from playwright.sync_api import expect

    jira.personal_tokens["pat-9"] = "svc"
    port, env = host_with_acme(tmp_path)
    link = run_cli(env, "install", "jira_server", "--org", "acme").splitlines()[1]
    with serving(env, port), chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(link)
        expect(page.locator(".step")).to_have_text("Jira Server · step 1")
        tab_to(page, "#f-url")
        page.keyboard.type(jira.url)
        tab_to(page, "#f-auth_mode")
        page.keyboard.press("ArrowDown")  # OAuth → personal access token
        expect(page.locator("#f-personal_access_token")).to_be_visible()
        tab_to(page, "#f-personal_access_token")
        page.keyboard.type("wrong")
        fits(page, "setup")
        page.screenshot(path=str(shot("install-step-1")), full_page=True)
        page.keyboard.press("Enter")
        # Refused: the summary says why, and its link leads back to the field.
        expect(page.get_by_role("alert").first).to_be_visible()
        tab_to(page, "#f-personal_access_token")
        page.keyboard.type("pat-9")
        page.keyboard.press("Enter")
        expect(page.locator(".step")).to_have_text("Jira Server · step 2 of 2")
        tab_to(page, "#f-webhook_mode")
        page.keyboard.press("ArrowDown")  # → added by hand
        tab_to(page, "button:not(.secondary)")  # Enter on a select sends nothing
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text(
            "waiting for its first webhook"
        )
        expect(page.locator("dl.copy")).to_contain_text("Webhook URL")
        fits(page, "installed")
        page.screenshot(path=str(shot("install-waiting")), full_page=True)
        tab_to(page, "a[href*='/settings/acme/']")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Jira Server settings"
        )
    assert jira.webhooks == {}


def test_change_settings_in_a_browser(tmp_path, jira):
    from playwright.sync_api import expect

    jira.personal_tokens["pat-9"] = "svc"
    add_project(jira, "PRJ", "10000", "Checkout", statuses=("1", "3", "5"))
    add_project(jira, "OPS", "10002", "Operations", statuses=("10000", "10001"))
    port, env = host_with_acme(tmp_path)
    run_cli(
        env,
        *("install", "jira_server", "--org", "acme", "--terminal"),
        *("--set", f"url={jira.url}", "--set", "auth_mode=token"),
        input="y\n\npat-9\nmanual\n",
    )
    link = run_cli(env, "settings", "1", "--org", "acme").splitlines()[1]
    token = run_cli(env, "token", "create", "--org", "acme").strip()

    with serving(env, port), chromium() as browser:
        page = browser.new_page()
        page.goto(link)
        expect(page.get_by_role("heading")).to_have_text("Jira Server settings")
        page.get_by_label("Send comments to the tracker").check()
        page.get_by_label("Send resolve / unresolve to the tracker").check()
        mapping = page.locator("#field-sync_status_forward_mapping")
        mapping.get_by_label("Project to add").select_option(
            label="PRJ \u2013 Checkout"
        )
        mapping.get_by_role("button", name="Add project").click()
        # The row is there, with PRJ's own statuses; the toggles kept.
        expect(page.get_by_label("Send comments to the tracker")).to_be_checked()
        mapping = page.locator("#field-sync_status_forward_mapping")
        mapping.get_by_label("When resolved (PRJ \u2013 Checkout)").select_option(
            label="Resolved"
        )
        page.get_by_role("button", name="Save").click()
        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("Not saved: check these fields.")
        # The summary's entry leads to the field (for keyboard and reader users).
        summary.get_by_role("link").click()
        assert page.url.endswith("#f-sync_status_forward_mapping")
        mapping = page.locator("#field-sync_status_forward_mapping")
        expect(mapping.locator(".field-error")).to_contain_text(
            "Resolve and unresolve status are required."
        )
        mapping.get_by_label("When unresolved (PRJ \u2013 Checkout)").select_option(
            label="In Progress"
        )
        page.get_by_label("Members and their Jira users").fill(
            "ann@example.com = ann.k"
        )
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        page.screenshot(path=str(shot("settings")), full_page=True)

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/0/organizations/acme/integrations/1",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            config = json.load(response)["config"]
    assert config["sync_comments"] is True
    assert config["sync_status_forward"] is True
    assert config["sync_reverse_assignment"] is False
    assert config["sync_status_forward_mapping"] == {
        "10000": {"on_resolve": "5", "on_unresolve": "3"}
    }
    assert config["user_mappings"] == {"ann@example.com": "ann.k"}


def test_the_console_in_a_browser_at_desktop_and_phone_width(tmp_path, jira):
    from playwright.sync_api import expect

    jira.personal_tokens["pat-9"] = "svc"
    port, env = host_with_acme(tmp_path)
    run_cli(
        env,
        *("install", "jira_server", "--org", "acme", "--terminal", "--no-input"),
        *("--set", f"url={jira.url}", "--set", "auth_mode=token"),
        *("--set", "personal_access_token=pat-9", "--set", "webhook_mode=manual"),
    )
    token = run_cli(env, "token", "create", "--org", "acme").strip()
    add_project(jira, "PRJ", "10000", "Checkout")

    with serving(env, port), chromium() as browser:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/0/organizations/acme/groups",
            data=json.dumps({"title": "KeyError in checkout"}).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            group_id = json.load(response)["id"]
        for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
            link = run_cli(env, "console", "--org", "acme").splitlines()[1]
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(link)
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "acme: integrations"
            )
            expect(page.locator("section.card")).to_contain_text(
                "waiting for first webhook"
            )
            expect(page.locator("section.card")).to_contain_text("nothing yet")
            fits(page, name)
            page.screenshot(path=str(shot(f"console-{name}")))

            page.get_by_role("link", name="Groups").click()
            page.get_by_role("link", name="KeyError in checkout").click()
            page.get_by_role("button", name="Comment").click()  # untouched
            expect(page.get_by_role("alert")).to_contain_text("not added")
            expect(page.get_by_label("Add a comment")).to_have_attribute(
                "aria-invalid", "true"
            )
            page.get_by_label("Add a comment").fill(f"Seen on {name}.")
            page.get_by_role("button", name="Comment").click()
            expect(page.get_by_role("status")).to_have_text("Comment added.")
            expect(page.locator("section.card").last).to_contain_text(
                f"Seen on {name}."
            )
            assert page.url.startswith(
                f"http://127.0.0.1:{port}/console/acme/groups/{group_id}"
            )
            page.screenshot(path=str(shot(f"console-group-{name}")))

            # A new Jira issue through the provider's create form.
            page.get_by_role("button", name="New issue…").click()
            expect(page.get_by_label("Jira project")).to_be_visible()
            page.get_by_label("Jira project").select_option(label="PRJ \u2013 Checkout")
            expect(page.get_by_label("Issue type")).to_be_visible()  # form updated
            page.get_by_role("button", name="Create and link").click()
            expect(page.get_by_role("status")).to_contain_text("created and linked")
            expect(page.get_by_role("link", name="PRJ-1")).to_be_visible()

            for section in ("Deliveries", "Dead letters", "Webhooks out", "API tokens"):
                page.get_by_role("link", name=section).click()
                expect(page.locator("nav [aria-current=page]")).to_have_text(section)
                fits(page, f"{section} ({name})")
            page.screenshot(path=str(shot(f"console-tokens-{name}")))

            # Removing asks first; keeping it changes nothing.
            page.get_by_role("link", name="Integrations").click()
            page.get_by_role("link", name="Remove…").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Remove")
            fits(page, f"remove ({name})")
            page.get_by_role("link", name="Keep it").click()
            expect(page.locator("section.card")).to_be_visible()

            page.get_by_role("link", name="Integrations").click()
            page.get_by_role("button", name="Settings").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Jira Server settings"
            )
            page.close()
