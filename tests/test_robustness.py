"""Property-based: the edges of JSON (depth, Unicode, integers) on every
endpoint, form and CLI command are refused with a clear 4xx (or exit 2),
and a refused request changes nothing.

Example counts are fixed and derandomized, as in ``test_fuzz_api``.
"""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.api.pages import csrf_token
from host.jsontext import INT_MAX
from tests.conftest import dump
from tests.test_forms import FORM, settings_path
from tests.test_fuzz_api import ENDPOINTS, FUZZ, KEYS, ids  # noqa: F401 (a fixture)

EDGE_EXAMPLES = 40
EDGES = settings(FUZZ, max_examples=EDGE_EXAMPLES)

#: JSON text no store can hold, written out (json.dumps would escape it away
#: or refuse it): a lone surrogate, an integer beyond 64 bits, NaN.
UNSTORABLE = st.sampled_from(
    ['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', "9223372036854775808",
     "-9223372036854775809", "99999999999999999999999", "NaN", "1e400"]
)  # fmt: skip
DEPTHS = st.integers(min_value=65, max_value=5000)


@st.composite
def edge_bodies(draw) -> bytes:
    """A body the API reads (an object with keys it knows), holding one edge:
    a value the store cannot hold, or nesting beyond the limit."""
    key = draw(KEYS)
    others = draw(st.dictionaries(KEYS, st.text(max_size=10), max_size=3))
    fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in others.items()]
    if draw(st.booleans()):
        value = draw(UNSTORABLE)
    else:
        depth = draw(DEPTHS)
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        value = opening * depth + "1" + closing * depth
    fields.insert(draw(st.integers(0, len(fields))), f"{json.dumps(key)}: {value}")
    return ("{" + ", ".join(fields) + "}").encode()


def snapshot(host) -> str:
    """A digest of everything a request could change (counters aside)."""
    everything = dump(host.store, skip=("metric_series", "api_tokens"))
    return hashlib.sha256(everything.encode()).hexdigest()


@pytest.mark.parametrize("method, template", ENDPOINTS)
def test_edges_are_400_on_every_json_endpoint_and_change_nothing(
    api,
    host,
    ids,  # noqa: F811 (the fixture imported above)
    method,
    template,
):
    path = template.format(**ids)
    before = snapshot(host)

    @EDGES
    @given(body=edge_bodies())
    def check(body):
        response = api(
            method, path, body=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (body[:80], response.text)
        assert response.json["detail"], response.text

    check()
    assert snapshot(host) == before


def test_each_edge_says_what_to_fix(api):
    cases = {
        b'{"title": "\\ud800"}': "lone surrogate",
        b'{"title": 9223372036854775808}': "outside the range",
        b'{"title": ' + b"[" * 100 + b"]" * 100 + b"}": "more than 64 levels deep",
        b'{"title": NaN}': "NaN is not a JSON value",
        b'{"title": "caf\xe9"}': "not valid UTF-8",
    }
    for body, message in cases.items():
        response = api(
            "post", "/groups", body=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert message in response.json["detail"], response.json


def test_a_chunked_body_is_read(client, auth):
    """Falcon reads no body without Content-Length; the host reads it."""
    import falcon.testing

    environ = falcon.testing.create_environ(
        "/api/0/organizations/acme/groups",
        method="POST",
        body=b'{"title": "Chunked"}',
        headers={
            **auth,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    del environ["CONTENT_LENGTH"]
    answer = []
    body = b"".join(client.app(environ, lambda status, headers: answer.append(status)))
    assert answer[0].startswith("201"), body
    assert json.loads(body)["title"] == "Chunked"


@pytest.mark.parametrize(
    "path",
    [
        "/groups/{huge}",
        "/groups/{huge}/comments",
        "/groups/1/comments/{huge}",
        "/integrations/{huge}",
        "/tokens/{huge}",
        "/jobs/{huge}/retry",
        "/deliveries/{huge}/reprocess",
    ],
)
@pytest.mark.parametrize(
    "huge", [str(INT_MAX + 1), str(2**64 + 1), "9" * 30, "0", "-1", "1e5"]
)
def test_ids_the_store_cannot_hold_are_404_in_paths(api, path, huge):
    for method in ("get", "post", "put", "delete"):
        response = api(method, path.format(huge=huge), json={})
        assert response.status_code in (404, 405), (method, response.text)
        assert response.json["detail"]


@EDGES
@given(limit=st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=25))
def test_query_integers_beyond_range_are_400(api, limit):
    response = api("get", "/deliveries", params={"limit": str(limit)})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert "limit" in response.json["errors"]


@pytest.mark.parametrize(
    "encoded", ["%ED%A0%80", "%FF", "a%C3", "%F4%90%80%80", "%C0%AF"]
)
def test_a_form_that_is_not_utf8_is_refused_and_saves_nothing(
    client, host, org, encoded
):
    from tests.conftest import install_tiny

    integration = install_tiny(host, org)
    token = host.organizations.create_token(org)
    path = settings_path(integration)
    signed_in = client.simulate_post(
        path, body=f"_action=signin&token={token}", headers=FORM
    )
    session = signed_in.cookies["tb_session"].value
    before = snapshot(host)
    body = (
        f"_action=save&_csrf={csrf_token(session)}&_booleans=sync_comments"
        f"&sync_comments=true&user_mappings={encoded}"
    )
    response = client.simulate_post(
        path, body=body, headers={**FORM, "Cookie": f"tb_session={session}"}
    )
    assert response.status_code == 400, response.text
    assert "not valid UTF-8" in response.json["detail"]
    assert snapshot(host) == before


# ---- the command line ----

ID_COMMANDS = [
    ["jobs", "retry", "{id}"],
    ["settings", "{id}", "--org", "acme"],
    ["reconcile", "--integration", "{id}"],
    ["token", "revoke", "{id}", "--org", "acme"],
    ["integrations", "rotate-webhook-secret", "{id}"],
]


@pytest.fixture
def cli_main(monkeypatch, tmp_path, capsys):
    """Run ``trackbridge ARGS`` through ``host.cli.main`` in this process;
    (exit status, stdout, stderr)."""
    from host import cli
    from tests.conftest import write_config

    monkeypatch.setenv("TRACKBRIDGE_CONFIG", str(write_config(tmp_path)))

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["trackbridge", *args])
        try:
            cli.main()
            status = 0
        except SystemExit as ex:
            status = ex.code if isinstance(ex.code, int) else 1
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.mark.parametrize("command", ID_COMMANDS)
def test_cli_ids_beyond_range_are_one_line_and_exit_2(cli_main, command):
    @EDGES
    @given(
        value=st.integers(min_value=INT_MAX + 1, max_value=2**200).map(str)
        | st.integers(max_value=0).map(str)
        | st.sampled_from(["abc", "1.5", "", " ", "1e3", "0x10", "٣"])
    )
    def check(value):
        status, out, err = cli_main(*(p.replace("{id}", value) for p in command))
        assert status == 2, (value, out, err)
        assert err.count("\n") == 1 and err.startswith("Error: "), err
        assert "Traceback" not in err

    check()


def test_cli_arguments_that_are_not_utf8_are_refused(cli_main):
    status, _, err = cli_main("org", "create", "\udcff")  # argv's surrogateescape
    assert status == 2
    assert err == "Error: argument 3 is not valid UTF-8 text.\n"


def test_cli_a_bad_bind_is_one_line(cli_main):
    for bind, hint in [
        ("8011", "did you mean 127.0.0.1:8011?"),
        ("127.0.0.1:99999", "not between 1 and 65535"),
        ("no port", "must be host:port"),
    ]:
        status, _, err = cli_main("serve", "--bind", bind)
        assert status == 2, err
        assert err.count("\n") == 1 and hint in err, err
