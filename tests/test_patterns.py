"""The published patterns and the validators agree, in Python and in the document."""

import jsonschema_rs
import pytest
from pydantic import ValidationError

from devcapsules.schemas.analytics import RangeQuery
from devcapsules.schemas.auth import LoginRequest
from devcapsules.schemas.capsules import CapsuleCreate
from devcapsules.schemas.generation import GenerateRequest
from devcapsules.schemas.patterns import EMAIL, IDENTIFIER, TAG, at_least_visible, matches


@pytest.mark.parametrize(
    ("pattern", "value", "ok"),
    [
        (EMAIL, "  Ada@Example.com ", True),
        (EMAIL, "ada@example", False),
        (TAG, " Math ", True),
        (TAG, "", False),
        (IDENTIFIER, "two_sum", True),
        (IDENTIFIER, "two_sum\n", False),  # Python's `$` alone would accept this one
        (at_least_visible(10), "  a        b  ", True),
        (at_least_visible(10), "\x0c a b c d e \x0c", False),
    ],
)
def test_python_and_an_ecma_engine_agree(pattern, value, ok):
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    assert matches(pattern, value) is ok
    assert validator.is_valid(value) is ok


def test_validators_normalise_what_the_pattern_allows():
    login = LoginRequest.model_validate({"email": " Ada@Example.com ", "password": "x"})
    assert login.email == "ada@example.com"
    capsule = CapsuleCreate.model_validate(
        {"title": " T ", "language": "python", "tags": [" Math ", "math"]}
    )
    assert (capsule.title, capsule.tags) == ("T", ["math"])
    job = GenerateRequest.model_validate({"prompt": "  reverse it!  ", "language": "python"})
    assert job.prompt == "reverse it!"


def test_range_days_are_iso_only():
    assert RangeQuery.model_validate({"to": "2026-01-31"}, strict=False).to.day == 31
    with pytest.raises(ValidationError):
        RangeQuery.model_validate({"to": "0"}, strict=False)
