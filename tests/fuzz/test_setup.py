"""The fuzz run stays deterministic: seeded, bounded by example counts rather than time,
one worker (see run_schemathesis.py), and Hypothesis pinned to what is installed."""

import importlib.metadata
import tomllib
from pathlib import Path

from tests.fuzz.run_schemathesis import CONFIG, schemathesis_command
from tests.support.server import ROOT


def test_the_run_is_seeded_bounded_and_single_threaded():
    command = schemathesis_command("http://127.0.0.1:1", Path("/tmp/report"), [])
    assert command[command.index("--workers") + 1] == "1"
    assert "--max-time" not in command
    config = tomllib.loads(CONFIG.read_text())
    assert isinstance(config["seed"], int)
    assert "max-time" not in config
    assert 0 < config["generation"]["max-examples"] <= 100


def test_hypothesis_is_pinned_to_the_installed_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["optional-dependencies"]["dev"]
    assert f"hypothesis=={importlib.metadata.version('hypothesis')}" in pins
    assert f"schemathesis=={importlib.metadata.version('schemathesis')}" in pins
