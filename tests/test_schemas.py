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


def post(body: bytes, query: str = ""):
    request = Request("POST", f"http://t/items{query}", body=body)
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
