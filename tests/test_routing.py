import asyncio

import pytest

from devcapsules.context import Context, Principal
from devcapsules.http import HTTPError, Request, json_response
from devcapsules.routing import Route, Router, compile_path


async def show(request, ctx):
    return json_response({"params": request.path_params})


async def returns_nothing(request, ctx):
    return None


def router() -> Router:
    return Router(
        [
            Route("/items", show, methods=["GET", "POST"]),
            Route("/items/{id}", show, methods=["GET", "DELETE"]),
            Route("/files/{rest:path}", show),
            Route("/broken", returns_nothing),
        ]
    )


def call(method: str, url: str):
    request = Request(method, f"http://t{url}")
    return asyncio.run(router()(request, Context(settings=None, env=None, logger=None)))


def test_path_parameters_are_extracted():
    response = call("GET", "/items/cap_123")
    assert response.json()["params"] == {"id": "cap_123"}


def test_path_converter_matches_the_rest_of_the_path():
    assert call("GET", "/files/a/b/c.txt").json()["params"] == {"rest": "a/b/c.txt"}


def test_unknown_path_is_404():
    with pytest.raises(HTTPError) as caught:
        call("GET", "/nope")
    assert caught.value.status == 404


def test_wrong_method_is_405_with_allow_header():
    with pytest.raises(HTTPError) as caught:
        call("PUT", "/items/1")
    assert caught.value.status == 405
    assert caught.value.headers["Allow"] == "DELETE, GET, HEAD"


def test_head_is_served_by_get_without_a_body():
    response = call("HEAD", "/items/9")
    assert response.status == 200
    assert response.body == b""
    assert int(response.headers["content-length"]) == len(call("GET", "/items/9").body)


def test_trailing_slash_redirects_to_canonical_path_keeping_query():
    # A redirect is a plain response (it used to be an HTTPError with an error body).
    response = call("GET", "/items/?limit=5")
    assert response.status == 308
    assert response.headers["Location"] == "/items?limit=5"
    assert response.body == b""


def test_segment_parameter_does_not_cross_slashes():
    with pytest.raises(HTTPError) as caught:
        call("GET", "/items/a/b")
    assert caught.value.status == 404


def test_handler_returning_nothing_is_a_developer_error():
    with pytest.raises(TypeError, match="returns_nothing"):
        call("GET", "/broken")


def test_duplicate_routes_are_refused_at_build_time():
    with pytest.raises(ValueError, match="Duplicate"):
        Router([Route("/a", show), Route("/a", show)])


def test_compile_path_escapes_literal_characters():
    assert compile_path("/a.b/{x}").match("/a.b/1")
    assert not compile_path("/a.b/{x}").match("/aXb/1")


def guarded_router() -> Router:
    return Router(
        [
            Route("/private", show, auth="required"),
            Route("/write", show, methods=["POST"], auth="required", scopes=["capsules:write"]),
            Route("/maybe", show, auth="optional"),
        ]
    )


def call_as(principal, method: str, url: str):
    ctx = Context(settings=None, env=None, logger=None, principal=principal)
    return asyncio.run(guarded_router()(Request(method, f"http://t{url}"), ctx))


def test_required_auth_without_principal_is_401_with_challenge():
    with pytest.raises(HTTPError) as caught:
        call_as(None, "GET", "/private")
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_optional_auth_serves_anonymous_callers():
    assert call_as(None, "GET", "/maybe").status == 200


def test_api_key_without_scope_is_403_and_user_session_passes():
    key = Principal("usr_1", "free", kind="api_key", scopes=frozenset({"execute"}), api_key_id="k")
    with pytest.raises(HTTPError) as caught:
        call_as(key, "POST", "/write")
    assert caught.value.status == 403
    assert caught.value.details["missing"] == ["capsules:write"]
    assert 'error="insufficient_scope"' in caught.value.headers["WWW-Authenticate"]
    assert call_as(Principal("usr_1", "free"), "POST", "/write").status == 200


def test_scopes_without_auth_are_a_developer_error():
    with pytest.raises(ValueError, match="scopes"):
        Route("/x", show, scopes=["execute"])


class CountingPattern:
    """A route's compiled pattern, counting the matches made with it."""

    def __init__(self, pattern, calls: list[str]):
        self.pattern, self.calls = pattern, calls

    def match(self, path: str):
        self.calls.append(path)
        return self.pattern.match(path)


def test_a_literal_path_is_matched_without_a_regex():
    # The router decides (literal path, method) once, when built: /health and the other
    # literal routes run no pattern per request, yet answer as the scan did.
    table = router()
    calls: list[str] = []
    for route in table.routes:
        route.pattern = CountingPattern(route.pattern, calls)
    ctx = Context(settings=None, env=None, logger=None)
    response = asyncio.run(table(Request("POST", "http://t/items"), ctx))
    assert response.json()["params"] == {}
    assert calls == []
    assert table.match("GET", "/items/7")[1] == {"id": "7"} and calls  # patterns still do


def test_a_literal_path_keeps_the_first_declared_route_and_fresh_parameters():
    table = Router(
        [
            Route("/items/{id}", show, methods=["GET"]),
            Route("/items/new", show, methods=["POST"]),
        ]
    )
    route, params = table.match("GET", "/items/new")  # the pattern, declared first
    assert route.path == "/items/{id}" and params == {"id": "new"}
    params["id"] = "changed"  # a request's own copy: the next request is not affected
    assert table.match("GET", "/items/new")[1] == {"id": "new"}
    assert table.match("POST", "/items/new")[0].path == "/items/new"
    with pytest.raises(HTTPError) as caught:
        table.match("PUT", "/items/new")
    assert caught.value.headers["Allow"] == "GET, HEAD, POST"
