"""The Jira client against the fake Jira over HTTP."""

import socket
import threading

import pytest

from host.destinations import DestinationPolicy
from plugins.jira_core.client import (
    JiraClient,
    JiraError,
    OAuthCredentials,
    TokenCredentials,
)

#: The fake Jira listens on loopback, which the host refuses by default.
LOOPBACK = DestinationPolicy(allow_loopback=True)


def test_a_personal_access_token_is_sent_as_bearer(jira):
    jira.personal_tokens["pat-1"] = "ann"
    client = JiraClient(jira.url, TokenCredentials("pat-1"), session=LOOPBACK.session())
    assert client.request("GET", "/rest/api/2/myself")["name"] == "ann"
    assert jira.seen("/rest/api/2/myself")[0].auth == "bearer:ann"


def test_every_oauth_request_is_signed_afresh(jira, key_pair):
    client = JiraClient(
        jira.url,
        OAuthCredentials("trackbridge", key_pair[0]),
        session=LOOPBACK.session(),
    )
    client.request("POST", "/plugins/servlet/oauth/request-token", form=True)
    client.request("POST", "/plugins/servlet/oauth/request-token", form=True)
    headers = [r.headers["Authorization"] for r in jira.requests]
    assert all('oauth_signature_method="RSA-SHA1"' in h for h in headers)
    assert all('oauth_consumer_key="trackbridge"' in h for h in headers)
    nonces = {h.split('oauth_nonce="')[1].split('"')[0] for h in headers}
    assert len(nonces) == 2


def test_the_session_never_retries_by_itself(jira):
    client = JiraClient(jira.url, None, session=LOOPBACK.session())
    for scheme in ("http://", "https://"):
        assert client.session.get_adapter(scheme).max_retries.total == 0


def test_oauth_problems_come_with_a_hint(jira, key_pair):
    client = JiraClient(
        jira.url,
        OAuthCredentials("unknown-key", key_pair[0]),
        session=LOOPBACK.session(),
    )
    with pytest.raises(JiraError) as raised:
        client.request("POST", "/plugins/servlet/oauth/request-token", form=True)
    assert raised.value.oauth_problem == "consumer_key_unknown"
    assert "Application Link's incoming authentication" in raised.value.detail


PREFIX = "Error communicating with Jira"


@pytest.mark.parametrize(
    "status, body, content_type, expected",
    [
        (
            400,
            '{"errorMessages": ["Bad"], "errors": {"summary": "Too long"}}',
            "application/json",
            f"{PREFIX} (HTTP 400): Bad summary: Too long",
        ),
        (
            403,
            '{"messages": [{"key": "You do not have permission."}]}',
            "application/json",
            f"{PREFIX} (HTTP 403): You do not have permission.",
        ),
        (
            500,
            "<html>it broke</html>",
            "text/html",
            f"{PREFIX} (HTTP 500): unknown error",
        ),
        (
            401,
            "",
            "text/plain",
            f"{PREFIX} (HTTP 401): Unauthorized: the access token is invalid"
            " or was revoked.",
        ),
    ],
)
def test_jira_error_bodies_become_one_message(
    jira, status, body, content_type, expected
):
    jira.failures["/rest/api/2/serverInfo"] = (status, body, content_type)
    with pytest.raises(JiraError) as raised:
        JiraClient(jira.url, None, session=LOOPBACK.session()).request(
            "GET", "/rest/api/2/serverInfo"
        )
    assert raised.value.detail == expected
    assert raised.value.http_status == status


def test_field_errors_and_jiras_own_message(jira):
    jira.failures["/rest/api/2/serverInfo"] = (
        400,
        '{"errors": {"summary": "Required"}}',
        "application/json",
    )
    with pytest.raises(JiraError) as raised:
        JiraClient(jira.url, None, session=LOOPBACK.session()).request(
            "GET", "/rest/api/2/serverInfo"
        )
    assert raised.value.errors == {"summary": "Required"}
    assert raised.value.jira_message == "summary: Required"


def test_timeouts_say_so(jira, monkeypatch):
    monkeypatch.setattr("plugins.jira_core.client.READ_TIMEOUT", 0.2)
    jira.delays["/rest/api/2/serverInfo"] = 1
    with pytest.raises(JiraError) as raised:
        JiraClient(jira.url, None, session=LOOPBACK.session()).request(
            "GET", "/rest/api/2/serverInfo"
        )
    netloc = jira.url.split("//")[1]
    assert raised.value.detail == f"Timed out attempting to reach host: {netloc}"


def test_an_unreachable_host_says_so():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(JiraError, match=f"Unable to reach host: 127.0.0.1:{port}"):
        JiraClient(
            f"http://127.0.0.1:{port}", None, session=LOOPBACK.session()
        ).request("GET", "/rest/api/2/myself")


def test_tls_failures_say_what_to_do():
    """A TLS server with a self-signed certificate the client does not trust."""
    import ssl
    import subprocess
    import tempfile
    from http.server import BaseHTTPRequestHandler, HTTPServer

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                f"{tmp}/k.pem",
                "-out",
                f"{tmp}/c.pem",
            ],
            check=True,
            capture_output=True,
        )
        server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{tmp}/c.pem", f"{tmp}/k.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        url = f"https://127.0.0.1:{server.server_address[1]}"
        try:
            with pytest.raises(JiraError) as raised:
                JiraClient(url, None, session=LOOPBACK.session()).request(
                    "GET", "/rest/api/2/serverInfo"
                )
        finally:
            server.server_close()
    assert raised.value.detail.startswith("TLS verification failed for 127.0.0.1:")
    assert "CA bundle" in raised.value.detail


def test_retry_after_is_kept(jira):
    jira.failures["/rest/api/2/serverInfo"] = (
        429,
        "{}",
        "application/json",
        {"Retry-After": "7"},
    )
    with pytest.raises(JiraError) as raised:
        JiraClient(jira.url, None, session=LOOPBACK.session()).request(
            "GET", "/rest/api/2/serverInfo"
        )
    assert (raised.value.http_status, raised.value.retry_after) == (429, 7.0)
