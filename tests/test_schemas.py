import asyncio

import pytest
from pydantic import Field

from devcapsules.context import Context
from devcapsules.http import HTTPError, Request, json_response
from devcapsules.routing import Route, Router
from devcapsules.schemas import QueryModel, StrictModel


class Item(StrictModel):
    name: str = Field(min_length=1, max_length=10)
    tags: list[str] = Field(default_factory=list, max_length=3)


class Paging(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)


async def create(request, ctx):
    return json_response({"name": request.data.name, "limit": request.params.limit})


ROUTER = Router([Route("/items", create, methods=["POST"], body=Item, query=Paging)])


def post(body: bytes, query: str = "", content_type: str | None = "application/json"):
    headers = {"content-type": content_type} if content_type else {}
    request = Request("POST", f"http://t/items{query}", headers, body=body)
    return asyncio.run(ROUTER(request, Context(settings=None, env=None, logger=None)))


def test_valid_body_and_query_reach_the_handler_as_models():
    assert post(b'{"name": "a"}', "?limit=5").json() == {"name": "a", "limit": 5}


def test_malformed_json_is_400():
    with pytest.raises(HTTPError) as caught:
        post(b'{"name": ')
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"name": ""}', ["name"]),
        (b'{"name": 5}', ["name"]),
        (b'{"name": "a", "tags": ["x", 1]}', ["tags", 1]),
        (b'{"name": "a", "tags": ["1", "2", "3", "4"]}', ["tags"]),
        (b'{"name": "a", "extra": true}', ["extra"]),
        (b"[]", []),
    ],
)
def test_invalid_body_is_422_with_field_path(body, path):
    with pytest.raises(HTTPError) as caught:
        post(body)
    assert caught.value.status == 422
    assert caught.value.code == "validation_error"
    assert caught.value.details[0]["path"] == path


def test_invalid_query_is_422():
    with pytest.raises(HTTPError) as caught:
        post(b'{"name": "a"}', "?limit=1000")
    assert caught.value.status == 422
    assert caught.value.details[0]["path"] == ["limit"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
def test_a_body_not_sent_as_json_is_415(content_type):
    with pytest.raises(HTTPError) as caught:
        post(b'{"name": "a"}', content_type=content_type)
    assert caught.value.status == 415
    assert caught.value.code == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(content_type):
    assert post(b'{"name": "a"}', content_type=content_type).status == 200
