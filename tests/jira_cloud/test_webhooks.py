"""Jira Cloud's webhooks: the Connect token checked (409 for each token
problem), a site not claimed yet acknowledged and not stored, and a claimed
site's changes applied as the same events Jira Server's are."""

from __future__ import annotations

import json

import pytest

from tests.conftest import linked_group
from tests.jira_cloud.conftest import SHARED_SECRET, site_token

PATH = "/extensions/jira/issue-updated/"
ANN = "557058:ann-account"


def webhook(cloud_client, body, token=None, query=""):
    token = token or site_token("POST", "/extensions/jira/issue-updated", query)
    return cloud_client.simulate_post(
        PATH,
        body=json.dumps(body),
        query_string=query,
        headers={"Content-Type": "application/json", "Authorization": f"JWT {token}"},
    )


def changed(field, frm, to, *, fields=None, key="APP-1", issue_id="10100", **extra):
    return {
        "webhookEvent": "jira:issue_updated",
        "timestamp": 1_764_600_000_000,
        "issue": {"id": issue_id, "key": key, "fields": fields or {}},
        "changelog": {"id": "1", "items": [{"field": field, "from": frm, "to": to}]},
        **extra,
    }


@pytest.fixture
def group(cloud_host, org, claimed):
    cloud_host.integrations.update_config(
        org,
        claimed.id,
        {
            "sync_reverse_assignment": True,
            "sync_status_reverse": True,
            "sync_comments_reverse": True,
        },
    )
    return linked_group(cloud_host, org, claimed.id, "APP-1", "10100")


def test_a_site_not_claimed_yet_is_acknowledged_and_nothing_stored(
    cloud_client, cloud_host, installed
):
    answer = webhook(cloud_client, changed("status", "1", "10001"))
    assert answer.status_code == 200 and answer.json == {"received": False}
    assert (
        cloud_host.store.db.execute(
            "SELECT count(*) FROM webhook_deliveries"
        ).fetchone()[0]
        == 0
    )


@pytest.mark.parametrize(
    ("make", "detail"),
    [
        (lambda: "JWT", "Authorization header"),
        (
            lambda: "JWT " + site_token("POST", "/extensions/jira/elsewhere"),
            "Query hash",
        ),
        (
            lambda: (
                "JWT " + site_token("POST", "/extensions/jira/issue-updated", exp=1)
            ),
            "Expired",
        ),
        (
            lambda: (
                "JWT "
                + site_token(
                    "POST", "/extensions/jira/issue-updated", iss="another-site"
                )
            ),
            "No site installed",
        ),
        (
            lambda: (
                "JWT "
                + site_token(
                    "POST",
                    "/extensions/jira/issue-updated",
                    secret="a guess at the secret, long enough to sign",
                )
            ),
            "Invalid signature",
        ),
    ],
)
def test_every_token_problem_is_a_409(cloud_client, installed, claimed, make, detail):
    answer = cloud_client.simulate_post(
        PATH,
        body=json.dumps(changed("status", "1", "10001")),
        headers={"Content-Type": "application/json", "Authorization": make()},
    )
    assert answer.status_code == 409, answer.text
    assert detail in answer.json["detail"]


def test_the_qsh_covers_the_query_too(cloud_client, claimed, group):
    token = site_token("POST", "/extensions/jira/issue-updated", "user_id=a&b=1")
    assert webhook(cloud_client, changed("status", "1", "3"), token, "b=1&user_id=a")
    wrong = webhook(cloud_client, changed("status", "1", "3"), token, "b=2&user_id=a")
    assert wrong.status_code == 409


def test_an_accountid_only_assignee_is_nobody_we_know_never_an_unassignment(
    cloud_client, cloud_host, org, group, run_jobs, installed
):
    member_id, _ = cloud_host.store.organizations.add_member(
        org.id, "ann@example.com", "Ann"
    )
    cloud_host.groups.set_assignee(
        group, cloud_host.store.organizations.member(org.id, member_id), _user()
    )
    body = changed(
        "assignee",
        None,
        ANN,
        fields={"assignee": {"accountId": ANN, "displayName": "Ann K"}},
    )
    assert webhook(cloud_client, body).json == {"received": True}
    run_jobs()
    assert cloud_host.groups.get(org, group.id).assignee_email == "ann@example.com"
    # With the email scope granted, the site is asked, and the member found.
    cloud_host.groups.set_assignee(cloud_host.groups.get(org, group.id), None, _user())
    cloud_host.config.sections["jira"]["use_email_scope"] = "true"
    installed.emails[ANN] = "Ann@Example.com"
    body["timestamp"] += 1
    webhook(cloud_client, body)
    run_jobs()
    assert cloud_host.groups.get(org, group.id).assignee_email == "ann@example.com"
    assert any(p == "/rest/api/3/user/email" for _, p, _, _ in installed.requests)


def test_done_resolves_and_adf_comments_arrive_as_text(
    cloud_client, cloud_host, org, group, run_jobs, installed
):
    webhook(cloud_client, changed("status", "1", "10001"))
    run_jobs()
    assert cloud_host.groups.get(org, group.id).status == "resolved"
    comment = {
        "webhookEvent": "comment_created",
        "issue": {"id": "10100", "key": "APP-1", "fields": {}},
        "comment": {
            "id": "20001",
            "author": {"accountId": ANN, "displayName": "Ann K"},
            "created": "2026-12-01T10:00:00.000+0000",
            "body": {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "paragraph",
                        "content": [
                            {"type": "text", "text": "Fixed in "},
                            {
                                "type": "text",
                                "text": "the release",
                                "marks": [
                                    {
                                        "type": "link",
                                        "attrs": {"href": "https://r.example/1"},
                                    }
                                ],
                            },
                        ],
                    },
                    {
                        "type": "paragraph",
                        "content": [{"type": "text", "text": "Thanks!"}],
                    },
                ],
            },
        },
    }
    webhook(cloud_client, comment)
    run_jobs()
    [found] = cloud_host.groups.comments(cloud_host.groups.get(org, group.id))
    assert found["text"] == "Fixed in the release (https://r.example/1)\n\nThanks!"
    assert found["author_name"] == "Ann K"


def test_an_uninstalled_site_is_refused(
    cloud_client, atlassian_key, claimed, installed
):
    from tests.jira_cloud.conftest import install_token, lifecycle_body

    cloud_client.simulate_post(
        "/extensions/jira/uninstalled/",
        json=lifecycle_body(eventType="uninstalled"),
        headers={
            "Authorization": "JWT "
            + install_token(atlassian_key[0], path="/extensions/jira/uninstalled")
        },
    )
    answer = webhook(cloud_client, changed("status", "1", "10001"))
    assert answer.status_code == 409 and "uninstalled" in answer.json["detail"]
    assert SHARED_SECRET  # the site's secret is kept for a re-install


def _user():
    from host.services.groups import Source

    return Source(user=True)


def test_a_control_node_answers_a_refused_cloud_webhook_400(
    tmp_path, clock, install_keys
):
    """Sentry's Cloud parser answers a bad token 400 at the control silo,
    where its Server parser answers 200: each provider's rejection says."""
    import falcon.testing

    from plugins.jira import plugin
    from tests.conftest import CONTROL_NODE, host_in
    from tests.contract import checked_app

    control = host_in(tmp_path / "control", clock, CONTROL_NODE, jira=plugin)
    try:
        answer = falcon.testing.TestClient(checked_app(control)).simulate_post(
            PATH,
            body=json.dumps(changed("status", "1", "10001")),
            headers={"Content-Type": "application/json", "Authorization": "JWT x.y.z"},
        )
        assert answer.status_code == 400
        assert "detail" in answer.json
    finally:
        control.close()
