"""Success bodies come from the declared response models, or the handler fails loudly."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest

from devcapsules.context import Context
from devcapsules.http import Request, json_response
from devcapsules.logs import Logger
from devcapsules.routes import all_routes
from devcapsules.routing import Reply, Route, Router
from devcapsules.schemas import Body
from devcapsules.schemas.auth import OkResponse
from devcapsules.settings import Settings


@pytest.fixture(autouse=True)
def bodies_from_models() -> None:
    """This module tests `Route.render` itself, without conftest's check around it."""


class Thing(Body):
    success: Literal[True] = True
    name: str
    note: str | None = None  # optional: on the wire only where the handler sets it


def serve(handler, environment: str = "development", **route) -> object:
    router = Router([Route("/thing", handler, response=Thing, **route)])
    settings = Settings(environment=environment)
    ctx = Context(settings=settings, env=None, logger=Logger(sink=lambda line: None))
    return asyncio.run(router(Request("GET", "http://t/thing"), ctx))


def test_a_returned_model_is_serialised_by_alias_without_unset_optional_fields():
    async def handler(request, ctx):
        return Thing(name="a")

    response = serve(handler)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(response.body) == {"success": True, "name": "a"}


def test_a_reply_carries_a_declared_status_and_headers():
    async def handler(request, ctx):
        return Reply(Thing(name="a", note=None), status=201, headers={"Location": "/thing/a"})

    response = serve(handler, status=201)
    assert (response.status, response.headers["location"]) == (201, "/thing/a")
    assert json.loads(response.body) == {"success": True, "name": "a", "note": None}


def test_returned_data_is_serialised_by_the_model_without_keys_it_does_not_declare():
    async def handler(request, ctx):
        return {"name": "a", "secret": "never sent"}

    assert json.loads(serve(handler).body) == {"success": True, "name": "a"}


def test_data_of_the_wrong_type_fails_loudly_in_development_and_is_sent_in_production():
    async def handler(request, ctx):
        return {"name": 42}

    with pytest.raises(Exception, match="name|str"):
        serve(handler)
    with pytest.warns(UserWarning):
        assert json.loads(serve(handler, "production").body) == {"success": True, "name": 42}


@pytest.mark.parametrize(
    "result",
    [
        [{"name": "a"}],  # not the model's data
        OkResponse(),  # another model than the declared one
        json_response({"success": True, "name": "a"}),  # a body the handler serialised
    ],
    ids=["list", "other-model", "own-json"],
)
def test_a_handler_returning_another_shape_fails_loudly(result):
    async def handler(request, ctx):
        return result

    with pytest.raises(TypeError, match="Handler handler returned|Handler handler built"):
        serve(handler)


def test_an_undeclared_success_status_fails_loudly():
    async def handler(request, ctx):
        return Reply(Thing(name="a"), status=202)

    with pytest.raises(TypeError, match="202"):
        serve(handler)


def test_every_json_route_declares_the_model_its_body_is_made_from():
    undeclared = [
        route.name
        for route in all_routes()
        if route.content_type == "application/json"
        and route.response is None
        and route.status != 204
        and route.name != "openapi_document"  # the OpenAPI document itself
    ]
    assert undeclared == []
    bodies = [route.response for route in all_routes() if route.response is not None]
    assert all(issubclass(model, Body) for model in bodies)


def test_every_executor_service_route_declares_the_model_its_body_is_made_from():
    # The service's answers are checked against these in every test that calls it
    # (conftest's `bodies_from_models`), as the API's are.
    from devcapsules.executor_service.app import ExecutorService
    from devcapsules.services.execution.local import Capacity
    from devcapsules.services.plans import ExecutionCaps

    routes = ExecutorService(Capacity.sized(1), ExecutionCaps()).routes()
    assert [route.name for route in routes if route.response is None] == []
    assert all(issubclass(route.response, Body) for route in routes)
