"""Installing Jira Server from the terminal: ``trackbridge install --terminal``."""

import pytest
from click.testing import CliRunner

from host.cli import CliContext, build_cli


@pytest.fixture
def install(jira_host, org, config):
    group = build_cli(jira_host.pm)

    def run(*args, input=""):
        context = CliContext(config, jira_host.pm)
        context._host = jira_host
        return CliRunner().invoke(
            group,
            ["install", "jira_server", "--org", "acme", "--terminal", *args],
            obj=context,
            input=input,
        )

    return run


def test_oauth_in_the_terminal_with_a_pasted_verifier(
    install, jira, key_pair, tmp_path, jira_host
):
    key_file = tmp_path / "jira.pem"
    key_file.write_text(key_pair[0])
    jira.auto_verifier = "v-123456"
    result = install(
        "--set",
        f"url={jira.url}",
        "--set",
        "auth_mode=oauth",
        "--set",
        "consumer_key=trackbridge",
        "--set",
        f"private_key=@{key_file}",
        # verify SSL and CA bundle; the verification code: empty (go to Jira),
        # then the code Jira showed; then the webhook mode
        input="y\n\n\nv-123456\nautomatic\n",
    )
    assert result.exit_code == 0, result.output
    assert "Consumer callback URL:" in result.output
    assert key_pair[1].splitlines()[1] in result.output  # the public key to paste
    assert f"{jira.url}/plugins/servlet/oauth/authorize?oauth_token=" in result.output
    host_port = jira.url.removeprefix("http://")
    assert f"Installed Fake Jira ({host_port}) (integration 1)." in result.output
    assert "Personal access token" not in result.output  # not asked for OAuth
    assert len(jira.seen("/plugins/servlet/oauth/request-token")) == 1
    assert key_pair[0].splitlines()[1] not in result.output
    assert len(jira.webhooks) == 1


def test_a_personal_access_token_in_the_terminal(install, jira, jira_host):
    jira.personal_tokens["pat-9"] = "svc"
    result = install(
        "--set",
        f"url={jira.url}",
        "--set",
        "auth_mode=token",
        input="y\n\npat-9\nmanual\n",
    )
    assert result.exit_code == 0, result.output
    assert "Webhook URL:" in result.output
    assert "pat-9" not in result.output  # typed with hidden input
    integration = jira_host.store.integrations.get(1)
    assert integration.metadata["webhook_status"] == "waiting for first webhook"


def test_field_errors_are_asked_again(install, jira, key_pair):
    jira.personal_tokens["pat-9"] = "svc"
    result = install(
        "--set",
        "url=jira.example.com/",
        "--set",
        "auth_mode=token",
        input=f"y\n\npat-9\n{jira.url}\ny\n\npat-9\nmanual\n",
    )
    assert result.exit_code == 0, result.output
    assert "url: Enter a valid URL" in result.output


PAT_ANSWERS = (
    "--set",
    "auth_mode=token",
    "--set",
    "verify_ssl=true",
    "--set",
    "ca_bundle=",
)


def test_a_refused_token_is_asked_for_again_not_sent_again(install, jira):
    jira.personal_tokens["pat-9"] = "svc"
    result = install(
        "--set",
        f"url={jira.url}",
        *PAT_ANSWERS,
        "--set",
        "personal_access_token=wrong",
        # the step again: the URL, SSL, CA bundle and mode offered as they
        # were (enter), the token typed anew; then the webhook mode
        input="\n\n\n\npat-9\nmanual\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Jira refused the personal access token") == 1
    assert "Answer this step again." in result.output
    assert f"URL [{jira.url}]" in result.output
    assert len(jira.seen("/rest/api/2/myself")) == 2


def test_repeated_setup_errors_stop_with_a_message(install, jira):
    result = install(
        "--set",
        f"url={jira.url}",
        *PAT_ANSWERS,
        "--set",
        "personal_access_token=wrong",
        input="\n\n\n\nwrong\n" * 2,
    )
    assert result.exit_code == 1
    assert (
        result.output.count("Jira refused the personal access token (HTTP 401).") == 3
    )
    assert "Setup stopped after repeated errors." in result.output


def test_no_input_installs_from_set_values_alone(install, jira, jira_host):
    jira.personal_tokens["pat-9"] = "svc"
    result = install(
        "--no-input",
        "--set",
        f"url={jira.url}",
        "--set",
        "auth_mode=token",
        "--set",
        "personal_access_token=pat-9",
        "--set",
        "webhook_mode=manual",
    )
    assert result.exit_code == 0, result.output
    assert "Installed" in result.output
    assert "?" not in result.output.split("==")[-1].splitlines()[0]  # no prompt
    assert jira_host.store.integrations.get(1) is not None


def test_no_input_stops_at_the_first_refusal(install, jira):
    result = install(
        "--no-input",
        "--set",
        f"url={jira.url}",
        "--set",
        "auth_mode=token",
        "--set",
        "personal_access_token=wrong",
    )
    assert result.exit_code == 1
    assert (
        "Setup stopped: Jira refused the personal access token (HTTP 401)."
        in result.output
    )
    assert len(jira.seen("/rest/api/2/myself")) == 1


def test_no_input_names_a_missing_required_field(install, jira):
    result = install(
        "--no-input", "--set", f"url={jira.url}", "--set", "auth_mode=token"
    )
    assert result.exit_code == 1
    assert (
        "Setup stopped: personal_access_token: This field is required."
        " (answer with --set NAME=VALUE)." in result.output
    )
    assert "Aborted" not in result.output


def test_input_that_ends_says_what_was_not_answered(install, jira):
    result = install("--set", f"url={jira.url}", input="")
    assert result.exit_code == 1
    assert "(the input ended): give it with --set" in result.output
    assert "Aborted" not in result.output


def test_bad_assignments_are_usage_errors(install):
    assert install("--set", "nonsense").exit_code == 2
    missing = install("--set", "private_key=@/no/such/file")
    assert missing.exit_code == 2
    assert "No such file or directory" in missing.output
