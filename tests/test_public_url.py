"""``public_url`` and the address the host serves: the port trap.

Unset, public_url follows the bind (``serve --bind`` included), so the
links and webhook URLs an install hands out reach this server; set to this
machine on another port, ``serve`` says so at start; and the setup page
warns when it is opened at another address than public_url.
"""

from __future__ import annotations

import pytest
import requests

from host.config import load_config, public_url_problem, url_for_bind
from tests.servers import free_port, serving

SETUP = "/extensions/jira-server/setup/"
WARNING = "Check the address."


@pytest.mark.parametrize(
    "bind, url",
    [
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("[::]:9000", "http://[::1]:9000"),
        ("tb.internal:80", "http://tb.internal:80"),
    ],
)
def test_unset_public_url_is_where_the_bind_is_reached(bind, url):
    assert url_for_bind(bind) == url


def _config(tmp_path, text, env=None):
    path = tmp_path / "config.ini"
    path.write_text(text)
    return load_config(path, env=env or {})


def test_public_url_follows_the_bind_until_it_is_set(tmp_path):
    followed = _config(tmp_path, "[host]\nbind = 127.0.0.1:8123\n")
    assert (followed.public_url, followed.public_url_set) == (
        "http://127.0.0.1:8123",
        False,
    )
    assert followed.warnings == ()
    chosen = _config(tmp_path, "[host]\npublic_url = https://tb.example/\n")
    assert (chosen.public_url, chosen.public_url_set) == ("https://tb.example", True)
    from_env = _config(
        tmp_path, "[host]\n", env={"TRACKBRIDGE_PUBLIC_URL": "http://x.example:81"}
    )
    assert (from_env.public_url, from_env.public_url_set) == (
        "http://x.example:81",
        True,
    )


def test_a_wildcard_bind_without_public_url_warns(tmp_path):
    config = _config(tmp_path, "[host]\nbind = 0.0.0.0:9000\n")
    (warning,) = config.warnings
    assert "serves other machines, but public_url is unset" in warning
    assert "http://127.0.0.1:9000" in warning


@pytest.mark.parametrize(
    "public_url, bind, wrong",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:57589", True),
        ("http://localhost:8000", "0.0.0.0:57589", True),
        ("http://10.0.0.5:8000", "10.0.0.5:9000", True),
        ("http://127.0.0.1:57589", "127.0.0.1:57589", False),
        ("http://localhost", "127.0.0.1:80", False),
        # Another machine's address is a proxy's: nothing to say.
        ("https://tb.example", "127.0.0.1:8000", False),
    ],
)
def test_serve_knows_a_public_url_on_this_machine_at_another_port(
    tmp_path, public_url, bind, wrong
):
    config = _config(tmp_path, f"[host]\npublic_url = {public_url}\n")
    problem = public_url_problem(config, bind)
    assert (problem is not None) == wrong
    if wrong:
        assert f"this host serves {bind}" in problem


def _serve(tmp_path, text=""):
    port = free_port()
    path = tmp_path / "config.ini"
    path.write_text(f"[host]\ndatabase = {tmp_path / 'tb.db'}\n{text}")
    return port, {"TRACKBRIDGE_CONFIG": str(path)}


@pytest.mark.e2e
def test_serve_bind_without_public_url_hands_out_its_own_address(tmp_path):
    port, env = _serve(tmp_path)
    with serving(env, port) as process:
        page = requests.get(f"http://127.0.0.1:{port}{SETUP}", timeout=10)
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert page.status_code == 200
    # The page's public_url is the bound address: nothing to warn about.
    assert WARNING not in page.text
    assert f"public_url follows --bind: http://127.0.0.1:{port}" in output


@pytest.mark.e2e
def test_serve_warns_when_public_url_names_another_port(tmp_path):
    port, env = _serve(tmp_path, "public_url = http://127.0.0.1:8000\n")
    with serving(env, port) as process:
        page = requests.get(f"http://127.0.0.1:{port}{SETUP}", timeout=10)
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"this host serves 127.0.0.1:{port}" in output
    assert "would go to port 8000" in output
    assert WARNING in page.text
    assert f"You opened this page at 127.0.0.1:{port}" in page.text
