"""Every secret trackbridge hands out for a while, swept in one place: each
works, expires, and (where it is one-time) works once; a finished setup
pipeline cannot be used again; each is kept only as its hash."""

from __future__ import annotations

import pytest

from host.errors import NotFound
from host.services.links import hash_secret
from host.services.settings import SESSION_SECONDS
from tests.conftest import dump as everything
from tests.conftest import install_tiny

STEP = {"url": "https://tiny.example", "secret": "long enough secret"}


@pytest.fixture
def integration(host, org):
    return install_tiny(host, org, external_id="installed.example")


def kinds(host, org, integration):
    """(name, make one, use it -> organization or raise/None, lifetime, one-time)."""
    ttl = host.config.setup_ttl_seconds

    def use_setup_pipeline(pipeline_id):
        return host.setup.organization_of(pipeline_id)

    def use_session(session_id):
        found = host.settings.session_organization(session_id)
        if found is None:
            raise NotFound("no session")
        return found

    return [
        (
            "setup link",
            lambda: host.setup.create_link(org, "tiny"),
            lambda token: host.setup.redeem_link(token, "tiny"),
            ttl,
            True,
        ),
        (
            "settings link",
            lambda: host.settings.create_link(org, integration.id),
            lambda token: host.settings.redeem_link(token, integration.id),
            ttl,
            True,
        ),
        (
            "setup pipeline",
            lambda: host.setup.start(org, "tiny").pipeline_id,
            use_setup_pipeline,
            ttl,
            False,
        ),
        (
            "settings session",
            lambda: host.settings.start_session(org),
            use_session,
            SESSION_SECONDS,
            False,
        ),
    ]


def test_each_works_then_expires(host, org, integration, clock):
    for name, make, use, lifetime, one_time in kinds(host, org, integration):
        fresh = make()
        assert use(fresh).id == org.id, name
        if not one_time:
            clock.advance(lifetime - 1)
            assert use(fresh).id == org.id, f"{name} expired early"
            clock.advance(2)
        else:
            late = make()
            clock.advance(lifetime + 1)
            fresh = late
        with pytest.raises(NotFound):
            use(fresh)


def test_one_time_links_work_once(host, org, integration):
    for name, make, use, _, one_time in kinds(host, org, integration):
        if not one_time:
            continue
        token = make()
        assert use(token).id == org.id, name
        with pytest.raises(NotFound, match="expired or was already used"):
            use(token)
        # A link for one purpose opens nothing else.
        other = make()
        with pytest.raises(NotFound):
            host.setup.redeem_link(other, "jira_server")
        with pytest.raises(NotFound):
            host.settings.redeem_link(other, integration.id + 1)


def test_a_finished_setup_pipeline_is_gone(host, org):
    pipeline = host.setup.start(org, "tiny").pipeline_id
    done = host.setup.submit(org, pipeline, STEP)
    assert done.complete
    with pytest.raises(NotFound):
        host.setup.organization_of(pipeline)
    with pytest.raises(NotFound):
        host.setup.submit(org, pipeline, STEP)


def test_another_organization_cannot_use_a_pipeline(host, org):
    pipeline = host.setup.start(org, "tiny").pipeline_id
    other = host.organizations.create("other", "Other")
    with pytest.raises(NotFound):
        host.setup.submit(other, pipeline, STEP)
    with pytest.raises(NotFound):
        host.setup.status(other, pipeline)


def test_only_hashes_are_stored(host, org, integration):
    handed_out = [make() for _, make, _, _, _ in kinds(host, org, integration)]
    handed_out.append(host.organizations.create_token(org))
    dump = everything(host.store)
    for secret in handed_out:
        assert secret not in dump
    assert hash_secret(handed_out[0]) in dump
