"""How the host writes times: ISO 8601 UTC with microseconds, which sorts
as text, and converts from and to the Unix times host clocks give."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> str:
    """The current time as ISO 8601 UTC with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_time(epoch: float) -> str:
    """A Unix time in :func:`utcnow`'s format (host clocks give Unix times)."""
    return (
        datetime.fromtimestamp(epoch, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def epoch_of(iso: str) -> float:
    """The Unix time of a :func:`utcnow` string."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
