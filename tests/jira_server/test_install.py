"""Install building blocks: the form, keys, external id, webhook creation."""

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from host.destinations import DestinationPolicy, parse_allowed_hosts
from host.errors import SetupError, ValidationError
from plugins.jira_core.client import JiraClient, TokenCredentials
from plugins.jira_server import install

#: The fake Jira listens on loopback, which the host refuses by default.
LOOPBACK = DestinationPolicy(allow_loopback=True)


def form(key_pair, **changes):
    return {
        "url": "https://jira.example.com//",
        "consumer_key": "trackbridge",
        "private_key": key_pair[0],
        **changes,
    }


def errors_of(data) -> dict:
    with pytest.raises(ValidationError) as raised:
        install.validate_installation(data)
    return raised.value.errors


def test_a_valid_form_is_normalized(key_pair):
    config = install.validate_installation(form(key_pair))
    assert config.url == "https://jira.example.com"  # trailing slashes stripped
    assert (config.verify_ssl, config.auth_mode, config.ca_bundle) == (
        True,
        "oauth",
        None,
    )


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"url": "jira.example.com/"}, "url", "Enter a valid URL"),
        ({"url": "ftp://jira.example.com"}, "url", "Enter a valid URL"),
        ({"consumer_key": "k" * 201}, "consumer_key", "limited to 200 characters"),
        ({"consumer_key": ""}, "consumer_key", "This field is required."),
        (
            {"private_key": "hot-garbage"},
            "private_key",
            "RSA private key in PEM format",
        ),
        ({"verify_ssl": "maybe"}, "verify_ssl", "Must be a boolean."),
        ({"ca_bundle": "not a cert"}, "ca_bundle", "PEM format"),
        ({"auth_mode": "basic"}, "auth_mode", "personal access token"),
        ({"auth_mode": "token"}, "personal_access_token", "This field is required."),
    ],
)
def test_each_invalid_field_gets_its_own_message(key_pair, changes, field, message):
    errors = errors_of(form(key_pair, **changes))
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_all_problems_are_reported_at_once():
    errors = errors_of({"url": "nope"})
    assert set(errors) == {"url", "consumer_key", "private_key"}


def test_encrypted_and_non_rsa_keys_are_explained(key_pair):
    encrypted = (
        serialization.load_pem_private_key(key_pair[0].encode(), None)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        .decode()
    )
    assert (
        "without a passphrase"
        in errors_of(form(key_pair, private_key=encrypted))["private_key"][0]
    )
    ec_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert (
        "need an RSA key"
        in errors_of(form(key_pair, private_key=ec_key))["private_key"][0]
    )


def test_the_public_key_is_derived_from_the_private_key(key_pair):
    assert install.public_key_pem(key_pair[0]) == key_pair[1]


def test_the_external_id_is_the_whole_identity():
    # Two users (or hosts) that differ only after character 64 are two
    # integrations, not one: nothing is cut.
    long = "a-very-long-jira-user-name-" * 3
    first = install.external_id("https://jira.example.com", "token", long + "x")
    second = install.external_id("https://jira.example.com", "token", long + "y")
    assert first != second
    assert first == f"jira.example.com#token:{long}x"
    assert install.external_id("http://jira:8080/j", "oauth", "ck", "bot") == (
        "jira:8080/j#oauth:ck:bot"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a port is not a consumer key, a colon in a name is not a separator
        (
            ("http://host:8080", "token", "alice"),
            ("http://host", "oauth", "8080", "alice"),
        ),
        (("http://host", "oauth", "a:b", "c"), ("http://host", "oauth", "a", "b:c")),
        (("http://host/jira", "token", "x"), ("http://host", "token", "jira#token:x")),
    ],
)
def test_no_two_identities_share_an_external_id(a, b):
    assert install.external_id(*a) != install.external_id(*b)


def test_the_webhook_token_names_the_integration():
    token = install.webhook_token("jira.example.com:bot", "s" * 40)
    url = install.webhook_url("http://tb.example/", token)
    assert url == f"http://tb.example/extensions/jira-server/issue-updated/{token}/"
    claims = jwt.decode(url.split("/")[-2], "s" * 40, algorithms=["HS256"])
    assert claims == {"id": "jira.example.com:bot"}


def test_the_ca_bundle_is_written_once(tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    first = install.ca_bundle_file(pem, tmp_path / "ca")
    assert install.ca_bundle_file(pem, tmp_path / "ca") == first
    assert Path(first).read_text() == pem


@pytest.fixture
def client(jira):
    jira.personal_tokens["pat"] = "admin"
    return JiraClient(jira.url, TokenCredentials("pat"), session=LOOPBACK.session())


def test_jira_9_gets_the_legacy_webhook(jira, client):
    created = install.create_webhook(client, "http://tb.example/hook/")
    assert created == {
        "webhook_id": 1,
        "webhook_self": f"{jira.url}/rest/webhooks/1.0/webhook/1",
        "webhook_api": "/rest/webhooks/1.0/webhook",
    }
    body = jira.seen("/rest/webhooks/1.0/webhook", "POST")[0].json()
    assert body == {
        "name": "trackbridge issue sync",
        "url": "http://tb.example/hook/",
        "events": [
            "jira:issue_created",
            "jira:issue_updated",
            "jira:issue_deleted",
            "comment_created",
            "comment_updated",
        ],
    }


def test_jira_10_gets_the_new_webhook_resource(jira, client):
    jira.version = "10.0.1"
    created = install.create_webhook(client, "http://tb.example/hook/")
    assert created["webhook_api"] == "/rest/jira-webhook/1.0/webhooks"
    assert jira.seen("/rest/webhooks/1.0/webhook") == []


def test_an_unreadable_version_falls_back_on_404(jira, client):
    jira.version = "10.3.1"
    jira.failures["/rest/api/2/serverInfo"] = (500, "", "text/plain")
    created = install.create_webhook(client, "http://tb.example/hook/")
    assert created["webhook_api"] == "/rest/jira-webhook/1.0/webhooks"
    assert len(jira.seen("/rest/webhooks/1.0/webhook", "POST")) == 1  # tried first


def test_webhook_failures_keep_jiras_message(jira, client):
    jira.admin = False
    with pytest.raises(SetupError) as raised:
        install.create_webhook(client, "http://tb.example/hook/")
    assert raised.value.detail == (
        "Could not create issue webhook in Jira. You do not have permission to create"
        " WebHook 'trackbridge issue sync'."
    )
    jira.failures["/rest/webhooks/1.0/webhook"] = (502, "Bad things", "text/plain")
    with pytest.raises(SetupError, match="Could not create issue webhook in Jira"):
        install.create_webhook(client, "http://tb.example/hook/")


def test_a_non_admin_is_told_before_anything_is_created(jira, client):
    jira.admin = False
    with pytest.raises(SetupError) as raised:
        install.require_admin(client, "dev")
    assert "not a Jira administrator" in raised.value.detail
    assert "manual webhook mode" in raised.value.detail
    jira.admin = True
    install.require_admin(client, "admin")


def test_deleting_the_webhook_tolerates_404(jira, client):
    created = install.create_webhook(client, "http://tb.example/hook/")
    assert install.delete_webhook(client, created) is True
    assert jira.webhooks == {}
    assert install.delete_webhook(client, created) is True  # already gone
    assert install.delete_webhook(client, {}) is True  # manual mode
    jira.failures["/rest/webhooks/1.0/webhook/1"] = (500, "", "text/plain")
    assert install.delete_webhook(client, created) is False


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://jira.example.com", True),
        ("https://JIRA.example.com.", True),
        ("https://eu.corp.example", True),
        ("https://corp.example", False),  # "*.corp.example" is its subdomains
        ("https://jira.example.com.evil.test", False),
        ("http://169.254.169.254", False),
    ],
)
def test_an_allowlist_limits_the_jira_hosts(key_pair, url, allowed):
    hosts = parse_allowed_hosts("jira.example.com, *.corp.example")
    data = form(key_pair, url=url)
    if allowed:
        expected = url.lower().rstrip("/").rstrip(".")
        assert install.validate_installation(data, hosts).url == expected
        return
    with pytest.raises(ValidationError) as raised:
        install.validate_installation(data, hosts)
    assert list(raised.value.errors) == ["url"]
    assert "allowed_hosts" in raised.value.errors["url"][0]


def test_without_an_allowlist_any_http_host_is_accepted(key_pair):
    data = form(key_pair, url="http://10.0.0.5:8080")
    assert install.validate_installation(data).url == "http://10.0.0.5:8080"
