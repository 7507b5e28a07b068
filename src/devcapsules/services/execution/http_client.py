"""httpx clients for the HTTP backends (imported only when one of them is first used).

A client per call never outlives the event loop it was made on (tests and hosts may use
several loops), but building one loads the CA bundle each time (~25 ms on CPython): the
TLS context is therefore built once per process and shared. It holds no connection state.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx


@functools.cache
def _tls_context() -> Any:
    return httpx.create_ssl_context()


def new_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout_s, verify=_tls_context())
