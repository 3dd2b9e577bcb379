"""Atlassian Connect JWTs: the query string hash's test vectors, every way a
token is refused, and the tokens we sign for our own calls."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest

from plugins.jira import connect
from plugins.jira.connect import TokenRefused
from tests.jira_server.conftest import make_key_pair

SECRET = "a tenant shared secret, long enough for HS256 use and for HS512 too...."


# ---- qsh ----


def test_atlassians_vector():
    """The vector Sentry's and atlassian-jwt's implementations agree on."""
    query = connect.query_of("a=1&b=2&c=3&test=pass")
    assert (
        connect.canonical_request("get", "/extensions/jira/configure/", query)
        == "GET&/extensions/jira/configure&a=1&b=2&c=3&test=pass"
    )
    assert connect.query_hash("GET", "/extensions/jira/configure/", query) == (
        "36f43b88d6a8cdf89bb8f744e2378bb0ceb6378e80ab0b513082a8b72396bccc"
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "canonical"),
    [
        ("POST", "/extensions/jira/installed", "", "POST&/extensions/jira/installed&"),
        ("POST", "/extensions/jira/installed/", "", "POST&/extensions/jira/installed&"),
        ("GET", "/", "", "GET&/&"),
        ("GET", "", "", "GET&/&"),
        # Repeated keys: every value, sorted, joined with a comma.
        ("GET", "/r", "b=2&a=z&a=y&a=x", "GET&/r&a=x,y,z&b=2"),
        # RFC 3986 encoding: space %20 (not +), ~ kept, / , + and & encoded.
        (
            "GET",
            "/r",
            "q=a%20b&t=~x&p=%2Fpath&c=1%2C2&plus=a%2Bb&amp=a%26b",
            "GET&/r&amp=a%26b&c=1%2C2&p=%2Fpath&plus=a%2Bb&q=a%20b&t=~x",
        ),
        # jwt itself is never part of the hash; blank values are kept.
        ("GET", "/r", "jwt=abc&x=&y=1", "GET&/r&x=&y=1"),
        # & in the path is escaped (Atlassian's rule).
        ("GET", "/a&b/", "", "GET&/a%26b&"),
        # Keys are encoded and sorted by their text.
        ("GET", "/r", "B=1&a%20b=2", "GET&/r&B=1&a%20b=2"),
    ],
)
def test_canonical_requests(method, path, query, canonical):
    assert connect.canonical_request(method, path, connect.query_of(query)) == canonical
    assert connect.query_hash(method, path, connect.query_of(query)) == (
        hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_the_path_is_relative_to_the_base_url():
    assert connect.relative_path("/tb/extensions/jira/installed", "https://x/tb") == (
        "/extensions/jira/installed"
    )
    assert connect.relative_path("/extensions/jira/installed", "https://x") == (
        "/extensions/jira/installed"
    )
    assert connect.relative_path("/tbx/a", "https://x/tb") == "/tbx/a"


# ---- reading the header ----


@pytest.mark.parametrize("header", ["JWT abc", "Bearer abc", "  JWT   abc "])
def test_the_token_follows_the_first_space(header):
    assert connect.token_from_header(header) == "abc"


@pytest.mark.parametrize("header", [None, "", "JWTabc", "   "])
def test_a_missing_or_malformed_header_is_refused(header):
    with pytest.raises(TokenRefused, match="Authorization header"):
        connect.token_from_header(header)


# ---- shared-secret tokens (webhooks, page loads) ----


def hs_token(secret=SECRET, *, qsh="right", expires_in=60, algorithm="HS256", **extra):
    now = int(time.time())
    claims = {"iss": "tenant", "iat": now, "exp": now + expires_in, **extra}
    if qsh is not None:
        claims["qsh"] = qsh
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_a_good_shared_secret_token_passes():
    claims = connect.verify_shared_secret(hs_token(), SECRET, "right")
    assert claims["iss"] == "tenant"


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (lambda: hs_token(expires_in=-10), "Expired signature."),
        (
            lambda: hs_token("another secret, long enough for HS256 too"),
            "Invalid signature.",
        ),
        (lambda: hs_token(qsh=None), "no query string hash"),
        (lambda: hs_token(qsh="context-qsh"), "Query hash mismatch"),
        (lambda: hs_token(qsh="left"), "Query hash mismatch"),
        (lambda: hs_token(algorithm="HS512"), "HS256 expected"),
        (
            lambda: jwt.encode(
                {"iss": "tenant", "qsh": "right"}, None, algorithm="none"
            ),
            "HS256 expected",
        ),
        (
            lambda: jwt.encode(
                {"iss": "t", "iat": 1, "exp": 2**40, "qsh": "right"},
                make_key_pair()[0],
                algorithm="RS256",
            ),
            "HS256 expected",
        ),
        (lambda: "not.a.jwt", "Could not decode"),
        (lambda: hs_token(exp=None), "no 'exp' claim"),
    ],
)
def test_every_shared_secret_problem_has_its_own_detail(token, problem):
    with pytest.raises(TokenRefused, match=problem):
        connect.verify_shared_secret(token(), SECRET, "right")


# ---- Atlassian's signed-install tokens ----


@pytest.fixture(scope="module")
def atlassian():
    return make_key_pair()


def rs_token(private, *, aud="https://tb.example", expires_in=60, qsh="right", **extra):
    now = int(time.time())
    claims = {"iss": "tenant", "aud": aud, "iat": now, "exp": now + expires_in}
    if qsh is not None:
        claims["qsh"] = qsh
    return jwt.encode(
        {**claims, **extra}, private, algorithm="RS256", headers={"kid": "k"}
    )


def test_a_good_signed_install_token_passes(atlassian):
    private, public = atlassian
    claims = connect.verify_signed_install(
        rs_token(private), public, "https://tb.example", "right"
    )
    assert claims["aud"] == "https://tb.example"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: rs_token(p, aud="https://tb.example/"), "audience"),
        (lambda p: rs_token(p, aud="https://evil.example"), "audience"),
        (lambda p: rs_token(p, expires_in=-5), "Expired signature."),
        (lambda p: rs_token(make_key_pair()[0]), "Invalid signature."),
        (lambda p: rs_token(p, qsh=None), "no query string hash"),
        (lambda p: rs_token(p, qsh="other"), "Query hash mismatch"),
        # An HS256 token "signed" with the public key (algorithm confusion).
        (lambda p: "confused", "RS256 expected"),
    ],
)
def test_every_signed_install_problem_has_its_own_detail(atlassian, make, problem):
    private, public = atlassian
    token = make(private)
    if token == "confused":
        now = int(time.time())
        token = jwt.api_jws.PyJWS().encode(
            jwt.utils.force_bytes(
                '{"iss":"t","aud":"https://tb.example","qsh":"right",'
                f'"iat":{now},"exp":{now + 60}}}'
            ),
            b"x" * 32,
            algorithm="HS256",
        )
    with pytest.raises(TokenRefused, match=problem):
        connect.verify_signed_install(token, public, "https://tb.example", "right")


# ---- our own calls ----


def test_outbound_tokens_carry_the_app_key_a_short_life_and_this_requests_qsh():
    authorization = connect.sign_request(
        "tb.example.trackbridge",
        SECRET,
        "get",
        "https://acme.atlassian.net/rest/api/3/search/jql?jql=key%20%3D%20A-1&fields=summary",
        "https://acme.atlassian.net",
        now=1_672_534_861,
    )
    assert authorization.startswith("JWT ")
    claims = jwt.decode(
        authorization[4:], SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims == {
        "iss": "tb.example.trackbridge",
        "iat": 1_672_534_861,
        "exp": 1_672_535_161,
        "qsh": connect.query_hash(
            "GET",
            "/rest/api/3/search/jql",
            {"jql": ["key = A-1"], "fields": ["summary"]},
        ),
    }
    # A site with a context path signs the path after it.
    under = connect.sign_request(
        "k",
        SECRET,
        "GET",
        "https://x.example/jira/rest/api/3/myself",
        "https://x.example/jira",
        now=1,
    )
    assert jwt.decode(
        under[4:], SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )["qsh"] == connect.query_hash("GET", "/rest/api/3/myself", {})
