"""Jira Cloud sites that installed the app: tenants, kept in the plugin's
own table until an organization claims one.

Atlassian calls ``installed`` before any organization of ours knows the
site exists, so what it sends (the site's ``clientKey``, base URL and the
shared secret every later call is signed with) cannot become an
integration yet. The shared secret is sealed at rest with the host's key,
as the host's own credentials are. A re-install replaces the secret and
makes the tenant installed again; ``uninstalled`` marks it so (its links,
once it has any, are kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from host.schema import MigrationSet
from host.times import utcnow

migrations = MigrationSet("jira")
migrations.sealed("jira_tenants", "id", "shared_secret")


@migrations.step
def m001_tenants(schema):
    schema.execute(
        "CREATE TABLE jira_tenants ("
        " id INTEGER PRIMARY KEY,"
        " client_key TEXT NOT NULL,"
        " base_url TEXT NOT NULL,"
        " display_url TEXT,"
        " shared_secret TEXT NOT NULL,"
        " server_version TEXT,"
        " status TEXT NOT NULL,"
        " installed_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    )
    schema.execute(
        "CREATE UNIQUE INDEX idx_jira_tenants_client_key ON jira_tenants (client_key)"
    )


@migrations.step
def m002_claim_codes(schema):
    # The one-time code the app's configure page in Jira shows: only its
    # hash is kept, with when it stops working.
    schema.execute("ALTER TABLE jira_tenants ADD COLUMN claim_hash TEXT")
    schema.execute("ALTER TABLE jira_tenants ADD COLUMN claim_expires_at REAL")


INSTALLED = "installed"
UNINSTALLED = "uninstalled"


@dataclass(frozen=True, kw_only=True)
class Tenant:
    id: int
    client_key: str
    base_url: str
    display_url: str | None
    server_version: str | None
    status: str
    installed_at: str
    updated_at: str


class TenantStore:
    def __init__(self, host) -> None:
        self.host = host

    @property
    def _db(self):
        return self.host.store.db

    def save_install(
        self,
        client_key: str,
        base_url: str,
        shared_secret: str,
        *,
        display_url: str | None,
        server_version: str | None,
    ) -> tuple[Tenant, bool]:
        """Record an install (or a re-install: new secret, installed again);
        the tenant and whether it is new."""
        now = utcnow()
        sealed = self.host.store.box.seal(shared_secret)
        with self.host.store.transaction():
            existing = self.get(client_key)
            self._db.execute(
                "INSERT INTO jira_tenants (client_key, base_url, display_url,"
                " shared_secret, server_version, status, installed_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (client_key) DO UPDATE SET"
                " base_url = excluded.base_url, display_url = excluded.display_url,"
                " shared_secret = excluded.shared_secret,"
                " server_version = excluded.server_version,"
                " status = excluded.status, updated_at = excluded.updated_at",
                [
                    client_key,
                    base_url,
                    display_url,
                    sealed,
                    server_version,
                    INSTALLED,
                    now,
                    now,
                ],
            )
        return self.get(client_key), existing is None

    def mark_uninstalled(self, client_key: str) -> None:
        with self.host.store.transaction():
            self._db.execute(
                "UPDATE jira_tenants SET status = ?, updated_at = ?"
                " WHERE client_key = ?",
                [UNINSTALLED, utcnow(), client_key],
            )

    def get(self, client_key: str) -> Tenant | None:
        row = self._db.execute(
            "SELECT id, client_key, base_url, display_url, server_version, status,"
            " installed_at, updated_at FROM jira_tenants WHERE client_key = ?",
            [client_key],
        ).fetchone()
        if row is None:
            return None
        return Tenant(
            id=row[0],
            client_key=row[1],
            base_url=row[2],
            display_url=row[3],
            server_version=row[4],
            status=row[5],
            installed_at=row[6],
            updated_at=row[7],
        )

    def set_claim(self, client_key: str, code_hash: str, expires_at: float) -> None:
        """The tenant's claim code from now on (a newer one replaces it)."""
        with self.host.store.transaction():
            self._db.execute(
                "UPDATE jira_tenants SET claim_hash = ?, claim_expires_at = ?"
                " WHERE client_key = ?",
                [code_hash, expires_at, client_key],
            )

    def redeem_claim(self, code_hash: str, now: float) -> Tenant | None:
        """The installed tenant whose live claim code this is; the code is
        used up (it works once)."""
        with self.host.store.transaction():
            row = self._db.execute(
                "SELECT client_key FROM jira_tenants WHERE claim_hash = ?"
                " AND claim_expires_at > ? AND status = ?",
                [code_hash, now, INSTALLED],
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jira_tenants SET claim_hash = NULL, claim_expires_at = NULL"
                " WHERE client_key = ?",
                [row[0]],
            )
        return self.get(row[0])

    def shared_secret(self, client_key: str) -> str | None:
        row = self._db.execute(
            "SELECT shared_secret FROM jira_tenants WHERE client_key = ?", [client_key]
        ).fetchone()
        return self.host.store.box.open(row[0]) if row else None
