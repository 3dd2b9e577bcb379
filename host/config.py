"""Configuration: ``config.ini`` plus environment overrides.

The file is optional; every key has a default that gives a working host on
127.0.0.1:8000 with SQLite under ``var/``. ``TRACKBRIDGE_CONFIG`` names the
file and ``TRACKBRIDGE_DATABASE`` overrides the database path. A value written
as ``$NAME`` is read from the environment, so secrets need not sit in files.
"""

from __future__ import annotations

import configparser
import difflib
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from host.errors import ConfigError
from host.logs import FORMATS
from host.store.engine import is_postgresql, redacted

DEFAULT_CONFIG_FILE = "config.ini"
SECRET_KEY_PATTERN = re.compile(r"secret|password|token|private|credential|key$", re.I)
REDACTED = "***"


@dataclass(frozen=True, kw_only=True)
class JobsConfig:
    max_attempts: int = 8
    lease_seconds: float = 60.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    poll_interval_seconds: float = 0.2
    #: Seconds between reconciliation passes of each integration (0: off).
    reconcile_interval_seconds: float = 300.0
    #: Jobs one worker process runs at once (each in a thread).
    concurrency: int = 8
    #: Of those, at most this many for one integration (one tracker), across
    #: every worker process.
    per_integration_concurrency: int = 2
    #: Job worker processes ``trackbridge serve`` starts.
    workers: int = 1
    #: The longest one tracker call made by a job may take, all of it
    #: (connecting, waiting, reading): shorter than the lease.
    tracker_timeout_seconds: float = 15.0
    #: Consecutive timeouts or failed connections after which a tracker's
    #: jobs wait for a probe (see :mod:`host.breakers`), and the first wait.
    breaker_failures: int = 3
    breaker_probe_seconds: float = 30.0


@dataclass(frozen=True, kw_only=True)
class Config:
    """The effective configuration, typed and validated."""

    #: A SQLite file, or a PostgreSQL URL (text).
    database: Path | str = Path("var/trackbridge.db")
    #: Where Jira and browsers reach this host. Unset, it follows ``bind``
    #: (and ``serve --bind``): see :func:`url_for_bind`.
    public_url: str = "http://127.0.0.1:8000"
    #: Whether ``public_url`` was set ([host] public_url or
    #: ``TRACKBRIDGE_PUBLIC_URL``), not derived from the bind.
    public_url_set: bool = False
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    #: Threads per web worker that run requests (bodies are read before a
    #: request reaches one, see :mod:`host.web`). More cost throughput
    #: (BENCHMARKS.md); ``/healthz`` has a thread of its own either way.
    threads: int = 1
    max_body_bytes: int = 1_048_576
    #: How deeply a JSON body may nest (see :mod:`host.jsontext`).
    max_json_depth: int = 64
    #: Seconds a client has to send its request headers, then its body
    #: (408 after).
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    #: Seconds a write waits for the database lock before a 503.
    write_timeout_seconds: float = 5.0
    #: Seconds a web request that calls a tracker may take before a 504.
    tracker_request_timeout_seconds: float = 10.0
    setup_ttl_seconds: int = 1800
    log_level: str = "info"
    #: ``text`` or ``json`` (one object per line); see :mod:`host.logs`.
    log_format: str = "text"
    disabled_plugins: tuple[str, ...] = ()
    jobs: JobsConfig = field(default_factory=JobsConfig)
    #: Region name -> base URL of its host. Non-empty makes this host a
    #: control node that forwards webhooks to the regions of organizations.
    regions: Mapping[str, str] = field(default_factory=dict)
    #: Shared by a control node and its regions to sign what it forwards.
    routing_secret: str = ""
    #: Seals secrets at rest (comma-separated, the first seals); empty: the
    #: key file beside the database (see :mod:`host.sealing`).
    secret_key: str = ""
    #: ``[host] allow_loopback_destinations``: outbound calls may reach
    #: 127.0.0.0/8 and ::1 (fake trackers in tests and the quick start).
    allow_loopback_destinations: bool = False
    #: Where a tracker's link back to a group points (a person clicks it):
    #: ``{public_url}``, ``{organization}`` (its slug) and ``{group_id}``
    #: filled in; empty: the group in the HTTP API.
    group_url_template: str = ""
    #: Days processed and ignored webhook deliveries are kept.
    delivery_retention_days: float = 14.0
    #: Days finished jobs are kept.
    job_retention_days: float = 7.0
    #: Days dead-lettered jobs are kept (listed and retryable until then).
    dead_letter_retention_days: float = 30.0
    #: Days events stay in the change feed (an older cursor gets 410).
    event_retention_days: float = 7.0
    #: Every section of the file, for plugins (``host.plugin_config(name)``).
    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: Path | None = None
    #: What was accepted but looks wrong (unknown keys, capped values), for
    #: the commands to log once.
    warnings: tuple[str, ...] = ()

    @property
    def data_dir(self) -> Path:
        """Where files kept beside the data live (CA bundles): the SQLite
        database's folder; with PostgreSQL, ``var/`` beside the config file."""
        if isinstance(self.database, Path):
            return self.database.parent
        return (self.source.resolve().parent if self.source else Path.cwd()) / "var"

    def plugin_config(self, name: str) -> dict[str, str]:
        """Return the ``[name]`` section as a dict (empty when absent)."""
        return dict(self.sections.get(name, {}))

    def redacted(self) -> dict[str, dict[str, str]]:
        """Every effective value by section, secrets replaced by ``***``."""
        effective = {
            "host": {
                "database": redacted(self.database),
                **{
                    name: _shown(getattr(self, name))
                    for name in HOST_KEYS
                    if name != "database"
                },
            },
            "jobs": {k: str(v) for k, v in vars(self.jobs).items()},
            "plugins": {"disabled": ", ".join(self.disabled_plugins)},
            "regions": dict(self.regions),
            "routing": {"secret": self.routing_secret},
        }
        for section, values in self.sections.items():
            if section not in effective:
                effective[section] = dict(values)
        return {
            section: {
                key: (REDACTED if value and SECRET_KEY_PATTERN.search(key) else value)
                for key, value in values.items()
            }
            for section, values in effective.items()
        }


def load_config(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read the config file (if any) and apply environment overrides.

    :raises ConfigError: a named file is missing, or a value is not what its
        key takes (one line naming the file, the section and the key).
    """
    env = os.environ if env is None else env
    explicit = path is not None or "TRACKBRIDGE_CONFIG" in env
    file = Path(path or env.get("TRACKBRIDGE_CONFIG") or DEFAULT_CONFIG_FILE)
    parser = configparser.ConfigParser(interpolation=None)
    if file.is_file():
        try:
            parser.read(file, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as ex:
            raise ConfigError(f"{file}: {_first_line(ex)}") from None
    elif explicit:
        raise ConfigError(f"Config file not found: {file}")
    where = f"{file}: " if file.is_file() else ""
    try:
        return _parse(parser, file, env)
    except ConfigError as ex:
        raise ConfigError(f"{where}{ex}") from None


def _database(env: Mapping[str, str], host: Mapping[str, str], base: Path):
    """A SQLite file (relative to the config file's folder), ``:memory:``,
    or a PostgreSQL URL (kept as text)."""
    database = (
        env.get("TRACKBRIDGE_DATABASE_URL")
        or env.get("TRACKBRIDGE_DATABASE")
        or host.get("database")
        or ""
    )
    if is_postgresql(database):
        parts = urlsplit(database)
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError(
                "[host] database: a PostgreSQL URL names its server, as in"
                " postgresql://user:password@db.example:5432/trackbridge"
            )
        return database
    database_path = Path(database) if database else Config.database
    if not database_path.is_absolute() and database != ":memory:":
        database_path = base / database_path
    return database_path


def _parse(parser, file: Path, env: Mapping[str, str]) -> Config:
    sections = {
        name: {key: _resolve_env(value, env) for key, value in parser[name].items()}
        for name in parser.sections()
    }
    warnings = [*_unknown_keys(sections)]
    base = file.resolve().parent if file.is_file() else Path.cwd()
    host = sections.get("host", {})
    jobs = sections.get("jobs", {})
    database_path = _database(env, host, base)
    numbers = {
        name: _number(host, name, getattr(Config, name), *bounds, section="host")
        for name, bounds in HOST_NUMBERS.items()
    }
    numbers["workers"] = capped_workers(numbers["workers"], warnings)
    if not (env.get("TRACKBRIDGE_PUBLIC_URL") or host.get("public_url")) and (
        host.get("bind", "").startswith(("0.0.0.0:", "[::]:"))
    ):
        warnings.append(
            f"[host] bind {host['bind']} serves other machines, but public_url is"
            " unset, so webhook and setup links point at this machine's"
            f" loopback ({url_for_bind(host['bind'].strip())}): set [host]"
            " public_url to the address trackers and browsers use."
        )
    defaults = JobsConfig()
    jobs_config = JobsConfig(
        **{
            name: _number(jobs, name, getattr(defaults, name), *bounds, section="jobs")
            for name, bounds in JOBS_NUMBERS.items()
        }
    )
    if jobs_config.backoff_max_seconds < jobs_config.backoff_base_seconds:
        raise ConfigError(
            "[jobs] backoff_max_seconds must be at least backoff_base_seconds"
            f" ({jobs_config.backoff_base_seconds})"
        )
    if jobs_config.tracker_timeout_seconds >= jobs_config.lease_seconds:
        raise ConfigError(
            "[jobs] tracker_timeout_seconds must be shorter than lease_seconds"
            f" ({jobs_config.lease_seconds:g})"
        )
    interval = jobs_config.reconcile_interval_seconds
    if 0 < interval < 1:
        raise ConfigError(
            "[jobs] reconcile_interval_seconds must be 0 (off) or at least 1"
        )
    bind = check_bind(host.get("bind") or Config.bind, "[host] bind")
    public_url = env.get("TRACKBRIDGE_PUBLIC_URL") or host.get("public_url")
    return Config(
        database=database_path,
        public_url=_public_url(public_url) if public_url else url_for_bind(bind),
        public_url_set=bool(public_url),
        bind=bind,
        **numbers,
        log_level=_choice(host, "log_level", Config.log_level, LOG_LEVELS),
        log_format=_choice(host, "log_format", Config.log_format, FORMATS),
        secret_key=env.get("TRACKBRIDGE_SECRET_KEY") or host.get("secret_key", ""),
        allow_loopback_destinations=_boolean(
            host, "allow_loopback_destinations", False, "host"
        ),
        group_url_template=_group_url_template(host.get("group_url_template", "")),
        disabled_plugins=tuple(
            name.strip()
            for name in re.split(
                r"[,\s]+", sections.get("plugins", {}).get("disabled", "")
            )
            if name.strip()
        ),
        jobs=jobs_config,
        regions=_regions(sections.get("regions", {})),
        routing_secret=_routing_secret(sections),
        sections=sections,
        source=file if file.is_file() else None,
        warnings=tuple(warnings),
    )


#: Numeric ``[host]`` keys: (type, smallest, largest).
HOST_NUMBERS: Mapping[str, tuple[type, float, float]] = {
    "workers": (int, 1, 1024),
    "threads": (int, 1, 64),
    "max_body_bytes": (int, 1024, 100 * 1024 * 1024),
    "max_json_depth": (int, 2, 512),
    "header_timeout_seconds": (float, 0.5, 300),
    "body_timeout_seconds": (float, 0.5, 3600),
    "write_timeout_seconds": (float, 0.1, 60),
    "tracker_request_timeout_seconds": (float, 0.5, 300),
    "setup_ttl_seconds": (int, 60, 7 * 86400),
    "delivery_retention_days": (float, 0.01, 36500),
    "job_retention_days": (float, 0.01, 36500),
    "dead_letter_retention_days": (float, 0.01, 36500),
    "event_retention_days": (float, 0.01, 36500),
}
#: Numeric ``[jobs]`` keys: (type, smallest, largest).
JOBS_NUMBERS: Mapping[str, tuple[type, float, float]] = {
    "max_attempts": (int, 1, 1000),
    "lease_seconds": (float, 1, 86400),
    "backoff_base_seconds": (float, 0.01, 86400),
    "backoff_max_seconds": (float, 0.01, 7 * 86400),
    "poll_interval_seconds": (float, 0.01, 60),
    "reconcile_interval_seconds": (float, 0, 7 * 86400),
    "concurrency": (int, 1, 256),
    "per_integration_concurrency": (int, 1, 256),
    "workers": (int, 1, 64),
    "tracker_timeout_seconds": (float, 0.1, 3600),
    "breaker_failures": (int, 1, 1000),
    "breaker_probe_seconds": (float, 0.1, 86400),
}
#: Every key of the host's own sections; anything else there is a warning.
HOST_KEYS = (
    "database",
    "public_url",
    "bind",
    *HOST_NUMBERS,
    "log_level",
    "log_format",
    "secret_key",
    "allow_loopback_destinations",
    "group_url_template",
)
KNOWN_KEYS: Mapping[str, tuple[str, ...]] = {
    "host": HOST_KEYS,
    "jobs": tuple(JOBS_NUMBERS),
    "plugins": ("disabled",),
    "routing": ("secret",),
}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: More web workers than this per core only add memory and contention.
WORKERS_PER_CORE = 4
_BIND = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})")


def check_bind(value: str, name: str = "--bind") -> str:
    """``host:port`` (IPv6 in brackets) with a port from 1 to 65535.

    :raises ConfigError: anything else, with a hint for a bare port.
    """
    value = value.strip()
    found = _BIND.fullmatch(value)
    if found and 1 <= int(found["port"]) <= 65535:
        return value
    if value.isdigit():
        raise ConfigError(
            f"{name} must be host:port, not a bare port: did you mean"
            f" 127.0.0.1:{value}?"
        )
    if found:
        raise ConfigError(f"{name}: port {found['port']} is not between 1 and 65535")
    raise ConfigError(f"{name} must be host:port (e.g. 127.0.0.1:8000), not {value!r}")


def url_for_bind(bind: str) -> str:
    """The URL a browser on this machine reaches ``bind`` at: what
    ``public_url`` is when it is not set (a wildcard address is reached on
    loopback)."""
    address, _, port = bind.rpartition(":")
    address = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(address, address)
    return f"http://{address}:{port}"


def public_url_problem(config: Config, bind: str) -> str | None:
    """Why ``public_url`` cannot be where ``bind`` serves, if it cannot: it
    names this machine (loopback, or the bind's own address) on another
    port. A public URL elsewhere is a proxy's, which says nothing wrong."""
    parts = urlsplit(config.public_url)
    address, _, port = bind.rpartition(":")
    served = address.strip("[]")
    local = parts.hostname in ("localhost", "127.0.0.1", "::1", served) or (
        parts.hostname or ""
    ).startswith("127.")
    public_port = parts.port or (443 if parts.scheme == "https" else 80)
    if local and public_port != int(port):
        return (
            f"[host] public_url is {config.public_url}, but this host serves"
            f" {bind}: links and trackers' webhooks would go to port {public_port}."
            " Set public_url to where trackers and browsers reach this host (or"
            " leave it unset: it then follows the bind)."
        )
    return None


def _public_url(value: str) -> str:
    parts = urlsplit(value.strip())
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "an absolute http(s) URL"
    elif parts.query or parts.fragment or "?" in value or "#" in value:
        problem = "a URL without a query or fragment"
    elif parts.username or parts.password:
        problem = "a URL without a user name or password"
    else:
        try:
            parts.port  # noqa: B018 (raises for a port out of range)
        except ValueError:
            problem = "a URL with a port from 1 to 65535"
    if problem:
        raise ConfigError(
            f"[host] public_url must be {problem} (where trackers and browsers reach"
            f" this host), not {value!r}"
        )
    return value.strip().rstrip("/")


#: What a group URL template may name.
GROUP_URL_FIELDS = ("public_url", "organization", "group_id")


def _group_url_template(value: str) -> str:
    """A template that makes an http(s) URL from the fields it may name."""
    value = value.strip()
    if not value:
        return ""
    try:
        example = value.format(
            public_url="https://tb.example", organization="acme", group_id=1
        )
    except (KeyError, IndexError, ValueError) as ex:
        raise ConfigError(
            f"[host] group_url_template may name only {{public_url}},"
            f" {{organization}} and {{group_id}} ({ex!r} in {value!r})"
        ) from None
    if urlsplit(example).scheme not in ("http", "https"):
        raise ConfigError(
            f"[host] group_url_template must make an http(s) URL, not {value!r}"
        )
    return value


def capped_workers(
    workers: int, warnings: list[str], name: str = "[host] workers"
) -> int:
    """``workers``, at most ``WORKERS_PER_CORE`` per core (a warning if cut)."""
    cap = WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers <= cap:
        return workers
    warnings.append(
        f"{name} = {workers} is more than {WORKERS_PER_CORE} per core; using {cap}"
    )
    return cap


def _unknown_keys(sections: Mapping[str, Mapping[str, str]]) -> Iterator[str]:
    for section, known in KNOWN_KEYS.items():
        for key in sections.get(section, {}):
            if key not in known:
                nearest = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {nearest[0]}?" if nearest else ""
                yield f"[{section}] {key} is not a known key (ignored){hint}"


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _first_line(ex: Exception) -> str:
    return str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__


def _regions(values: Mapping[str, str]) -> dict[str, str]:
    regions = {}
    for name, url in values.items():
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
            raise ConfigError(
                f"[regions] {name} must be the http(s) base URL of that region's "
                f"host, not {url!r}"
            )
        regions[name] = url.rstrip("/")
    return regions


def _routing_secret(sections: Mapping[str, Mapping[str, str]]) -> str:
    secret = sections.get("routing", {}).get("secret", "")
    if sections.get("regions") and len(secret) < 16:
        raise ConfigError(
            "[routing] secret must be set (16 characters or more) on a control "
            "node, and the same on each region's host: it signs forwarded webhooks"
        )
    return secret


def _boolean(values, name, default, section):
    raw = (values.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "yes", "on", "1"):
        return True
    if raw in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"[{section}] {name} must be true or false, not {raw!r}")


def _choice(values, name, default, choices):
    value = (values.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(
            f"[host] {name} must be one of {', '.join(choices)}, not {value!r}"
        )
    return value


def _resolve_env(value: str, env: Mapping[str, str]) -> str:
    if value.startswith("$") and len(value) > 1:
        return env.get(value[1:], "")
    return value


def _number(values, name, default, kind, minimum, maximum, *, section):
    raw = (values.get(name) or "").strip()
    if not raw:
        return default
    try:
        number = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"[{section}] {name} must be {what}, not {raw!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"[{section}] {name} must be a finite number, not {raw!r}")
    if number < minimum:
        raise ConfigError(f"[{section}] {name} must be at least {minimum}")
    if number > maximum:
        raise ConfigError(f"[{section}] {name} must be at most {maximum}")
    return number
