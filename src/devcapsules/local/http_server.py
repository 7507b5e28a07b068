"""The one way our CPython hosts put an ASGI app on a port (dev server, executor service)."""

from __future__ import annotations

from typing import Any


def uvicorn_server(asgi_app: Any, host: str, port: int) -> Any:
    """Our own JSON logs replace uvicorn's (no access log, no log config, no Server header)."""
    import uvicorn

    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return uvicorn.Server(config)
