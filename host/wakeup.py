"""Waking idle job workers on this machine when a job is queued.

Each job worker listens on a Unix datagram socket in a folder named after
the database (its engine's ``wake_key``: the SQLite file, or the PostgreSQL
server and database; under the temporary folder, as a socket's path may not
be longer than 107 bytes); whoever commits a new job sends one byte to
every socket there. An idle worker then claims it within milliseconds
instead of at its next poll (``[jobs] poll_interval_seconds``, which stays
the fallback, and the only way for workers on other machines). Sending
never blocks and never fails the caller: a worker that is busy or gone
simply misses the nudge.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import select
import socket
import tempfile
import time
from pathlib import Path

_NUMBERS = itertools.count()


@functools.lru_cache(maxsize=16)
def wake_dir(database: str) -> Path:
    """Kept per database: every commit that queues a job asks for it."""
    digest = hashlib.sha256(database.encode()).hexdigest()
    return Path(tempfile.gettempdir()) / f"trackbridge-wake-{digest[:16]}"


class Listener:
    """One worker's socket; :meth:`wait` returns when nudged or at timeout."""

    def __init__(self, database: str) -> None:
        folder = wake_dir(database)
        folder.mkdir(mode=0o700, exist_ok=True)
        self.path = folder / f"{os.getpid()}-{next(_NUMBERS)}.sock"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        """Wait for a nudge (or ``timeout`` seconds); whether one came."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(64):  # every nudge so far counts as one
                pass
        return True

    def poke(self) -> None:
        """Nudge this listener (a job of its own worker finished)."""
        _send(self.path)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def notify(database: str) -> None:
    """Nudge every worker listening beside ``database``."""
    folder = wake_dir(database)
    for path in _sockets(folder):
        _send(path)


#: folder -> (when listed, its sockets): workers come and go rarely, and a
#: new one polls until the next listing finds it.
_LISTED: dict[Path, tuple[float, list[Path]]] = {}
LISTING_SECONDS = 1.0


def _sockets(folder: Path) -> list[Path]:
    listed_at, paths = _LISTED.get(folder, (0.0, []))
    if time.monotonic() - listed_at > LISTING_SECONDS:
        try:
            names = os.listdir(folder)
        except OSError:
            names = []  # no worker has listened here
        paths = [folder / name for name in names if name.endswith(".sock")]
        _LISTED[folder] = (time.monotonic(), paths)
    return paths


def _send(path: Path) -> None:
    try:
        _sender().sendto(b"j", str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        # Its worker died without closing it: remove what nobody reads.
        with contextlib.suppress(OSError):
            path.unlink()
    except OSError:
        pass  # full (the worker is busy anyway), or not ours to write


_SENDER: socket.socket | None = None


def _sender() -> socket.socket:
    """One unbound datagram socket per process for every nudge (a commit
    on the webhook path sends one; a socket each time cost more)."""
    global _SENDER
    if _SENDER is None:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.setblocking(False)
        _SENDER = sender
    return _SENDER
