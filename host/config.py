"""Configuration: ``config.ini`` plus environment overrides.

The file is optional; every key has a default that gives a working host on
127.0.0.1:8000 with SQLite under ``var/``. ``TRACKBRIDGE_CONFIG`` names the
file and ``TRACKBRIDGE_DATABASE`` overrides the database path. A value written
as ``$NAME`` is read from the environment, so secrets need not sit in files.
"""

from __future__ import annotations

import configparser
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from host.errors import ConfigError
from host.logs import FORMATS

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


@dataclass(frozen=True, kw_only=True)
class Config:
    """The effective configuration, typed and validated."""

    database: Path = Path("var/trackbridge.db")
    public_url: str = "http://127.0.0.1:8000"
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    max_body_bytes: int = 1_048_576
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
    #: Days processed and ignored webhook deliveries are kept.
    delivery_retention_days: float = 14.0
    #: Days finished jobs are kept.
    job_retention_days: float = 7.0
    #: Days dead-lettered jobs are kept (listed and retryable until then).
    dead_letter_retention_days: float = 30.0
    #: Every section of the file, for plugins (``host.plugin_config(name)``).
    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: Path | None = None

    def plugin_config(self, name: str) -> dict[str, str]:
        """Return the ``[name]`` section as a dict (empty when absent)."""
        return dict(self.sections.get(name, {}))

    def redacted(self) -> dict[str, dict[str, str]]:
        """Every effective value by section, secrets replaced by ``***``."""
        effective = {
            "host": {
                "database": str(self.database),
                "public_url": self.public_url,
                "bind": self.bind,
                "workers": str(self.workers),
                "max_body_bytes": str(self.max_body_bytes),
                "setup_ttl_seconds": str(self.setup_ttl_seconds),
                "log_level": self.log_level,
                "log_format": self.log_format,
                "secret_key": self.secret_key,
                "allow_loopback_destinations": str(
                    self.allow_loopback_destinations
                ).lower(),
                "delivery_retention_days": str(self.delivery_retention_days),
                "job_retention_days": str(self.job_retention_days),
                "dead_letter_retention_days": str(self.dead_letter_retention_days),
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

    :raises ConfigError: a named file is missing, or a value has the wrong type.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "TRACKBRIDGE_CONFIG" in env
    file = Path(path or env.get("TRACKBRIDGE_CONFIG") or DEFAULT_CONFIG_FILE)
    parser = configparser.ConfigParser(interpolation=None)
    if file.is_file():
        try:
            parser.read(file, encoding="utf-8")
        except configparser.Error as ex:
            raise ConfigError(f"{file}: {ex}") from ex
    elif explicit:
        raise ConfigError(f"Config file not found: {file}")
    sections = {
        name: {key: _resolve_env(value, env) for key, value in parser[name].items()}
        for name in parser.sections()
    }
    base = file.resolve().parent if file.is_file() else Path.cwd()
    host = sections.get("host", {})
    jobs = sections.get("jobs", {})
    database = env.get("TRACKBRIDGE_DATABASE") or host.get("database") or ""
    database_path = Path(database) if database else Config.database
    if not database_path.is_absolute() and database != ":memory:":
        database_path = base / database_path
    defaults = JobsConfig()
    return Config(
        database=database_path,
        public_url=host.get("public_url", Config.public_url).rstrip("/"),
        bind=host.get("bind", Config.bind),
        workers=_number(host, "workers", Config.workers, int, "host", minimum=1),
        max_body_bytes=_number(
            host, "max_body_bytes", Config.max_body_bytes, int, "host", minimum=1024
        ),
        setup_ttl_seconds=_number(
            host, "setup_ttl_seconds", Config.setup_ttl_seconds, int, "host", minimum=1
        ),
        log_level=host.get("log_level", Config.log_level),
        log_format=_choice(host, "log_format", Config.log_format, FORMATS),
        secret_key=env.get("TRACKBRIDGE_SECRET_KEY") or host.get("secret_key", ""),
        allow_loopback_destinations=_boolean(
            host, "allow_loopback_destinations", False, "host"
        ),
        **{
            name: _number(
                host, name, getattr(Config, name), float, "host", minimum=0.01
            )
            for name in RETENTION_KEYS
        },
        disabled_plugins=tuple(
            name.strip()
            for name in re.split(
                r"[,\s]+", sections.get("plugins", {}).get("disabled", "")
            )
            if name.strip()
        ),
        jobs=JobsConfig(
            **{
                name: _number(
                    jobs,
                    name,
                    getattr(defaults, name),
                    type(getattr(defaults, name)),
                    "jobs",
                    minimum=0,
                )
                for name in vars(defaults)
            }
        ),
        regions=_regions(sections.get("regions", {})),
        routing_secret=_routing_secret(sections),
        sections=sections,
        source=file if file.is_file() else None,
    )


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


RETENTION_KEYS = (
    "delivery_retention_days",
    "job_retention_days",
    "dead_letter_retention_days",
)


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
    value = values.get(name) or default
    if value not in choices:
        raise ConfigError(
            f"[host] {name} must be one of {', '.join(choices)}, not {value!r}"
        )
    return value


def _resolve_env(value: str, env: Mapping[str, str]) -> str:
    if value.startswith("$") and len(value) > 1:
        return env.get(value[1:], "")
    return value


def _number(values, name, default, kind, section, *, minimum):
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = kind(raw)
    except ValueError:
        raise ConfigError(f"[{section}] {name} must be a number, not {raw!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"[{section}] {name} must be a finite number, not {raw!r}")
    if number < minimum:
        raise ConfigError(f"[{section}] {name} must be at least {minimum}")
    return number
