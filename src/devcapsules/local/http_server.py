"""The one way our CPython hosts put an ASGI app on a port (dev server, executor service).

The server is uvicorn with its standard speed-ups where the platform has them: uvloop
(the event loop) and httptools (the HTTP/1.1 parser, llhttp, Node's), else the asyncio
loop and h11. `run_event_loop` is how a host runs its main coroutine on that loop.

Slow or idle clients must not hold connections (a slowloris needs only a few hundred
sockets to exhaust a host). Three deadlines, all per connection:
- the request head (request line and headers) must arrive within `head_seconds` of the
  connection opening or of the previous response, else the connection is closed (both
  parsers: uvicorn has no such deadline, so each protocol class is extended below);
- the body must be complete within `body_seconds` of the head (the ASGI adapter enforces
  this and answers 408 `request_timeout`, closing the connection);
- a keep-alive connection idle for `keep_alive_seconds` after a response is closed.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
PARSERS = ("httptools", "h11")


@dataclass(frozen=True)
class ConnectionLimits:
    head_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0


DEFAULT_LIMITS = ConnectionLimits()


def best_parser() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (not on Windows), else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `event_loop_factory` picks."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)


def uvicorn_server(
    asgi_app: Any,
    host: str,
    port: int,
    limits: ConnectionLimits = DEFAULT_LIMITS,
    parser: str | None = None,
) -> Any:
    """Our own JSON logs replace uvicorn's (no access log, no log config, no Server header).
    `parser`: "httptools" or "h11" (default: the best installed)."""
    import uvicorn

    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        http=head_deadline_protocol(limits.head_seconds, parser or best_parser()),
        timeout_keep_alive=limits.keep_alive_seconds,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return uvicorn.Server(config)


class _HeadDeadline:
    """A timer armed while a request head is awaited; on expiry the connection closes.
    Mixed into uvicorn's protocol classes (they provide `loop` and `transport`)."""

    head_seconds: float
    head_timer: Any = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self.head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_too_slow(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def head_deadline_protocol(seconds: float, parser: str = "h11") -> type:
    """uvicorn's protocol for `parser` plus a deadline for the request head, which uvicorn
    lacks: its keep-alive timer is only armed after a response and disarmed by any byte."""
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {PARSERS}, not {parser!r}")
    make = _httptools_protocol if parser == "httptools" else _h11_protocol
    protocol = make()  # a new class per call: the deadline is its own
    protocol.head_seconds = seconds
    return protocol


def _h11_protocol() -> type:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadlineH11Protocol(_HeadDeadline, H11Protocol):
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

    return HeadDeadlineH11Protocol


def _httptools_protocol() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeadDeadlineHttpToolsProtocol(_HeadDeadline, HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_headers_complete(self) -> None:  # the parser's callback: the head is in
            self._disarm_head_deadline()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # A pipelined request already sent its head; otherwise the next one is awaited.
            idle = not self.pipeline
            super().on_response_complete()
            if idle and not self.transport.is_closing():
                self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

    return HeadDeadlineHttpToolsProtocol
