"""The change feed's outbox: events in the order they became visible.

Ids are handed out when a row is inserted, but transactions commit in any
order on PostgreSQL: a reader that had passed id 60 would never see id 55
committing after it. So each event also keeps its transaction's place
(``tx``, :attr:`host.store.engine.Engine.transaction_order`), the feed is
read in ``(tx, id)`` order, and only below the oldest transaction still
running (:attr:`~host.store.engine.Engine.finished_before`): whatever
commits later sorts after every position already read. On SQLite, whose
writer is alone, ``tx`` is 0 and the order is the ids'.

The price on PostgreSQL: the oldest running transaction that writes, in any
database of the server, holds back what the feed shows until it ends (read
only transactions have no id and hold back nothing). A delay, never a loss.
"""

from __future__ import annotations

from collections.abc import Sequence

from host.store import rows
from host.store.engine import Engine

#: A position in the feed: (tx, id); (0, 0) is before every event.
Position = tuple[int, int]


class EventStore:
    def __init__(self, db: Engine) -> None:
        self.db = db

    def add(
        self,
        organization_id: int,
        type: str,
        data: dict,
        group_id: int | None,
        created_at: str,
    ) -> int:
        """Record an event (call in the transaction of the change)."""
        cursor = self.db.execute(
            "INSERT INTO events (organization_id, tx, type, group_id, data,"
            f" created_at) VALUES (?, {self.db.transaction_order}, ?, ?, ?, ?)"
            " RETURNING id",
            [organization_id, type, group_id, rows.dumps(data), created_at],
        )
        return rows.inserted_id(cursor)

    def after(
        self,
        organization_id: int,
        position: Position,
        limit: int,
        types: Sequence[str] = (),
    ) -> list[dict]:
        """Up to ``limit`` of the organization's events after ``position``
        that no transaction still running can precede, in feed order."""
        tx, event_id = position
        cursor = self.db.execute(
            "SELECT * FROM events WHERE organization_id = ?"
            " AND (tx > ? OR (tx = ? AND id > ?))"
            f" AND tx < {self.db.finished_before}{_of_types(types)}"
            " ORDER BY tx, id LIMIT ?",
            [organization_id, tx, tx, event_id, *types, limit],
        )
        return [{**dict(row), "data": rows.loads(row["data"])} for row in cursor]

    def last(self, organization_id: int) -> Position:
        """The organization's newest event's position ((0, 0): none)."""
        row = self.db.execute(
            "SELECT tx, id FROM events WHERE organization_id = ?"
            " ORDER BY tx DESC, id DESC LIMIT 1",
            [organization_id],
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def pending_after(
        self, organization_id: int, position: Position, types: Sequence[str] = ()
    ) -> bool:
        """Whether any event (of ``types``) follows ``position``, shown yet
        or not."""
        tx, event_id = position
        return (
            self.db.execute(
                "SELECT 1 FROM events WHERE organization_id = ?"
                f" AND (tx > ? OR (tx = ? AND id > ?)){_of_types(types)} LIMIT 1",
                [organization_id, tx, tx, event_id, *types],
            ).fetchone()
            is not None
        )

    def get(self, organization_id: int, event_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM events WHERE organization_id = ? AND id = ?",
            [organization_id, event_id],
        ).fetchone()
        return {**dict(row), "data": rows.loads(row["data"])} if row else None

    def trimmed(self) -> Position:
        """The last position the retention sweep deleted ((0, 0): none)."""
        row = self.db.execute("SELECT tx, event_id FROM event_trims").fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def delete_older(self, created_before: str, limit: int) -> int:
        """Up to ``limit`` of the oldest events created before the time (call
        in a transaction); the trim mark moves past them."""
        deleted = self.db.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events"
            " WHERE created_at < ? ORDER BY id LIMIT ?) RETURNING tx, id",
            [created_before, limit],
        ).fetchall()
        if deleted:
            last = max((row[0], row[1]) for row in deleted)
            self.db.execute(
                "INSERT INTO event_trims (id, tx, event_id) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET tx = excluded.tx,"
                " event_id = excluded.event_id"
                " WHERE (excluded.tx, excluded.event_id)"
                " > (event_trims.tx, event_trims.event_id)",
                [*last],
            )
        return len(deleted)


def _of_types(types: Sequence[str]) -> str:
    """The condition that keeps events of ``types`` (none: every type)."""
    return f" AND type IN ({', '.join('?' for _ in types)})" if types else ""
