"""httpx clients for outbound HTTP: the execution backends and the model providers
(imported only when one of them is first used).

A client per call never outlives the event loop it was made on (tests and hosts may use
several loops), but building one loads the CA bundle each time (~25 ms on CPython): the
TLS context is therefore built once per process and shared. It holds no connection state.
On the Worker (Pyodide) there are no sockets: the client's transport is the runtime's
`fetch` (`devcapsules.edge.fetch_transport`), which also does the TLS.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import httpx


@functools.cache
def _tls_context() -> Any:
    return httpx.create_ssl_context()


def new_client(timeout: float | httpx.Timeout) -> httpx.AsyncClient:
    if sys.platform == "emscripten":
        from devcapsules.edge import fetch_transport

        return httpx.AsyncClient(timeout=timeout, transport=fetch_transport())
    return httpx.AsyncClient(timeout=timeout, verify=_tls_context())
