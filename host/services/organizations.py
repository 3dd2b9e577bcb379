"""Organizations, members and API tokens."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from host import validation
from host.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from host.services.groups import Source
from host.services.links import hash_secret
from host.store import IntegrityError
from host.times import epoch_of, iso_time
from host.types import Group, Member, Organization

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
        except IntegrityError:
            raise Conflict(f"Organization {slug!r} already exists.") from None
        return self.store.organizations.get(organization_id)

    def get(self, slug: str) -> Organization:
        organization = self.store.organizations.get_by_slug(slug)
        if organization is None:
            raise NotFound(f"Organization {slug!r} not found.")
        return organization

    def list(self) -> list[Organization]:
        return self.store.organizations.list()

    def add_member(
        self, organization: Organization, email: str, name: str
    ) -> tuple[Member, bool]:
        """Add a member; return it and whether it is new. An existing member
        is returned unchanged (its name too): adding is not editing."""
        email = validation.email(email)
        with self.store.transaction():
            member_id, created = self.store.organizations.add_member(
                organization.id, email, name.strip() or email
            )
        return self.store.organizations.member(organization.id, member_id), created

    def members(self, organization: Organization) -> list[Member]:
        return self.store.organizations.members(organization.id)

    def member_by_email(self, organization: Organization, email: str) -> Member:
        member = self.store.organizations.member_by_email(organization.id, email)
        if member is None:
            raise NotFound(f"No member with email {email!r}.")
        return member

    def remove_member(self, organization: Organization, email: str) -> list[Group]:
        """Remove a member; return the groups that were assigned to them.

        Each of those is unassigned first, as a person would do it: an
        event, an activity entry and, where sending assignments is on, the
        unassignment sent to the tracker. (The database alone would clear
        the assignee silently, and the tracker would keep showing them.)
        One transaction, so a group assigned meanwhile is not missed.

        :raises NotFound: no member with this email.
        """
        with self.store.transaction():
            member = self.member_by_email(organization, email)
            groups = self.store.groups.assigned_to(organization.id, member.id)
            for group in groups:
                self.host.groups.set_assignee(group, None, Source(user=True))
            self.store.organizations.remove_member(organization.id, member.id)
        return groups

    def create_token(
        self,
        organization: Organization,
        label: str = "",
        expires_in: float | None = None,
    ) -> str:
        """Create an API token; the plaintext is returned once, never stored.

        :param expires_in: seconds until it stops working (None: never).
        """
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = None if expires_in is None else self.host.clock() + expires_in
        with self.store.transaction():
            self.store.organizations.add_token(
                organization.id, hash_secret(token), token[:8], label, expires_at
            )
        return token

    def tokens(self, organization: Organization) -> list[dict]:
        """Its live and expired tokens (never their secret): id, label,
        prefix, created, last used, expiry."""
        return [
            {
                **token,
                "expires_at": token["expires_at"] and iso_time(token["expires_at"]),
            }
            for token in self.store.organizations.tokens(organization.id)
        ]

    def revoke_token(self, organization: Organization, token_id: int) -> None:
        """Revoke one of its tokens: refused from the next request on, in
        every process (nothing caches a token).

        :raises NotFound: no such token of this organization.
        """
        with self.store.transaction():
            revoked = self.store.organizations.revoke_token(organization.id, token_id)
        if not revoked:
            raise NotFound(f"Token {token_id} not found.")

    def authenticate(self, token: str) -> tuple[Organization, int]:
        """The organization of a live token, and the token's id.

        "Last used" is written at most once a minute per token, so a busy
        client does not turn every read into a write.
        """
        now = self.host.clock()
        found = self.store.organizations.token_for_hash(hash_secret(token), now)
        if found is None:
            raise NotAuthenticated("Invalid API token.")
        used = found["last_used_at"]
        if used is None or epoch_of(used) < now - LAST_USED_RESOLUTION:
            with self.store.transaction():
                self.store.organizations.touch_token(found["id"], iso_time(now))
        return found["organization"], found["id"]


#: Seconds within which a token's "last used" is not written again.
LAST_USED_RESOLUTION = 60.0
