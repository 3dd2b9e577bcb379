"""Organizations, members and API tokens."""

from __future__ import annotations

import secrets
import sqlite3
from typing import TYPE_CHECKING

from host import validation
from host.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from host.services.links import hash_secret
from host.types import Member, Organization

if TYPE_CHECKING:
    from host.core import Host

TOKEN_PREFIX = "tb_"


class OrganizationService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    def create(
        self, slug: str, name: str | None = None, region: str | None = None
    ) -> Organization:
        """Create an organization, served here or (on a control node) by the
        host of ``region``."""
        validation.slug(slug)
        regions = self.host.config.regions
        if region is not None and region not in regions:
            known = ", ".join(sorted(regions)) or "none: this host has no [regions]"
            raise ValidationError(
                {"region": [f"Unknown region {region!r} (configured: {known})."]}
            )
        try:
            with self.store.transaction():
                organization_id = self.store.organizations.create(
                    slug, name or slug, region
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"Organization {slug!r} already exists.") from None
        return self.store.organizations.get(organization_id)

    def get(self, slug: str) -> Organization:
        organization = self.store.organizations.get_by_slug(slug)
        if organization is None:
            raise NotFound(f"Organization {slug!r} not found.")
        return organization

    def list(self) -> list[Organization]:
        return self.store.organizations.list()

    def add_member(self, organization: Organization, email: str, name: str) -> Member:
        email = validation.email(email)
        with self.store.transaction():
            member_id = self.store.organizations.add_member(
                organization.id, email, name.strip() or email
            )
        return self.store.organizations.member(organization.id, member_id)

    def members(self, organization: Organization) -> list[Member]:
        return self.store.organizations.members(organization.id)

    def member_by_email(self, organization: Organization, email: str) -> Member:
        member = self.store.organizations.member_by_email(organization.id, email)
        if member is None:
            raise NotFound(f"No member with email {email!r}.")
        return member

    def create_token(self, organization: Organization, label: str = "") -> str:
        """Create an API token; the plaintext is returned once, never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction():
            self.store.organizations.add_token(
                organization.id, hash_secret(token), token[:8], label
            )
        return token

    def authenticate(self, token: str) -> Organization:
        organization = self.store.organizations.organization_for_token(
            hash_secret(token)
        )
        if organization is None:
            raise NotAuthenticated("Invalid API token.")
        return organization
