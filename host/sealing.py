"""Secrets sealed at rest: what a copy of the database file alone cannot reveal.

Credentials, setup pipeline state (a private key being generated, a request
token secret) and the webhook URL a control node still has to forward are
stored sealed with Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``). The key comes from ``TRACKBRIDGE_SECRET_KEY`` or, for the
default setup, from a key file created beside the database with mode 0600.

Several keys may be given, comma-separated: the first seals, all of them
open, which is how ``trackbridge rotate-key`` moves every secret to a new key
without a moment where some secret cannot be read.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from host.errors import ConfigError

#: Sealed values start with this, so plaintext left by an older version is
#: recognised (and sealed on the next start).
PREFIX = "sealed:"


class SecretKeyError(ConfigError):
    """The secret key is missing, malformed, or does not open a stored secret."""


class SecretBox:
    """Seals and opens text with the host's secret keys."""

    def __init__(self, keys: list[str], *, key_path: Path | None = None) -> None:
        self.key_path = key_path
        self._seen = _signature(key_path)
        self._use(keys)
        # Per box: opening costs about 20 µs, and every webhook needs its
        # integration's secret. Keyed by the sealed text, so a value sealed
        # again under a new key is a new entry.
        self._open = functools.lru_cache(maxsize=1024)(self._open_uncached)

    def _use(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyError("No secret key.")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise SecretKeyError(
                "A secret key must be 32 url-safe base64-encoded bytes"
                " (make one with `trackbridge rotate-key --print-new-key`)."
            ) from None
        self.keys = list(keys)

    @classmethod
    def for_database(cls, database: str | Path, secret_key: str | None) -> SecretBox:
        """The box for ``database``: the given keys, else its key file.

        An in-memory database gets a key of its own, which dies with it.
        """
        if secret_key:
            return cls(parse_keys(secret_key))
        if str(database) == ":memory:":
            return cls([Fernet.generate_key().decode()])
        path = key_file(database)
        return cls(read_key_file(path, create=True), key_path=path)

    def seal(self, plaintext: str) -> str:
        """Seal with the first key of the key file as it is now.

        Checked on every seal (sealing is rare): a process still sealing with
        a key that ``trackbridge rotate-key`` replaced would store secrets no
        other process can open.
        """
        if self.key_path is not None and _signature(self.key_path) != self._seen:
            self._reload()
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, stored: str) -> str:
        """The plaintext of a sealed value; plaintext passes through as it is."""
        if not stored.startswith(PREFIX):
            return stored
        return self._open(stored)

    def reseal(self, stored: str) -> str:
        """``stored`` sealed with the first key (plaintext gets sealed)."""
        return self.seal(self.open(stored))

    def _reload(self) -> None:
        self._seen = _signature(self.key_path)
        self._use(read_key_file(self.key_path))

    def _open_uncached(self, stored: str) -> str:
        token = stored[len(PREFIX) :].encode()
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            pass
        if self.key_path is not None:
            # `trackbridge rotate-key` may have changed the file under us.
            self._reload()
            with contextlib.suppress(InvalidToken):
                return self._fernet.decrypt(token).decode()
        raise SecretKeyError(
            "A stored secret cannot be opened with the configured secret key"
            " (was TRACKBRIDGE_SECRET_KEY or the key file changed?)."
        )


def _signature(path: Path | None) -> tuple[int, int] | None:
    """What changes when the key file is replaced (``os.replace``: a new inode)."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def parse_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


def new_key() -> str:
    return Fernet.generate_key().decode()


def key_file(database: str | Path) -> Path:
    """Where the default setup keeps its key: beside the database."""
    return Path(f"{database}.key")


def read_key_file(path: Path, *, create: bool = False) -> list[str]:
    """The keys in ``path`` (one per line); created with a new key if asked.

    :raises SecretKeyError: the file is missing, empty, or readable by others.
    """
    if create and not path.exists():
        write_key_file(path, [new_key()])
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text()
    except FileNotFoundError:
        raise SecretKeyError(f"Secret key file {path} does not exist.") from None
    if mode & 0o077:
        raise SecretKeyError(
            f"Secret key file {path} is readable by others (mode {mode:o});"
            f" run: chmod 600 {path}"
        )
    keys = parse_keys(text.replace("\n", ","))
    if not keys:
        raise SecretKeyError(f"Secret key file {path} holds no key.")
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically; it is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(keys) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
