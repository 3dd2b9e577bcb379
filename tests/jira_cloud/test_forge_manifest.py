"""The Forge manifest (Connect-on-Forge) names the same modules, lifecycle
and webhooks as the descriptor the host serves, and every URL it names is
one the host answers."""

from __future__ import annotations

from pathlib import Path

import yaml

from plugins.jira.descriptor import descriptor

MANIFEST = Path(__file__).resolve().parents[2] / "plugins/jira/forge/manifest.yml"


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_manifest_is_connect_on_forge():
    found = manifest()
    app = found["app"]
    assert app["id"].startswith("ari:cloud:ecosystem::app/")
    assert app["connect"]["remote"] == found["remotes"][0]["key"]
    assert app["connect"]["authentication"] == "jwt"
    assert found["remotes"][0]["baseUrl"].startswith("https://")
    assert not found["remotes"][0]["baseUrl"].endswith("/")
    assert set(found["permissions"]["scopes"]) == {
        "read:connect-jira",
        "write:connect-jira",
        "act-as-user:connect-jira",
    }
    assert found["modules"] == {}
    # The app key the descriptor would give a host at the remote's URL.
    host = found["remotes"][0]["baseUrl"].removeprefix("https://")
    assert app["connect"]["key"] == f"{host}.trackbridge"


def test_it_names_what_the_descriptor_names(cloud_host):
    found = manifest()["connectModules"]
    served = descriptor(cloud_host)
    [lifecycle] = found["jira:lifecycle"]
    assert {k: lifecycle[k] for k in ("installed", "uninstalled")} == served[
        "lifecycle"
    ]
    assert [
        (w["event"], w["url"], w["excludeBody"]) for w in found["jira:webhooks"]
    ] == [
        (w["event"], w["url"], w["excludeBody"]) for w in served["modules"]["webhooks"]
    ]
    [configure] = found["jira:configurePage"]
    assert configure["url"] == served["modules"]["configurePage"]["url"]
    keys = [m["key"] for modules in found.values() for m in modules]
    assert len(keys) == len(set(keys))  # module keys are unique


def test_every_url_it_names_is_served(cloud_client):
    found = manifest()["connectModules"]
    [lifecycle] = found["jira:lifecycle"]
    posts = [lifecycle["installed"], lifecycle["uninstalled"]] + [
        w["url"] for w in found["jira:webhooks"]
    ]
    for url in posts:
        # Unsigned: refused by the app's own check (409), never a 404 or 405.
        answer = cloud_client.simulate_post(url, json={})
        assert answer.status_code == 409, (url, answer.status_code)
    [configure] = found["jira:configurePage"]
    page = cloud_client.simulate_get(configure["url"])
    assert page.status_code == 401 and "Unable to verify" in page.text
