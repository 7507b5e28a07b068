"""A failing binding call: which dependency it was, and whether retrying can help.

A binding error is either an outage (D1 overloaded or unreachable, a disk that is full
or read-only, KV or the queue failing) or a refusal of a call we got wrong (a constraint,
bad SQL, a TTL below 60 s, an oversized value). An outage is a 503 naming the
dependency, with `Retry-After`: the client did nothing wrong and may try again. A
refusal is our bug: a 500 `internal_error`, because retrying cannot fix it.
"""

from __future__ import annotations

import re

from devcapsules.bindings.protocols import BindingError, D1Error, KVError, QueueError
from devcapsules.http import HTTPError

RETRY_AFTER_S = 5  # a dependency's hiccup: soon, but not in a tight loop

# (error class, code, what the client is told, the name in details)
DEPENDENCIES: tuple[tuple[type[BindingError], str, str, str], ...] = (
    (D1Error, "database_unavailable", "The database is unavailable", "d1"),
    (KVError, "kv_unavailable", "The key-value store is unavailable", "kv"),
    (QueueError, "queue_unavailable", "The job queue is unavailable", "queue"),
)
# Messages of refusals (the platform's and our local bindings' wording, which mirrors
# it): retrying the same call gets the same answer.
_REFUSAL = re.compile(
    r"constraint failed|syntax error|no such (table|column)|D1_TYPE_ERROR|D1_COLUMN_NOTFOUND"
    r"|too many SQL variables|To execute a transaction|\b(400|413|414)\b|must |not serialisable"
    r"|exceeds",
    re.IGNORECASE,
)


def is_outage(exc: BindingError) -> bool:
    return not _REFUSAL.search(str(exc))


def unavailable(exc: BindingError) -> HTTPError | None:
    """The 503 for an outage of a known dependency, else None (a bug: a 500)."""
    if not is_outage(exc):
        return None
    for kind, code, message, name in DEPENDENCIES:
        if isinstance(exc, kind):
            return HTTPError(
                503,
                code,
                f"{message}; retry in {RETRY_AFTER_S} s",
                details={"dependency": name},
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
    return None
