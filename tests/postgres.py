"""A throwaway PostgreSQL server for the tests: started once per test
session on loopback and a free port, in a temporary folder, and stopped
(its folder removed) at the end.

The server binaries come from Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``; ``.ci/run`` installs it when it is
missing). ``initdb`` refuses to run as root, so as root the server runs as
the ``postgres`` system user. Durability is off (``fsync``,
``synchronous_commit``, ``full_page_writes``): a test server never outlives
its session.

Each test gets a database of its own, copied from a migrated template
(``CREATE DATABASE ... TEMPLATE``) and dropped after it: 250 ms a test,
which 685 tests waited for in turn. :class:`DatabasePool` makes the next
one while a test runs, on a second server: a transaction that writes, in
any database of a server, holds back what that server's change feed may
show (``host.store.events``), and tests read the feed; so the two servers
take turns, and nothing runs on the server a test is using.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

USER = "tb"


class ServerUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def binaries() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (the newest version found).

    :raises ServerUnavailable: PostgreSQL's server is not installed.
    """
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit()
        else 0,
    )  # fmt: skip
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ServerUnavailable(
        "PostgreSQL's server is not installed (apt-get install postgresql;"
        " .ci/run does it)"
    )


class Server:
    """A running server; :meth:`database` makes a fresh database on it."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="trackbridge-pg-"))
        self.as_postgres = os.geteuid() == 0
        self.port = _free_port()
        self._names = itertools.count(1)
        if self.as_postgres:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
            shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o711)
        data = self.folder / "data"
        self._run(
            "initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self._run(
            "pg_ctl", "start", "-w", "-D", str(data), "-l", str(self.folder / "log"),
            "-o", f"-c listen_addresses=127.0.0.1 -p {self.port}"
            f" -k {self.folder} -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=300",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty (or ``template``'s copy) database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        copy = f" TEMPLATE {template}" if template else ""
        self.admin(f"CREATE DATABASE {name}{copy}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "stop", "-m", "immediate", "-D",
                      str(self.folder / "data"))  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode:
            raise ServerUnavailable(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}"
                f"\n{self.log()}"
            )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DatabasePool:
    """Fresh migrated databases, each made while the test before ran.

    Two servers take turns: a test's database is on one while the next is
    made (and the last dropped) on the other, in one background thread, so
    no test shares its server with a write it did not make. (A test that
    makes databases itself on ``postgres_server``, the first, may share it:
    those copy and migrate, and read no feed.)
    """

    def __init__(self, first: Server, migrate: Callable[[str], None]) -> None:
        self._servers: list[Server | None] = [first, None]
        self._templates: list[str | None] = [None, None]
        self._migrate = migrate
        self._turn = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="databases")
        self._next: Future[str] = self._thread.submit(self._create, 0)

    def take(self) -> str:
        """A database of its own for the next test (its URL); the one after
        it is started on the other server."""
        url = self._next.result()
        self._turn = 1 - self._turn
        self._next = self._thread.submit(self._create, self._turn)
        return url

    def give_back(self, url: str) -> None:
        """Drop ``url`` once the test is done (in the background, after the
        database being made, on the server the next test is not using)."""
        server = next(s for s in self._servers if s and url.startswith(s.url("")))
        self._thread.submit(server.drop_database, url)

    def close(self) -> None:
        """Wait for the background work; stop the second server."""
        self._thread.shutdown(wait=True)
        if self._servers[1] is not None:
            self._servers[1].stop()

    def _create(self, turn: int) -> str:
        server = self._servers[turn]
        if server is None:
            server = self._servers[turn] = Server()
        if self._templates[turn] is None:
            template = server.create_database()
            self._migrate(template)
            self._templates[turn] = template.rsplit("/", 1)[1]
        return server.create_database(template=self._templates[turn])
