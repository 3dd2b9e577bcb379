"""Every HTML form, forged: posted from another site, without its CSRF token,
or with another session's token. Each is refused with 403 and changes
nothing; the same post made properly succeeds (so the refusal is the check,
not a broken form)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from host.api.pages import csrf_token
from tests.conftest import install_tiny

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SETUP = "/extensions/tiny/setup"
EVIL = [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]
#: The console overview's buttons, each a POST route of its own.
BUTTONS = (
    "settings",
    "reauthenticate",
    "webhook-url",
    "rotate-webhook-secret",
    "remove",
)

#: Every route outside the API that takes a POST, and what guards it.
POST_ROUTES = {
    "/extensions/{provider_slug}/setup": "form: same origin, CSRF token",
    "/settings/{slug}/integrations/{integration_id:id}": "form: same origin, CSRF",
    "/extensions/{provider_slug}/{path:path}": "webhook: the provider's auth",
    "/internal/replicate": "the control node's signature",
    **dict.fromkeys(
        (
            "/console/{slug}",
            "/console/{slug}/groups",
            "/console/{slug}/groups/{group_id:id}",
            "/console/{slug}/deliveries",
            "/console/{slug}/jobs",
            "/console/{slug}/tokens",
            "/console/{slug}/hooks",
            "/console/{slug}/groups/{group_id:id}/create",
            *(
                f"/console/{{slug}}/integrations/{{integration_id:id}}/{action}"
                for action in BUTTONS
            ),
        ),
        "form: same origin, CSRF (and the sign-in form: same origin)",
    ),
}


def post_routes(app) -> set[str]:
    found = set()

    def walk(nodes):
        for node in nodes:
            if (
                node.resource is not None
                and not node.uri_template.startswith("/api/")
                and hasattr(node.resource, "on_post")
            ):
                found.add(node.uri_template)
            walk(node.children)

    walk(app._router._roots)
    return found


@pytest.fixture
def token(host, org):
    return host.organizations.create_token(org)


@pytest.fixture
def integration(host, org):
    return install_tiny(host, org)


@pytest.fixture
def post(client):
    def send(path, data, cookie=None, **headers):
        if cookie:
            headers["Cookie"] = cookie
        return client.simulate_post(
            path, body=urlencode(data), headers={**FORM, **headers}
        )

    return send


def settings_path(integration) -> str:
    return f"/settings/acme/integrations/{integration.id}"


def test_the_sweep_knows_every_post_route(client):
    assert post_routes(client.app) == set(POST_ROUTES)


def test_the_setup_start_form(post, host, token):
    start = {"_action": "start", "org": "acme", "token": token}
    for headers in EVIL:
        refused = post(SETUP, start, **headers)
        assert refused.status_code == 403
        assert "posted from another site" in refused.json["detail"]
        assert "tb_setup" not in refused.cookies
    pipelines = host.store.db.execute("SELECT count(*) FROM setup_pipelines")
    assert pipelines.fetchone()[0] == 0
    same_site = post(SETUP, start, Origin="http://tb.example")
    assert same_site.status_code == 303 and "tb_setup" in same_site.cookies


def test_the_setup_step_form(post, host, token):
    started = post(SETUP, {"_action": "start", "org": "acme", "token": token})
    pipeline = started.cookies["tb_setup"].value
    cookie = f"tb_setup={pipeline}"
    step = {"url": "https://tiny.example", "secret": "long enough secret"}
    forged = [
        ({**step, "_csrf": csrf_token(pipeline)}, EVIL[0]),
        ({**step, "_csrf": csrf_token(pipeline)}, EVIL[1]),
        (step, {}),
        ({**step, "_csrf": csrf_token("another session")}, {}),
    ]
    for data, headers in forged:
        assert post(SETUP, data, cookie, **headers).status_code == 403
    assert host.store.integrations.get(1) is None
    done = post(SETUP, {**step, "_csrf": csrf_token(pipeline)}, cookie)
    assert done.status_code == 200 and "is installed" in done.text


def test_the_settings_sign_in_form(post, token, integration):
    sign_in = {"_action": "signin", "token": token}
    for headers in EVIL:
        refused = post(settings_path(integration), sign_in, **headers)
        assert refused.status_code == 403
        assert "tb_session" not in refused.cookies
    signed_in = post(settings_path(integration), sign_in)
    assert "tb_session" in signed_in.cookies


def test_the_settings_form(post, host, org, token, integration):
    signed_in = post(settings_path(integration), {"_action": "signin", "token": token})
    session = signed_in.cookies["tb_session"].value
    cookie = f"tb_session={session}"
    save = {"_action": "save", "_booleans": "sync_comments", "sync_comments": "true"}
    forged = [
        ({**save, "_csrf": csrf_token(session)}, EVIL[0]),
        ({**save, "_csrf": csrf_token(session)}, EVIL[1]),
        (save, {}),
        ({**save, "_csrf": csrf_token("another session")}, {}),
    ]
    for data, headers in forged:
        refused = post(settings_path(integration), data, cookie, **headers)
        assert refused.status_code == 403
    assert host.integrations.get(org, integration.id)[1].config == {}
    saved = post(
        settings_path(integration), {**save, "_csrf": csrf_token(session)}, cookie
    )
    assert saved.status_code == 303
    assert host.integrations.get(org, integration.id)[1].config["sync_comments"]


def test_every_console_form(post, host, org, token, integration):
    """Each console form, forged three ways: 403 and nothing changed; then
    made properly: done."""
    signed_in = post("/console/acme", {"_action": "signin", "token": token})
    session = signed_in.cookies["tb_console"].value
    cookie = f"tb_console={session}"
    group = host.groups.create(org, "KeyError", "")
    forms = {
        "/console/{slug}": {},
        "/console/{slug}/groups": {},
        "/console/{slug}/groups/{group_id:id}": {"_action": "comment", "text": "x"},
        "/console/{slug}/groups/{group_id:id}/create": {
            "integration": str(integration.id),
            "_action": "create",
            "title": "forged",
        },
        "/console/{slug}/deliveries": {"delivery": "1"},
        "/console/{slug}/jobs": {"job": "1"},
        "/console/{slug}/tokens": {"_action": "create", "label": "forged"},
        "/console/{slug}/hooks": {"attempt": "1", "hook": "1"},
        **{
            f"/console/{{slug}}/integrations/{{integration_id:id}}/{action}": {}
            for action in BUTTONS
        },
    }
    console = {r for r in POST_ROUTES if r.startswith("/console/")}
    assert set(forms) == console, "a console form the sweep does not forge"
    for template, form in forms.items():
        path = (
            template.replace("{slug}", "acme")
            .replace("{group_id:id}", str(group.id))
            .replace("{integration_id:id}", str(integration.id))
        )
        forged = [
            ({**form, "_csrf": csrf_token(session)}, EVIL[0]),
            ({**form, "_csrf": csrf_token(session)}, EVIL[1]),
            (form, {}),
            ({**form, "_csrf": csrf_token("another session")}, {}),
        ]
        for data, headers in forged:
            assert post(path, data, cookie, **headers).status_code == 403, path
    assert host.groups.comments(group) == []
    assert [t["label"] for t in host.organizations.tokens(org)] == [""]
    assert host.integrations.list(org)  # not removed
    assert host.integrations.shared_credentials(integration)["secret"] == "tiny-secret"
    assert host.store.integrations.issues_for_group(group.id) == []  # none created
    links = host.store.db.execute("SELECT count(*) FROM setup_links").fetchone()[0]
    done = post(
        f"/console/acme/groups/{group.id}",
        {"_action": "comment", "text": "x", "_csrf": csrf_token(session)},
        cookie,
    )
    assert done.status_code == 303
    assert [c["text"] for c in host.groups.comments(group)] == ["x"]
    # Only the proper post made a settings link.
    settings = post(
        f"/console/acme/integrations/{integration.id}/settings",
        {"_csrf": csrf_token(session)},
        cookie,
    )
    assert settings.status_code == 303
    after = host.store.db.execute("SELECT count(*) FROM setup_links").fetchone()[0]
    assert after == links + 1
