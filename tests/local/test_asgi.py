"""The ASGI adapter's scope -> Request and Response -> send, taken apart once: the same
request the app would get from the URL, the same bytes on the wire."""

from __future__ import annotations

import asyncio
import json

import pytest

from devcapsules.http import Headers, Request, Response
from devcapsules.local.asgi import build_request, send_response
from devcapsules.logs import Logger

TARGETS = [
    (b"/health", b""),
    (b"/api/v1/capsules/a%2Fb", b"page=2&q=caf%C3%A9"),
    (b"//double/slash", b"x=1&x=2"),
    (b"/", b"deep=true"),
]


def scope(raw_path: bytes, query: bytes, headers=((b"host", b"api.test:8787"),)) -> dict:
    return {
        "type": "http",
        "method": "get",
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": query,
        "headers": list(headers),
        "scheme": "http",
        "server": ("127.0.0.1", 8787),
        "client": ("203.0.113.7", 50000),
    }


@pytest.mark.parametrize(("raw_path", "query"), TARGETS)
def test_a_request_from_the_scope_is_the_one_its_url_makes(raw_path, query):
    built = build_request(scope(raw_path, query), b"{}")
    parsed = Request("GET", built.url, built.headers, b"{}", "203.0.113.7")
    for attribute in ("method", "url", "path", "query_string", "body", "client_ip"):
        assert getattr(built, attribute) == getattr(parsed, attribute), attribute
    assert built.query == parsed.query and built.path_params == {} and built.data is None
    assert built.body_complete is True


def test_the_path_comes_from_the_request_target_not_the_host_header():
    # Parsing host + path as one URL let a Host header with "/" or "?" move the path.
    request = build_request(scope(b"/health", b"", [(b"host", b"evil?x=/admin")]), b"")
    assert (request.path, request.query_string) == ("/health", "")


def test_headers_from_the_scope_keep_every_value_and_ignore_case():
    headers = Headers.from_asgi([(b"X-Tag", b"a"), (b"x-tag", b"b"), (b"host", b"h\xe9")])
    assert headers.get_all("x-tag") == ["a", "b"] and headers["X-TAG"] == "a, b"
    assert headers["host"] == "h\xe9"  # latin-1, as ASGI servers hand bytes over


def test_a_response_goes_out_with_its_headers_encoded_once_and_a_length():
    response = Response(201, b'{"ok":true}', Headers([("X-A", "1"), ("X-A", "2")]))
    response.headers.set_defaults((("x-b", "3"), ("x-a", "ignored")))
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    asyncio.run(send_response(send, response))
    assert sent[0] == {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"x-a", b"1"), (b"x-a", b"2"), (b"x-b", b"3"), (b"content-length", b"11")],
    }
    assert sent[1] == {"type": "http.response.body", "body": b'{"ok":true}'}


def test_a_log_line_is_the_json_the_standard_encoder_makes():
    lines: list[str] = []
    record = {"path": "/caf\xe9/\u2603", "n": 1.5, "none": None, "obj": object(), "k": [1, {}]}
    Logger(sink=lines.append).bind(requestId="req_1").info("request", **record)
    line = json.loads(lines[0])
    expected = {"level": "info", "action": "request", "requestId": "req_1", **record}
    expected["obj"] = str(record["obj"])
    assert {k: v for k, v in line.items() if k != "timestamp"} == expected
    text = json.JSONEncoder(default=str, ensure_ascii=False).encode({**expected, "timestamp": ""})
    assert lines[0].replace(line["timestamp"], "") == text


def test_a_log_record_that_cannot_be_encoded_still_makes_a_line():
    lines: list[str] = []
    loop: dict = {}
    loop["self"] = loop
    Logger(sink=lines.append).error("odd", value=loop)
    assert json.loads(lines[0])["action"] == "odd" and "logError" in json.loads(lines[0])
