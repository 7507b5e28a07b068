"""Queue consumers by queue name (filled in by the features that own queues)."""

from __future__ import annotations

from typing import Any


def consumers() -> dict[str, Any]:
    return {}
