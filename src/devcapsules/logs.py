"""Structured JSON logs: one object per line, the seed's shape.

`{"level": "info", "action": "generation_complete", ..., "timestamp": "...Z"}`.
On the edge `print` goes to the console that `wrangler tail` shows; locally to stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}


def _stdout_sink(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


def utc_timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Logger:
    """A logger bound to fixed fields (such as `requestId`); `bind` adds more."""

    def __init__(
        self,
        level: str = "info",
        sink: Callable[[str], None] = _stdout_sink,
        fields: dict[str, Any] | None = None,
    ):
        self.threshold = LEVELS.get(level, 20)
        self.sink = sink
        self.fields = fields or {}

    def bind(self, **fields: Any) -> Logger:
        return Logger(
            level=_level_name(self.threshold), sink=self.sink, fields={**self.fields, **fields}
        )

    def log(self, level: str, action: str, **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        record = {"level": level, "action": action, **self.fields, **fields}
        record["timestamp"] = utc_timestamp()
        self.sink(json.dumps(record, default=str, ensure_ascii=False))

    def debug(self, action: str, **fields: Any) -> None:
        self.log("debug", action, **fields)

    def info(self, action: str, **fields: Any) -> None:
        self.log("info", action, **fields)

    def warn(self, action: str, **fields: Any) -> None:
        self.log("warn", action, **fields)

    def error(self, action: str, **fields: Any) -> None:
        self.log("error", action, **fields)


def _level_name(threshold: int) -> str:
    return next(name for name, value in LEVELS.items() if value == threshold)
