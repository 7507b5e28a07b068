"""Pydantic request/response models, and the one way handlers read validated input.

`parse_body(request, Model)` answers 415 unless the body says it is JSON, 400 for
malformed JSON and 422 with field paths (`["testCases", 0, "input"]`) for everything
the model refuses.

Success bodies go the other way through the same models: a handler returns its route's
`response` model (a `Body`) as an instance, or its data as a mapping with the model's
field names, and the router serialises it (`routing.Route.render`; mappings through
`data_serializer`), so the OpenAPI document and the wire are one declaration.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import SchemaSerializer, core_schema

from devcapsules.http import HTTPError, Request

M = TypeVar("M", bound=BaseModel)


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
    test's `input` or a hidden test's lack of `expected`. `success` is always sent.
    """

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("success")


@functools.cache
def data_serializer(model: type[BaseModel]) -> SchemaSerializer:
    """The serializer of `model` for its data as plain dicts and lists (field names as
    keys): the model's own compiled schema, each model in it read as a dict of the same
    fields, aliases and serializers. Dumping data this way costs no validation pass (a
    page of capsules: about 0.4x json.dumps, where validate + dump is 1.5x, see
    bench/bench_bodies.py); keys the model does not declare are left out."""
    return SchemaSerializer(_models_as_dicts(model.__pydantic_core_schema__))


def _models_as_dicts(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_models_as_dicts(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") != "model":
        return {key: _models_as_dicts(value) for key, value in schema.items()}
    # Data is keyed by the API's names: a field's alias (`from`) where it has one.
    fields = {
        field.get("serialization_alias") or name: core_schema.typed_dict_field(
            _models_as_dicts(field["schema"]),
            required=False,  # absent keys are simply not sent, as `exclude_unset` does
            serialization_exclude=field.get("serialization_exclude"),
        )
        for name, field in schema["schema"]["fields"].items()
    }
    return core_schema.typed_dict_schema(fields, ref=schema.get("ref"), total=False)


def _issued_cursor(value: str | None) -> str | None:
    from devcapsules.services.cursors import decode_cursor

    if value is not None:
        decode_cursor(value)  # InvalidCursor is a ValueError: 422 on ["cursor"]
    return value


# A list's `cursor` query parameter: only cursors this API issued (services/cursors.py).
Cursor = Annotated[str | None, Field(max_length=200), AfterValidator(_issued_cursor)]


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"path": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def validation_error(exc: ValidationError, where: str = "body") -> HTTPError:
    details = validation_details(exc)
    first = details[0]
    path = ".".join(str(part) for part in first["path"]) or where
    return HTTPError(
        422,
        "validation_error",
        f"Invalid {where}: {path}: {first['message']}",
        details=details,
    )


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or any `+json` type; a charset, if given, must be UTF-8 (the
    only encoding JSON has, RFC 8259)."""
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return False
    charsets = [p.partition("=")[2].strip('"') for p in parameters if p.startswith("charset=")]
    return all(charset in ("utf-8", "utf8") for charset in charsets)


def require_json(request: Request) -> None:
    """A declared body must be sent as JSON. Refusing text/plain and form encodings also
    keeps cross-site "simple requests" (which need no CORS preflight) off JSON routes."""
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise HTTPError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json",
            details={"contentType": content_type or None},
        )


def parse_body(request: Request, model: type[M]) -> M:
    """One parse: JSON mode keeps types strict yet reads ISO strings as datetimes."""
    require_json(request)
    try:
        return model.model_validate_json(request.body)
    except ValidationError as exc:
        malformed = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if malformed:  # not JSON at all: the client's syntax, a 400, not a validation error
            message = f"Malformed JSON body: {malformed[0]['msg']}"
            raise HTTPError(400, "invalid_json", message) from None
        raise validation_error(exc) from None


def parse_query(request: Request, model: type[M]) -> M:
    """Query strings are all text: validated in lax mode so "20" may be an int."""
    try:
        return model.model_validate(request.query, strict=False)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None
