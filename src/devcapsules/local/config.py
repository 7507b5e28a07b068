"""Read what the local host needs from wrangler.toml and `.dev.vars`.

The same file configures the edge and the local host, so the bindings, vars and
queue-consumer settings can never drift apart between the two.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcapsules.bindings.sqlite_queue import ConsumerSettings
from devcapsules.local.static_assets import AssetsConfig


@dataclass
class LocalConfig:
    root: Path
    vars: dict[str, str] = field(default_factory=dict)
    migrations_dir: Path | None = None
    producers: dict[str, str] = field(default_factory=dict)  # binding -> queue name
    consumers: list[ConsumerSettings] = field(default_factory=list)
    crons: list[str] = field(default_factory=list)
    assets: AssetsConfig | None = None  # [assets]: the static pages (/docs, the widget)


def find_project_root(start: Path | None = None) -> Path:
    """The directory holding wrangler.toml: the working directory or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "wrangler.toml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no wrangler.toml in {here} or its parents: run devcapsules inside the project"
    )


def load_config(
    root: Path, environment: str | None = None, environ: Mapping[str, str] | None = None
) -> LocalConfig:
    data = tomllib.loads((root / "wrangler.toml").read_text())
    section = data.get("env", {}).get(environment) if environment else data
    if section is None:
        # An unknown name would otherwise serve with no bindings and no migrations.
        raise ValueError(f"wrangler.toml has no [env.{environment}] section")
    config = LocalConfig(root=root)
    config.vars = {k: str(v) for k, v in section.get("vars", {}).items()}
    config.vars.update(read_dev_vars(root / ".dev.vars"))
    config.vars.update(_secrets_from_environ(environ if environ is not None else os.environ))
    databases = section.get("d1_databases", [])
    if databases:
        config.migrations_dir = root / databases[0].get("migrations_dir", "migrations")
    queues = section.get("queues", {})
    config.producers = {p["binding"]: p["queue"] for p in queues.get("producers", [])}
    config.consumers = [_consumer(c) for c in queues.get("consumers", [])]
    config.crons = list(section.get("triggers", {}).get("crons", []))
    if "assets" in section:
        config.assets = AssetsConfig.from_wrangler(root, section["assets"])
    return config


def read_dev_vars(path: Path) -> dict[str, str]:
    """Parse wrangler's `.dev.vars` (dotenv syntax: KEY=value, optional quotes, # comments)."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


# Secrets and overrides a developer may pass through the process environment.
_ENV_PASSTHROUGH_PREFIXES = (
    "JWT_",
    "AZURE_OPENAI_",
    "OPENAI_",
    "EXECUTOR_",
    "AWS_EXECUTOR_",
    "PISTON_",
    "ANALYTICS_",
    "GENERATION_",
    "PLAN_",
)
_ENV_PASSTHROUGH = {
    "ENVIRONMENT",
    "APP_VERSION",
    "ALLOWED_ORIGINS",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
    "PBKDF2_ITERATIONS",
}


def _secrets_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in environ.items()
        if k in _ENV_PASSTHROUGH or k.startswith(_ENV_PASSTHROUGH_PREFIXES)
    }


def _consumer(entry: dict[str, Any]) -> ConsumerSettings:
    return ConsumerSettings(
        queue=entry["queue"],
        max_batch_size=int(entry.get("max_batch_size", 10)),
        max_batch_timeout=float(entry.get("max_batch_timeout", 5)),
        max_retries=int(entry.get("max_retries", 3)),
        dead_letter_queue=entry.get("dead_letter_queue"),
        retry_delay=int(entry.get("retry_delay", 0)),
    )
