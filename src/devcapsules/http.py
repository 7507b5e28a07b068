"""Runtime-neutral HTTP types: the app speaks these on the edge and on CPython.

Hosts (the Workers adapter, the local ASGI adapter, tests) build a `Request`
and turn the returned `Response` into their own type. Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# Built once: `json.dumps` with options builds a new encoder on every call (every body).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-value header map (names are stored lower-cased).

    Kept as {name: [values]}: every request reads and writes a dozen headers through the
    middleware, and a lookup must not scan them all (the hot path of every response)."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None = None):
        self._values: dict[str, list[str]] = {}
        if items is None:
            return
        # A dict first: most headers arrive as one, and an ABC check costs more than it.
        if type(items) is dict or isinstance(items, Mapping):
            items = items.items()
        for name, value in items or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        values = self._values.get(key)
        if values is None:
            self._values[key] = [str(value)]
        else:
            values.append(str(value))

    def set(self, name: str, value: str) -> None:
        key = name.lower()
        self._values.pop(key, None)
        self._values[key] = [str(value)]

    def setdefault(self, name: str, value: str) -> str:  # type: ignore[override]
        key = name.lower()
        if key not in self._values:
            self._values[key] = [str(value)]
        return ", ".join(self._values[key])

    @classmethod
    def from_asgi(cls, pairs: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From an ASGI scope's (name, value) byte pairs, decoded once (latin-1)."""
        headers = cls.__new__(cls)
        values: dict[str, list[str]] = {}
        for raw_name, raw_value in pairs:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            if name in values:
                values[name].append(value)
            else:
                values[name] = [value]
        headers._values = values
        return headers

    def set_defaults(self, defaults: Iterable[tuple[str, str]]) -> None:
        """Set each (lower-case name, value) not set yet: one dict lookup per header, for
        the headers every response carries (security_headers)."""
        values = self._values
        for key, value in defaults:
            if key not in values:
                values[key] = [value]

    def encoded(self) -> list[tuple[bytes, bytes]]:
        """Every (name, value) as latin-1 bytes, the form an ASGI server sends."""
        return [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, values in self._values.items()
            for value in values
        ]

    def remove(self, name: str) -> None:
        self._values.pop(name.lower(), None)

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))

    def items_list(self) -> list[tuple[str, str]]:
        return [(k, v) for k, values in self._values.items() for v in values]

    def __getitem__(self, name: str) -> str:
        values = self._values.get(name.lower())
        if not values:
            raise KeyError(name)
        return values[0] if len(values) == 1 else ", ".join(values)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        values = self._values.get(name.lower())
        if not values:
            return default
        return values[0] if len(values) == 1 else ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self.items_list()!r})"


class HTTPError(Exception):
    """The one error type handlers raise; the error middleware renders it as JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


@dataclass
class Request:
    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    client_ip: str | None = None
    # False when the host stopped waiting for the rest of the body (a slow client).
    body_complete: bool = True

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)
        parts = urlsplit(self.url)
        self._split(parts.path, parts.query)

    def _split(self, path: str, query_string: str) -> None:
        self.path = path or "/"
        self.query_string = query_string
        # Filled in by the router: path parameters, and the validated body and query
        # when the route declares models for them.
        self.path_params: dict[str, str] = {}
        self.data: Any = None
        self.params: Any = None

    @classmethod
    def from_parts(
        cls,
        method: str,
        url: str,
        path: str,
        query_string: str,
        headers: Headers,
        body: bytes = b"",
        client_ip: str | None = None,
        body_complete: bool = True,
    ) -> Request:
        """A request whose host already has the path and query apart (ASGI's scope): the
        same object as `Request(method, url, ...)` without parsing `url` again."""
        request = cls.__new__(cls)
        request.method, request.url, request.headers = method.upper(), url, headers
        request.body, request.client_ip, request.body_complete = body, client_ip, body_complete
        request._split(path, query_string)
        return request

    @property
    def query(self) -> dict[str, str]:
        """Last value wins for repeated keys; see `query_all` for every value."""
        if not self.query_string:  # most requests: skip the parser
            return {}
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    def query_all(self, name: str) -> list[str]:
        return [v for k, v in parse_qsl(self.query_string, keep_blank_values=True) if k == name]

    def json(self) -> Any:
        """The body as JSON; malformed JSON is the client's fault (400), never a 500."""
        if not self.body:
            raise HTTPError(400, "invalid_json", "Request body is empty; a JSON body is required")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPError(400, "invalid_json", f"Malformed JSON body: {exc}") from None
        except RecursionError:
            raise HTTPError(400, "invalid_json", "JSON body is nested too deeply") from None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: Headers = field(default_factory=Headers)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = _ENCODER.encode(data).encode()
    response = Response(status=status, body=body, headers=Headers(headers))
    response.headers.set("content-type", JSON_CONTENT_TYPE)
    return response


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status=status, body=b"", headers=Headers(headers))
