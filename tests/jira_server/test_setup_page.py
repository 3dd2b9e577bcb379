"""The browser setup pages over falcon.testing, against the fake Jira."""

import re
from urllib.parse import urlencode, urlsplit

import pytest
import requests

PAGE = "/extensions/jira-server/setup/"


class Browser:
    """Just enough of a browser: a cookie jar and form posts."""

    def __init__(self, client):
        self.client = client
        self.cookies: dict[str, str] = {}

    def _headers(self, extra=None):
        jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**({"Cookie": jar} if jar else {}), **(extra or {})}

    def _keep(self, result):
        for name, cookie in result.cookies.items():
            if cookie.value:
                self.cookies[name] = cookie.value
            else:
                self.cookies.pop(name, None)
        return result

    def get(self, path, **params):
        return self._keep(
            self.client.simulate_get(
                path, params=params or None, headers=self._headers()
            )
        )

    def post(self, path, data, csrf=True):
        if csrf:
            page = self.get(PAGE).text
            data = {**hidden_inputs(page), **data}
        return self._keep(
            self.client.simulate_post(
                path,
                body=urlencode(data),
                headers=self._headers(
                    {"Content-Type": "application/x-www-form-urlencoded"}
                ),
            )
        )


def hidden_inputs(page: str) -> dict:
    """The hidden inputs of the page's first form (the step's own; a
    "Start over" form may follow)."""
    first = page.split("</form>", 1)[0]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', first))


@pytest.fixture
def browser(client, jira_host, org):
    browser = Browser(client)
    link = jira_host.setup.create_link(org, "jira_server")
    opened = browser.get(PAGE, link=link)
    assert opened.status_code == 303
    assert opened.headers["location"].endswith(PAGE)
    cookie = opened.cookies["tb_setup"]
    assert (
        cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/extensions/"
    )
    return browser


def test_the_full_browser_flow_installs(browser, jira, key_pair, jira_host):
    form = browser.get(PAGE)
    assert form.status_code == 200
    assert "Jira URL" in form.text and "step 1<" in form.text
    # The callback belongs with the Application Link's values (OAuth only).
    assert "http://tb.example/extensions/jira-server/setup/" not in form.text

    sent = browser.post(
        PAGE,
        {
            "url": jira.url,
            "auth_mode": "oauth",
            "consumer_key": "trackbridge",
            "private_key": key_pair[0],
            "verify_ssl": "true",
        },
    )
    assert sent.status_code == 303
    authorize = browser.get(PAGE).text
    assert "Consumer callback URL" in authorize and "step 2 of 3" in authorize
    assert "http://tb.example/extensions/jira-server/setup/" in authorize
    assert key_pair[1].splitlines()[1] in authorize  # the public key, to copy
    assert key_pair[0].splitlines()[1] not in authorize  # never the private key

    to_jira = browser.post(PAGE, {})
    assert to_jira.status_code == 303
    location = to_jira.headers["location"]
    assert location.startswith(f"{jira.url}/plugins/servlet/oauth/authorize")
    approved = requests.post(location, allow_redirects=False).headers["Location"]
    callback = urlsplit(approved)
    assert (
        f"{callback.scheme}://{callback.netloc}{callback.path}"
        == f"http://tb.example{PAGE}"
    )

    back = browser.get(callback.path + "?" + callback.query)
    assert back.status_code == 303
    assert "Webhook URL" in browser.get(PAGE).text
    done = browser.post(PAGE, {"webhook_mode": "automatic"})
    assert done.status_code == 200
    assert "is installed (webhook: created)." in done.text
    # Where it ends: what syncs (nothing yet) and the way to the settings.
    assert "Nothing syncs yet" in done.text
    assert "Off: Send comments to the tracker" in done.text
    settings = re.search(
        r'href="(/settings/acme/integrations/1\?link=[^"]+)"', done.text
    )
    assert (
        settings and browser.get(settings[1].replace("&amp;", "&")).status_code == 303
    )
    assert "Webhook URL" not in done.text  # Jira has it already
    console = re.search(r'href="(/console/acme\?link=[^"]+)"', done.text)
    assert console and browser.get(console[1]).status_code == 303
    assert "tb_setup" not in browser.cookies
    assert len(jira.webhooks) == 1
    assert jira_host.store.integrations.get(1).provider == "jira_server"


def test_field_errors_are_shown_next_to_their_fields(browser, jira):
    page = browser.post(
        PAGE,
        {
            "url": "jira.example.com/",
            "consumer_key": "k" * 201,
            "private_key": "hot-garbage",
            "auth_mode": "oauth",
        },
    )
    assert page.status_code == 400
    assert page.text.count('class="field-error"') == 3
    assert "limited to 200 characters" in page.text
    assert "hot-garbage" not in page.text  # a secret field is never echoed
    assert 'value="jira.example.com/"' in page.text  # other values are kept
    assert jira.requests == []
    # Tied to their inputs for screen readers, and listed above the form.
    url_input = re.search(r'<input[^>]*id="f-url"[^>]*>', page.text)[0]
    assert 'aria-invalid="true"' in url_input
    assert 'aria-describedby="e-url h-url"' in url_input
    assert re.search(r'<p class="field-error" id="e-url">', page.text)
    summary = page.text.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert summary.count("<li>") == 3 and 'href="#f-consumer_key"' in summary


def test_start_over_goes_back_to_the_first_step(browser, jira, key_pair):
    first = browser.get(PAGE).text
    assert "Start over" not in first  # nothing to go back to yet
    browser.post(
        PAGE,
        {
            "url": jira.url,
            "auth_mode": "oauth",
            "consumer_key": "trackbridge",
            "private_key": key_pair[0],
        },
    )
    second = browser.get(PAGE).text
    assert "step 2 of 3" in second and "Start over" in second
    csrf = hidden_inputs(second)["_csrf"]
    refused = browser.post(PAGE, {"_action": "restart"}, csrf=False)
    assert refused.status_code == 403  # a form from elsewhere cannot restart it
    again = browser.post(PAGE, {"_action": "restart", "_csrf": csrf}, csrf=False)
    assert again.status_code == 303
    restarted = browser.get(PAGE).text
    assert "Connect to Jira Server" in restarted and "step 1<" in restarted
    assert jira.requests == []


def test_setup_errors_are_shown_on_the_page(browser, jira, key_pair):
    jira.failures["/plugins/servlet/oauth/request-token"] = (503, "", "text/plain")
    browser.post(
        PAGE,
        {"url": jira.url, "consumer_key": "trackbridge", "private_key": key_pair[0]},
    )
    page = browser.post(PAGE, {})
    assert page.status_code == 400
    assert "Setup error." in page.text
    assert "Could not fetch a request token from Jira." in page.text


def test_a_manual_webhook_install_ends_waiting_with_the_url_again(
    browser, jira, jira_host
):
    jira.personal_tokens["pat-9"] = "svc"
    sent = browser.post(
        PAGE,
        {
            "url": jira.url,
            "auth_mode": "token",
            "personal_access_token": "pat-9",
            "verify_ssl": "true",
        },
    )
    assert sent.status_code == 303
    done = browser.post(PAGE, {"webhook_mode": "manual"})
    assert done.status_code == 200
    host_port = jira.url.removeprefix("http://")
    assert (
        f"“Fake Jira ({host_port})” is installed: waiting for its first webhook."
        in (done.text)
    )
    # What the administrator enters, shown again where the install ends.
    assert "Webhook URL" in done.text
    assert "http://tb.example/extensions/jira-server/" in done.text
    assert "leave “Exclude body” unticked" in done.text
    assert jira.webhooks == {}


def test_posts_without_the_csrf_token_are_refused(browser):
    refused = browser.post(PAGE, {"url": "https://evil.example"}, csrf=False)
    assert refused.status_code == 403
    assert "did not come from this page" in refused.json["detail"]


def test_a_link_works_once(client, jira_host, org):
    link = jira_host.setup.create_link(org, "jira_server")
    assert Browser(client).get(PAGE, link=link).status_code == 303
    again = Browser(client).get(PAGE, link=link)
    assert again.status_code == 404
    assert "expired or was already used" in again.text


def test_starting_with_an_api_token(client, jira_host, org, auth):
    browser = Browser(client)
    start = browser.get(PAGE)
    assert "API token" in start.text
    token = auth["Authorization"].split()[1]
    wrong = browser.post(
        PAGE, {"_action": "start", "org": "acme", "token": "nope"}, csrf=False
    )
    assert wrong.status_code == 401
    assert "Invalid API token." in wrong.text
    started = browser.post(
        PAGE, {"_action": "start", "org": "acme", "token": token}, csrf=False
    )
    assert started.status_code == 303 and "tb_setup" in browser.cookies


def test_a_callback_without_a_session_shows_the_code(client, jira_host):
    page = Browser(client).get(PAGE, oauth_token="t", oauth_verifier="v3rif13r")
    assert page.status_code == 200
    assert "v3rif13r" in page.text and "Paste this verification code" in page.text


def test_an_expired_session_starts_over(browser, clock, jira_host):
    clock.advance(jira_host.config.setup_ttl_seconds + 1)
    page = browser.get(PAGE)
    assert "expired" in page.text
    assert "tb_setup" not in browser.cookies


def test_the_form_has_the_same_body_limit_and_media_type_as_the_api(
    browser, client, jira_host
):
    cookie = {"Cookie": f"tb_setup={browser.cookies['tb_setup']}"}
    limit = jira_host.config.max_body_bytes
    too_big = client.simulate_post(
        PAGE,
        body="url=" + "x" * limit,
        headers={**cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status_code == 413
    assert too_big.json == {"detail": f"Request body is larger than {limit} bytes."}
    as_json = client.simulate_post(PAGE, json={"url": "x"}, headers=cookie)
    assert as_json.status_code == 415
