"""wrangler.toml: what a deploy can reach, per environment (checked on the file itself;
`make check-edge` has wrangler accept it)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from devcapsules.bindings.env import DB_BINDING, GENERATION_QUEUE_BINDING, KV_BINDING

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "wrangler.toml").read_text())
ENVIRONMENTS = {
    "development": CONFIG,
    "staging": CONFIG["env"]["staging"],
    "production": CONFIG["env"]["production"],
}
# The bindings the code reads (devcapsules.bindings.env): nothing else may be bound.
USED_BINDINGS = {DB_BINDING, KV_BINDING, GENERATION_QUEUE_BINDING}


def bindings(section: dict) -> set[str]:
    names = {b["binding"] for b in section.get("d1_databases", [])}
    names |= {b["binding"] for b in section.get("kv_namespaces", [])}
    names |= {b["binding"] for b in section.get("queues", {}).get("producers", [])}
    for kind in ("r2_buckets", "services", "durable_objects", "vectorize", "ai"):
        value = section.get(kind, [])
        names |= {b.get("binding", b.get("name")) for b in value if isinstance(b, dict)}
    return names


def test_every_environment_deploys_a_worker_of_its_own_name():
    names = {environment: section["name"] for environment, section in ENVIRONMENTS.items()}
    assert len(set(names.values())) == 3, names
    # A bare `wrangler deploy` uses the top-level name: it must not be production's.
    assert CONFIG["name"] != names["production"]
    assert CONFIG["vars"]["ENVIRONMENT"] == "development"


def test_each_environment_binds_exactly_what_the_code_uses():
    for environment, section in ENVIRONMENTS.items():
        assert bindings(section) == USED_BINDINGS, environment


def test_readme_creates_only_the_bound_resources():
    readme = (ROOT / "README.md").read_text()
    deploying = readme[readme.index("## Deploying") : readme.index("## Testing")]
    assert "r2 bucket create" not in deploying
    for kind in ("d1 create", "kv namespace create", "queues create"):
        assert kind in deploying, kind
