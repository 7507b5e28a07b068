"""The wire contract, checked on every response the in-process suite sees: a JSON success
body is what its route's declared model makes of it (validated against the model, and
the model's own dump of it, by the router's rules, is the same JSON)."""

from __future__ import annotations

import json

from devcapsules.http import Response
from devcapsules.routing import Route


def assert_body_from_model(route: Route, response: Response) -> None:
    # Routes without a model (the OpenAPI document) are not in the public contract;
    # tests/test_response_bodies.py checks that every other JSON route, the API's and
    # the executor service's, declares one.
    if route.response is None or not response.body:
        return
    model = route.response.model_validate_json(response.body)
    dumped = route.response.__pydantic_serializer__.to_json(
        model, by_alias=True, exclude_unset=True
    )
    assert json.loads(dumped) == json.loads(response.body), route.name


def checking_render(render):
    """`Route.render`, plus the check above on what it produced."""

    def render_checked(self: Route, result, strict: bool = True):
        response = render(self, result, strict)
        assert_body_from_model(self, response)
        return response

    return render_checked
