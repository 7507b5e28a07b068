"""The one way our CPython hosts put an ASGI app on a port (dev server, executor service).

Slow or idle clients must not hold connections (a slowloris needs only a few hundred
sockets to exhaust a host). Three deadlines, all per connection:
- the request head (request line and headers) must arrive within `head_seconds` of the
  connection opening or of the previous response, else the connection is closed;
- the body must be complete within `body_seconds` of the head (the ASGI adapter enforces
  this and answers 408 `request_timeout`, closing the connection);
- a keep-alive connection idle for `keep_alive_seconds` after a response is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionLimits:
    head_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0


DEFAULT_LIMITS = ConnectionLimits()


def uvicorn_server(
    asgi_app: Any, host: str, port: int, limits: ConnectionLimits = DEFAULT_LIMITS
) -> Any:
    """Our own JSON logs replace uvicorn's (no access log, no log config, no Server header)."""
    import uvicorn

    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        http=head_deadline_protocol(limits.head_seconds),
        timeout_keep_alive=limits.keep_alive_seconds,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return uvicorn.Server(config)


def head_deadline_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol plus a deadline for the request head, which uvicorn lacks:
    its keep-alive timer is only armed after a response and disarmed by any byte."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadlineH11Protocol(H11Protocol):
        head_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_deadline()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the head is complete
                self._disarm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            self._disarm_head_deadline()
            self.head_timer = self.loop.call_later(seconds, self._head_too_slow)

        def _disarm_head_deadline(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _head_too_slow(self) -> None:
            self.head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeadDeadlineH11Protocol
