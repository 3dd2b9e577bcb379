"""No secret in any output: logs, API answers, error pages, job errors, CLI.

A Jira integration with a personal access token and a webhook secret goes
through the paths that print, log or store text: the API's views of it,
good and forged webhooks, an outbound job Jira refuses (kept as the job's
error), and the CLI's config and job listings. Every text they produce is
scanned for the access token, the webhook secret, the webhook JWT, the API
token and the key that seals secrets at rest.
"""

from __future__ import annotations

import logging

from host import sealing
from tests.conftest import run_cli
from tests.jira_server.conftest import WEBHOOK_SECRET, webhook_token
from tests.jira_server.test_outbound import setup  # noqa: F401  (fixture)

ACCESS_TOKEN = "pat-svc"  # the jira_integration fixture's personal access token


def test_no_secret_reaches_any_output(
    setup,  # noqa: F811
    jira,
    jira_host,
    configure,
    api,
    auth,
    client,
    run_jobs,
    caplog,
    config,
    jira_integration,
):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    integration = f"/integrations/{jira_integration.id}"

    for path in ("/integrations", integration, f"{integration}/config", "/nope"):
        outputs.append(api("get", path).text)
    outputs.append(api("put", f"{integration}/config", json={"bad": 1}).text)

    token = webhook_token()
    forged = webhook_token(secret="a different secret, just as long as ours")
    for used in (token, forged, token + "x"):
        outputs.append(
            client.simulate_post(
                f"/extensions/jira-server/issue-updated/{used}/",
                body=b'{"changelog": {"items": [{"field": "status"}]}}',
                headers={"Content-Type": "application/json"},
            ).text
        )

    # Jira refuses the outbound comment: the job keeps an error text.
    configure(sync_comments=True)
    jira.failures["/rest/api/2/issue/PRJ-1/comment"] = (
        500,
        '{"errorMessages": ["Internal error"]}',
        "application/json",
    )
    api("post", f"/groups/{setup.id}/comments", json={"text": "hello"})
    run_jobs()
    errors = [job["last_error"] or "" for job in jira_host.store.jobs.list((), 100)]
    assert any("500" in error for error in errors), errors
    outputs.extend(errors)
    outputs.append(api("get", "/jobs/dead").text)
    outputs.append(client.simulate_get("/metrics").text)

    outputs.append(api("get", "/tokens").text)
    # A rotation shows the new webhook URL (that is its point), never the secret.
    outputs.append(api("post", f"{integration}/rotate-webhook-secret").text)
    rotated = jira_host.store.integrations.credentials(jira_integration.id)

    env = {"TRACKBRIDGE_CONFIG": str(config.source)}
    outputs.append(run_cli(env, "token", "list", "--org", "acme"))
    outputs.append(
        run_cli(env, "integrations", "rotate-webhook-secret", str(jira_integration.id))
    )
    outputs.append(run_cli(env, "config"))
    outputs.append(run_cli(env, "jobs", "list", "--json"))
    outputs.append(run_cli(env, "plugins", "--json"))
    outputs.append(caplog.text)

    secrets = {
        "personal access token": ACCESS_TOKEN,
        "webhook secret": WEBHOOK_SECRET,
        "rotated webhook secret": rotated["webhook_secret"],
        "webhook token": token,
        "forged token": forged,
        "API token": auth["Authorization"].split()[1],
        **{
            f"sealing key {n}": key
            for n, key in enumerate(
                sealing.parse_keys(config.secret_key)
                or sealing.read_key_file(sealing.key_file(config.database))
            )
        },
    }
    text = "\n".join(outputs)
    assert "Could not validate JWT" in text  # the forged token was refused, and said so
    final = jira_host.store.integrations.credentials(jira_integration.id)
    secrets["secret of the CLI's rotation"] = final["webhook_secret"]
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == []
