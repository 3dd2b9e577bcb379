"""An organization claims a Jira Cloud site with the code only the site's
administrators see (the app's configure page), and no other way."""

from __future__ import annotations

import pytest

from host.errors import ValidationError
from tests.jira_cloud.conftest import CLIENT_KEY, claim_code, site_token


def test_the_configure_page_needs_the_sites_token(cloud_client, installed):
    for query in ("", "jwt=garbage", f"jwt={site_token('GET', '/elsewhere')}"):
        page = cloud_client.simulate_get(
            "/extensions/jira/configure/", query_string=query
        )
        assert page.status_code == 401
        assert "Unable to verify" in page.text and "tbc_" not in page.text
    forged = site_token(
        "GET",
        "/extensions/jira/configure",
        secret="not the site's secret at all, though long enough",
    )
    page = cloud_client.simulate_get(
        "/extensions/jira/configure/", query_string=f"jwt={forged}"
    )
    assert page.status_code == 401 and "tbc_" not in page.text


def test_the_configure_page_shows_a_code_framed_only_by_the_site(
    cloud_client, installed
):
    token = site_token("GET", "/extensions/jira/configure", "lic=none")
    page = cloud_client.simulate_get(
        "/extensions/jira/configure/", query_string=f"lic=none&jwt={token}"
    )
    assert page.status_code == 200
    assert "tbc_" in page.text
    policy = page.headers["content-security-policy"]
    assert policy.endswith(f"frame-ancestors 'self' {installed.url}")
    assert "x-frame-options" not in page.headers
    assert page.headers["cache-control"] == "no-store"


def test_claiming_makes_the_integration_and_asks_the_site_who_the_app_is(
    claimed, installed
):
    assert claimed.provider == "jira" and claimed.external_id == CLIENT_KEY
    assert claimed.name == f"Jira Cloud ({installed.url.removeprefix('http://')})"
    assert claimed.metadata["account_id"] == installed.account_id
    [(method, path, _, claims)] = installed.requests
    assert (method, path) == ("GET", "/rest/api/3/myself")
    assert claims["iss"] == "tb.example.trackbridge"
    assert claims["exp"] - claims["iat"] == 300


def test_a_code_works_once_for_an_hour_and_only_as_typed(
    cloud_host, cloud_client, installed, org, clock
):
    beta = cloud_host.organizations.create("beta")

    def claim(organization, code):
        status = cloud_host.setup.start(organization, "jira")
        return cloud_host.setup.submit(
            organization, status.pipeline_id, {"claim_code": code}
        )

    code = claim_code(cloud_client)
    for wrong in ("", "tbc_guessed", code + "x"):
        with pytest.raises(ValidationError) as refused:
            claim(beta, wrong)
        assert "claim_code" in refused.value.errors
    assert claim(org, code).complete
    with pytest.raises(ValidationError):
        claim(beta, code)  # used up: another organization cannot replay it
    late = claim_code(cloud_client)
    clock.advance(3601)
    with pytest.raises(ValidationError):
        claim(beta, late)
    assert cloud_host.integrations.list(beta) == []
