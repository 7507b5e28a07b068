"""A schemathesis hook module that counts what every fuzzed call got back.

Loaded into the schemathesis process by the runner (SCHEMATHESIS_HOOKS); it only
observes (no case or response is changed). At exit it writes, to $FUZZ_TALLY, one row
per (operation, phase, generation mode, status, error code): the runner prints per operation
how many schema-valid cases the API accepted (2xx) and why it refused the others, which
is how "is this operation fuzzed in depth?" is answered, and two runs can be compared.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter

import schemathesis

_counts: Counter[tuple[str, str, str, int, str]] = Counter()
_lock = threading.Lock()  # schemathesis may call hooks from several worker threads


@schemathesis.hook
def after_call(context, case, response) -> None:
    meta = case.meta
    phase = meta.phase.name.value if meta is not None else "explicit"
    mode = meta.generation.mode.value if meta is not None else "explicit"
    key = (case.operation.label, phase, mode, response.status_code, _error_code(response))
    with _lock:
        _counts[key] += 1


def _error_code(response) -> str:
    if response.status_code < 400:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except Exception:  # not our error shape (e.g. a 405 from routing): the status says it
        return ""


@atexit.register
def _write() -> None:
    path = os.environ.get("FUZZ_TALLY")
    if path:
        rows = [[*key, count] for key, count in sorted(_counts.items())]
        with open(path, "w") as out:
            json.dump(rows, out)
