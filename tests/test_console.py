"""The console pages over falcon.testing: signing in, what each page shows,
its forms (CSRF, same origin, untouched and wrong input), and another
organization's reach."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl

import pytest

from host.api import console_page
from host.services.groups import Source
from tests.conftest import install_tiny, link_issue
from tests.contract import checked_app, served_routes
from tests.html_forms import ConsoleBrowser as Browser


@pytest.fixture
def world(host, org):
    """An organization with an integration, a linked group, a delivery that
    failed and a dead job."""
    integration = install_tiny(host, org)
    group = host.groups.create(org, "KeyError in checkout", "app.checkout")
    host.groups.add_comment(group, "Seen twice today.", Source(user=True))
    issue = link_issue(
        host, group.id, integration.id, "TINY-7", "7", "https://tiny.example/TINY-7"
    )
    host.groups.create(org, "TimeoutError in search", "app.search")
    with host.store.transaction():
        delivery = host.store.deliveries.add(integration.id, "tiny", {}, b'{"n": 1}')
        host.store.deliveries.mark(delivery, "failed", "Not a tiny document.")
    return {
        "integration": integration,
        "group": group,
        "issue": issue,
        "delivery": delivery,
    }


@pytest.fixture
def browser(client, host, org, world):
    browser = Browser(client)
    opened = browser.get("/console/acme", link=host.console.create_link(org))
    assert opened.status_code == 303
    assert opened.headers["location"] == "/console/acme"  # the token leaves the URL
    cookie = opened.cookies["tb_console"]
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/console/"
    return browser


def test_without_a_session_every_page_is_the_sign_in(client, world):
    for path in ("", "/groups", f"/groups/{world['group'].id}", "/deliveries", "/jobs"):
        page = client.simulate_get(f"/console/acme{path}")
        assert page.status_code == 401
        assert "Sign in to the console" in page.text
        assert "KeyError" not in page.text
        assert "trackbridge console --org acme" in page.text


def test_a_link_works_once(client, host, org):
    link = host.console.create_link(org)
    assert (
        client.simulate_get("/console/acme", params={"link": link}).status_code == 303
    )
    again = client.simulate_get("/console/acme", params={"link": link})
    assert again.status_code == 404
    assert "expired or was already used" in again.text


def test_signing_in_with_the_token(client, auth, world):
    browser = Browser(client)
    token = auth["Authorization"].removeprefix("Bearer ")
    wrong = browser.post(
        "/console/acme", {"_action": "signin", "token": "tb_nope"}, csrf=False
    )
    assert wrong.status_code == 401 and "tb_console" not in browser.cookies
    signed = browser.post(
        "/console/acme", {"_action": "signin", "token": token}, csrf=False
    )
    assert signed.status_code == 303 and "tb_console" in browser.cookies
    assert "KeyError in checkout" in browser.get("/console/acme/groups").text


def test_the_overview_shows_each_integrations_health(browser, world):
    page = browser.get("/console/acme")
    assert page.status_code == 200
    assert "tiny.example" in page.text
    assert "Not a tiny document." in page.text  # the last delivery failed
    assert "nothing yet: every direction is off" in page.text
    to_settings = browser.post(
        f"/console/acme/integrations/{world['integration'].id}/settings", {}
    )
    assert to_settings.status_code == 303
    assert re.match(
        rf"/settings/acme/integrations/{world['integration'].id}\?link=\S+$",
        to_settings.headers["location"],
    )


def test_a_new_webhook_secret_shows_the_new_url_once(browser, host, world):
    path = f"/console/acme/integrations/{world['integration'].id}/rotate-webhook-secret"
    rotated = browser.post(path, {})
    assert rotated.status_code == 200
    assert "Enter the new secret in Tiny Tracker." in rotated.text
    assert (
        "<pre>http://tb.example/extensions/tiny/hook/tiny.example</pre>" in rotated.text
    )
    secret = host.integrations.shared_credentials(world["integration"])["secret"]
    assert secret == "rotated-tiny-secret"
    assert "extensions/tiny/hook" not in browser.get("/console/acme").text  # once


def test_the_webhook_url_is_shown_on_a_click_only(browser, host, world):
    url = "http://tb.example/extensions/tiny/hook/tiny.example"
    assert url not in browser.get("/console/acme").text  # never on the list
    shown = browser.post(
        f"/console/acme/integrations/{world['integration'].id}/webhook-url", {}
    )
    assert shown.status_code == 200
    assert (
        f"<pre>{url}</pre>" in shown.text and "holds the webhook secret" in shown.text
    )
    refused = browser.post(
        f"/console/acme/integrations/{world['integration'].id}/webhook-url",
        {},
        csrf=False,
    )
    assert refused.status_code == 403


def test_signing_in_to_the_tracker_again_starts_its_setup(browser, client, host, world):
    integration = world["integration"]
    host.integrations.mark_needs_reauth(integration)
    overview = browser.get("/console/acme").text
    assert "refused this integration's credentials" in overview
    started = browser.post(
        f"/console/acme/integrations/{integration.id}/reauthenticate", {}
    )
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("/extensions/tiny/setup?link=")
    path, query = location.split("?")
    opened = client.simulate_get(path, query_string=query)
    assert opened.status_code == 303  # the link opened a setup of acme's


def test_removing_an_integration_asks_first_then_removes_it(browser, host, org, world):
    integration = world["integration"]
    path = f"/console/acme/integrations/{integration.id}/remove"
    asked = browser.get(path)
    assert asked.status_code == 200
    assert "1 link(s)" in asked.text and "Keep it" in asked.text
    assert host.integrations.list(org)  # asking changed nothing
    removed = browser.post(path, {})
    assert removed.status_code == 303
    after = browser.get(removed.headers["location"])
    assert "was removed." in after.text and "No integration yet" in after.text
    assert host.integrations.list(org) == []
    assert host.store.integrations.issues_for_group(world["group"].id) == []


def test_groups_are_listed_filtered_and_searched(browser, world):
    page = browser.get("/console/acme/groups")
    assert "KeyError in checkout" in page.text and "TimeoutError in search" in page.text
    assert '<a href="https://tiny.example/TINY-7">TINY-7</a>' in page.text
    found = browser.get("/console/acme/groups", q="keyerror")
    assert "KeyError in checkout" in found.text and "TimeoutError" not in found.text
    # LIKE's own characters are themselves: "100%" and "_" are no wildcards.
    assert "No group matches." in browser.get("/console/acme/groups", q="100%").text
    assert "No group matches." in browser.get("/console/acme/groups", q="_").text
    none = browser.get("/console/acme/groups", status="resolved")
    assert "No group matches." in none.text
    # An unknown status (an old bookmark) shows them all rather than failing.
    assert "KeyError" in browser.get("/console/acme/groups", status="nonsense").text


def pager_link(page, rel: str) -> str | None:
    """The pager's ``rel`` link of a page (unescaped), if it has one."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
    return html.unescape(found[1]) if found else None


def follow(browser, link: str):
    path, _, query = link.partition("?")
    return browser.get(path, **dict(parse_qsl(query)))


def test_groups_are_paged_with_the_filter_kept(browser, host, org, monkeypatch):
    monkeypatch.setattr(console_page, "PAGE_ROWS", 2)
    for n in range(3):
        host.groups.create(org, f"Crash {n}", "app.py")
    first = browser.get("/console/acme/groups", q="crash")
    assert "Crash 0" in first.text and "Crash 1" in first.text
    assert "Crash 2" not in first.text and pager_link(first, "prev") is None
    assert "Next 2 →" in first.text and "Groups 1 to 2." in first.text
    second = follow(browser, pager_link(first, "next"))
    assert second.status_code == 200
    assert "Crash 2" in second.text and "Crash 1" not in second.text
    assert "Groups 3 to 3." in second.text and pager_link(second, "next") is None
    # Back to the first page: its link has the filter, not a page number.
    assert pager_link(second, "prev") == "/console/acme/groups?q=crash"
    # Links from old bookmarks or typed by hand: the first page, or an empty
    # page past the end with the way back; never an error.
    for page in ("0", "-1", "x", "²", str(10**30)):
        shown = browser.get("/console/acme/groups", q="crash", page=page)
        assert shown.status_code == 200 and "Crash 0" in shown.text, page
    past = browser.get("/console/acme/groups", page=str(10**8))
    assert past.status_code == 200 and "No group on this page." in past.text
    assert pager_link(past, "prev") == f"/console/acme/groups?page={10**8 - 1}"


def test_deliveries_and_dead_letters_are_paged_newest_first(
    browser, host, world, clock, monkeypatch
):
    monkeypatch.setattr(console_page, "PAGE_ROWS", 2)
    integration = world["integration"]
    with host.store.transaction():
        for n in range(2, 6):
            delivery = host.store.deliveries.add(
                integration.id, "tiny", {}, f'{{"n": {n}}}'.encode()
            )
            host.store.deliveries.mark(delivery, "failed", f"Broken document {n}.")
    newest = browser.get("/console/acme/deliveries", status="failed")
    assert "Broken document 5." in newest.text and "Broken document 4." in newest.text
    assert "Broken document 3." not in newest.text
    assert pager_link(newest, "prev") is None
    older = follow(browser, pager_link(newest, "next"))
    assert "Broken document 3." in older.text and "Broken document 2." in older.text
    assert "Broken document 4." not in older.text
    oldest = follow(browser, pager_link(older, "next"))
    assert "Not a tiny document." in oldest.text and "Broken" not in oldest.text
    assert pager_link(oldest, "next") is None
    # Each link keeps the filter; the way back is to the newest.
    assert pager_link(oldest, "prev") == "/console/acme/deliveries?status=failed"
    past = browser.get("/console/acme/deliveries", status="failed", before="1")
    assert "No older delivery failed." in past.text
    # A row's action comes back to the page and filter it was on.
    older_link = pager_link(newest, "next")
    again = browser.post(older_link, {"delivery": str(world["delivery"])})
    assert again.status_code == 303
    assert again.headers["location"] == older_link + "&done=Queued+to+be+applied+again."

    host.jobs.handlers["broken"] = lambda host, payload: 1 / 0
    for n in range(3):
        job_id = host.jobs.enqueue("broken", {"integration_id": integration.id, "n": n})
        for _ in range(host.config.jobs.max_attempts):
            host.store.jobs.claim("w", now=clock(), lease_seconds=1)
            host.store.jobs.bury(job_id, "w", 1, f"ZeroDivisionError {n}")
    jobs = browser.get("/console/acme/jobs")
    assert "ZeroDivisionError 2" in jobs.text and "ZeroDivisionError 0" not in jobs.text
    rest = follow(browser, pager_link(jobs, "next"))
    assert "ZeroDivisionError 0" in rest.text and "ZeroDivisionError 2" not in rest.text
    assert pager_link(rest, "next") is None
    assert pager_link(rest, "prev") == "/console/acme/jobs"


def test_a_groups_page_comments_and_unlinks(browser, host, world):
    path = f"/console/acme/groups/{world['group'].id}"
    page = browser.get(path)
    assert "Seen twice today." in page.text and "TINY-7" in page.text
    untouched = browser.post(path, {"_action": "comment", "text": "  "})
    assert untouched.status_code == 400
    assert 'role="alert" id="error-summary"' in untouched.text
    assert 'aria-invalid="true" aria-describedby="e-text"' in untouched.text
    added = browser.post(path, {"_action": "comment", "text": "On it."})
    assert added.status_code == 303
    assert "Comment added." in browser.get(added.headers["location"]).text
    assert [c["text"] for c in host.groups.comments(world["group"])][-1] == "On it."
    unlinked = browser.post(path, {"_action": "unlink", "issue": str(world["issue"])})
    assert unlinked.status_code == 303
    assert host.store.integrations.issues_for_group(world["group"].id) == []
    gone = browser.post(path, {"_action": "unlink", "issue": "nonsense"})
    assert gone.status_code == 404


def test_a_groups_page_links_an_existing_issue(browser, host, world):
    path = f"/console/acme/groups/{world['group'].id}"
    integration = str(world["integration"].id)
    untouched = browser.post(path, {"_action": "link", "integration": integration})
    assert untouched.status_code == 400
    assert "Enter the key of the issue, such as PRJ-12." in untouched.text
    assert 'aria-invalid="true" aria-describedby="e-key"' in untouched.text
    missing = browser.post(
        path, {"_action": "link", "integration": integration, "key": "MISSING-1"}
    )
    assert missing.status_code == 404
    assert "Issue MISSING-1 does not exist." in missing.text
    assert 'value="MISSING-1"' in missing.text  # what was typed stays
    linked = browser.post(
        path, {"_action": "link", "integration": integration, "key": "TINY-9"}
    )
    assert linked.status_code == 303
    assert "TINY-9 linked." in browser.get(linked.headers["location"]).text
    keys = [i.key for i in host.store.integrations.issues_for_group(world["group"].id)]
    assert keys == ["TINY-7", "TINY-9"]


def test_deliveries_are_reprocessed_and_dead_jobs_retried(browser, host, world, clock):
    log = browser.get("/console/acme/deliveries", status="failed")
    assert "Not a tiny document." in log.text
    again = browser.post(
        "/console/acme/deliveries", {"delivery": str(world["delivery"])}
    )
    assert again.status_code == 303
    assert host.store.deliveries.get(world["delivery"]).status == "received"
    host.jobs.handlers["broken"] = lambda host, payload: 1 / 0
    job_id = host.jobs.enqueue("broken", {"integration_id": world["integration"].id})
    for _ in range(host.config.jobs.max_attempts):
        host.store.jobs.claim("w", now=clock(), lease_seconds=1)
        host.store.jobs.bury(job_id, "w", 1, "ZeroDivisionError: division by zero")
    jobs = browser.get("/console/acme/jobs")
    assert "ZeroDivisionError" in jobs.text
    retried = browser.post("/console/acme/jobs", {"job": str(job_id)})
    assert retried.status_code == 303
    assert host.store.jobs.get(job_id)["state"] == "queued"
    twice = browser.post("/console/acme/jobs", {"job": str(job_id)})
    assert twice.status_code == 409 and 'role="alert"' in twice.text


def test_tokens_are_made_shown_once_and_revoked(browser, host, org, client):
    page = browser.get("/console/acme/tokens")
    assert page.status_code == 200 and "Make a token" in page.text
    wrong = browser.post(
        "/console/acme/tokens", {"_action": "create", "label": "ci", "expires": "soon"}
    )
    assert wrong.status_code == 400
    assert 'id="error-summary"' in wrong.text and 'aria-invalid="true"' in wrong.text
    assert 'value="soon"' in wrong.text  # what was typed stays
    untouched = browser.post("/console/acme/tokens", {"_action": "create"})
    assert untouched.status_code == 200
    made = re.search(r"<pre>(tb_[^<]+)</pre>", untouched.text)[1]
    answer = client.simulate_get(
        "/api/0/organizations/acme", headers={"Authorization": f"Bearer {made}"}
    )
    assert answer.status_code == 200
    listed = browser.get("/console/acme/tokens")
    assert made not in listed.text and f"{made[:8]}…" in listed.text  # once only
    (token_id,) = [
        t["id"] for t in host.organizations.tokens(org) if t["prefix"] == made[:8]
    ]
    revoked = browser.post("/console/acme/tokens", {"token": str(token_id)})
    assert revoked.status_code == 303
    answer = client.simulate_get(
        "/api/0/organizations/acme", headers={"Authorization": f"Bearer {made}"}
    )
    assert answer.status_code == 401
    expiring = browser.post(
        "/console/acme/tokens", {"_action": "create", "label": "ci", "expires": "12h"}
    )
    assert expiring.status_code == 200
    assert [
        t["expires_at"] is not None
        for t in host.organizations.tokens(org)
        if t["label"] == "ci"
    ] == [True]


def test_hooks_show_their_attempts_and_send_again(browser, host, org, run_jobs):
    assert "No webhook yet." in browser.get("/console/acme/hooks").text
    made, _ = host.hooks.create(org, {"url": "http://127.0.0.1:9/hook"})
    host.groups.create(org, "Sent somewhere", "")
    run_jobs()  # nothing listens on port 9: the attempt fails
    (attempt, *_) = host.hooks.attempts(org, made["id"], 10, None)
    page = browser.get("/console/acme/hooks")
    assert "http://127.0.0.1:9/hook" in page.text
    assert f"evt_{attempt['event_id']}" in page.text
    assert "no answer" in page.text
    again = browser.post(
        "/console/acme/hooks", {"hook": str(made["id"]), "attempt": str(attempt["id"])}
    )
    assert again.status_code == 303
    assert "Queued to be sent again." in browser.get(again.headers["location"]).text
    wrong = browser.post(
        "/console/acme/hooks", {"hook": "999", "attempt": str(attempt["id"])}
    )
    assert wrong.status_code == 404 and 'role="alert"' in wrong.text


def test_hooks_are_made_turned_off_and_on_and_removed(browser, host, org):
    page = browser.get("/console/acme/hooks")
    assert "Make a webhook" in page.text and 'value="group.created"' in page.text
    untouched = browser.post("/console/acme/hooks", {"_action": "create"})
    assert untouched.status_code == 400 and 'id="error-summary"' in untouched.text
    assert 'id="f-url"' in untouched.text and 'aria-invalid="true"' in untouched.text
    url = "http://127.0.0.1:9/hook"
    wrong = browser.post(
        "/console/acme/hooks",
        {"_action": "create", "url": url, "events": ["group.created", "nonsense"]},
    )
    assert wrong.status_code == 400 and "Unknown event type(s): nonsense." in wrong.text
    assert f'value="{url}"' in wrong.text  # what was typed stays
    assert 'value="group.created" checked' in wrong.text
    assert host.hooks.list(org) == []
    made = browser.post(
        "/console/acme/hooks",
        {"_action": "create", "url": url, "events": ["group.created", "link.created"]},
    )
    assert made.status_code == 200
    secret = re.search(r"<pre>([^<]+)</pre>", made.text)[1]
    [hook] = host.hooks.list(org)
    assert hook["url"] == url and hook["events"] == ["group.created", "link.created"]
    assert secret not in browser.get("/console/acme/hooks").text  # shown once
    hook_id = str(hook["id"])

    off = browser.post("/console/acme/hooks", {"_action": "off", "hook": hook_id})
    assert off.status_code == 303 and not host.hooks.get(org, hook["id"])["active"]
    assert "Turned off" in browser.get(off.headers["location"]).text
    on = browser.post("/console/acme/hooks", {"_action": "on", "hook": hook_id})
    assert on.status_code == 303 and host.hooks.get(org, hook["id"])["active"]
    # Another organization's hook is no object here.
    other = host.organizations.create("other", "Other")
    theirs, _ = host.hooks.create(other, {"url": "http://127.0.0.1:9/theirs"})
    for action in ("off", "remove"):
        refused = browser.post(
            "/console/acme/hooks", {"_action": action, "hook": str(theirs["id"])}
        )
        assert refused.status_code == 404 and 'role="alert"' in refused.text
    assert host.hooks.get(other, theirs["id"])["active"]
    gone = browser.post("/console/acme/hooks", {"_action": "remove", "hook": hook_id})
    assert gone.status_code == 303 and host.hooks.list(org) == []
    assert "No webhook yet." in browser.get("/console/acme/hooks").text


def test_forms_need_their_token_and_this_host(browser, world):
    path = f"/console/acme/groups/{world['group'].id}"
    forged = browser.post(path, {"_action": "comment", "text": "x"}, csrf=False)
    assert forged.status_code == 403
    cross = browser.post(
        path,
        {"_action": "comment", "text": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403


def console_routes(host) -> dict[str, set[str]]:
    """Every console page the app serves (``{slug}``, ``{group_id}``,
    ``{integration_id}`` left to fill) -> its methods: a new page cannot
    skip the sweep below."""
    found = {}
    for template, methods in served_routes(checked_app(host)).items():
        if template.startswith("/console/{slug}"):
            found[template.replace(":id}", "}")] = {m.upper() for m in methods}
    return found


def test_another_organization_reaches_nothing(client, host, world):
    other = host.organizations.create("other")
    theirs = Browser(client)
    theirs.get("/console/other", link=host.console.create_link(other))
    ids = {"group_id": world["group"].id, "integration_id": world["integration"].id}
    pages = console_routes(host)
    assert len(pages) >= 12  # the walk found the console
    for template, methods in pages.items():
        for method in methods:
            # Their session on our URLs: the sign-in page, never our data.
            ours = template.format(slug="acme", **ids)
            answer = (
                theirs.get(ours)
                if method == "GET"
                else theirs.post(ours, {"_action": "comment", "text": "x"})
            )
            assert answer.status_code == 401, (method, template)
            assert "KeyError" not in answer.text and "tiny.example" not in answer.text
            # Our objects under their URL: 404.
            if "{group_id}" in template or "{integration_id}" in template:
                mine = template.format(slug="other", **ids)
                answer = theirs.get(mine) if method == "GET" else theirs.post(mine, {})
                assert answer.status_code == 404, (method, template)
    # Our objects under their URL: 404, and nothing changed.
    assert theirs.get(f"/console/other/groups/{world['group'].id}").status_code == 404
    posted = theirs.post(
        f"/console/other/groups/{world['group'].id}",
        {"_action": "comment", "text": "x"},
    )
    assert posted.status_code == 404
    assert (
        theirs.post(
            "/console/other/deliveries", {"delivery": str(world["delivery"])}
        ).status_code
        == 404
    )
    integration_id = world["integration"].id
    for action in (
        "settings",
        "rotate-webhook-secret",
        "webhook-url",
        "reauthenticate",
        "remove",
    ):
        path = f"/console/other/integrations/{integration_id}/{action}"
        answer = theirs.post(path, {})
        assert answer.status_code == 404, action
        assert "tiny.example" not in answer.text and "hook/" not in answer.text
    assert (
        theirs.get(f"/console/other/integrations/{integration_id}/remove").status_code
        == 404
    )
    assert host.integrations.get(host.organizations.get("acme"), integration_id)
    assert host.integrations.shared_credentials(world["integration"])["secret"] == (
        "tiny-secret"
    )
    assert len(host.groups.comments(world["group"])) == 1
    assert "tiny.example" not in theirs.get("/console/other").text


def test_the_console_command_prints_a_working_link(client, host, org, config):
    from click.testing import CliRunner

    from host.cli import CliContext, build_cli

    context = CliContext(config, host.pm)
    context._host = host
    printed = CliRunner().invoke(
        build_cli(host.pm), ["console", "--org", "acme"], obj=context
    )
    assert printed.exit_code == 0, printed.output
    url = printed.output.splitlines()[-1]
    assert url.startswith("http://tb.example/console/acme?link=")
    opened = client.simulate_get("/console/acme", query_string=url.split("?", 1)[1])
    assert opened.status_code == 303
