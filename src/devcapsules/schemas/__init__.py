"""Pydantic request/response models: the base classes every route's models build on.

`StrictModel` (bodies), `QueryModel` (query strings) and `Body` (success bodies) say how
a model reads and is dumped; the router applies them on every request (`routing`:
`parse_body`, `parse_query`, `Route.render` and `data_serializer`), so the OpenAPI
document and the wire are one declaration. Nothing here runs per request.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Request models: unknown fields are refused so that typos do not pass silently,
    and types are strict (`"5"` is not an integer), with JSON's own conversions."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class QueryModel(BaseModel):
    """Query-string models: lax types (everything arrives as text), unknown keys ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Body(BaseModel):
    """Base of every success body a route declares as its `response`.

    The router dumps a body by alias and without the optional fields its producer did
    not set (`exclude_unset`): required fields are always on the wire, optional ones
    (not required in the document either) only where they apply, such as a function
    test's `input` or a hidden test's lack of `expected`. `success` is always sent
    (`routing.Route.render`).
    """


def _issued_cursor(value: str | None) -> str | None:
    from devcapsules.services.cursors import decode_cursor

    if value is not None:
        decode_cursor(value)  # InvalidCursor is a ValueError: 422 on ["cursor"]
    return value


# A list's `cursor` query parameter: only cursors this API issued (services/cursors.py).
Cursor = Annotated[str | None, Field(max_length=200), AfterValidator(_issued_cursor)]
