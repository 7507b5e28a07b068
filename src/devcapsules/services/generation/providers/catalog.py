"""The offline `catalog` provider: real capsules from a small curated catalog, no model.

Used when no model is configured (local development, tests, demos). It matches the
prompt against each exercise's keywords and builds the capsule in the same shape a
model returns, so it goes through the same verification (the executor runs the
solution against the tests) and the result says `provider: "catalog"`. A prompt that
matches nothing fails the job permanently with the list of topics, rather than
producing an unrelated exercise.
"""

from __future__ import annotations

import json
import re
from typing import Any

from devcapsules.services.generation.providers.base import (
    GenerationRequest,
    PermanentProviderError,
)
from devcapsules.services.generation.providers.catalog_data import EXERCISES

_WORD = re.compile(r"[a-z0-9]+")


def _score(entry: dict, text: str, words: list[str], difficulty: str) -> tuple[int, int, int]:
    """(strong hits, related hits, difficulty match): compared as a tuple."""

    def hit(keyword: str) -> bool:
        if " " in keyword or "-" in keyword:
            return keyword in text
        # Prefix match catches plurals and inflections ("palindromes", "reversing").
        return any(word.startswith(keyword) for word in words)

    strong = sum(hit(k) for k in entry["keywords"])
    related = sum(hit(k) for k in entry["related"])
    return strong, related, int(entry["difficulty"] == difficulty)


def match(prompt: str, difficulty: str = "medium") -> dict | None:
    text = " ".join(_WORD.findall(prompt.lower()))
    words = text.split()
    scored = [(_score(e, text, words, difficulty), i) for i, e in enumerate(EXERCISES)]
    best, index = max(scored)
    return EXERCISES[index] if best[0] > 0 else None


def starter_code(language: str, function_name: str, params: list[str]) -> str:
    args = ", ".join(params)
    if language == "python":
        return f"def {function_name}({args}):\n    # TODO: implement\n    pass\n"
    return f"function {function_name}({args}) {{\n  // TODO: implement\n}}\n"


def build_capsule(entry: dict, language: str) -> dict[str, Any]:
    """The entry as model output (`GeneratedCapsule`): test values as JSON text."""
    function_name, solution = entry[language]
    tests = [
        {
            "description": description,
            "inputJson": json.dumps(args),
            "expectedJson": json.dumps(expected),
            "hidden": hidden,
        }
        for args, expected, description, hidden in entry["tests"]
    ]
    return {
        "title": entry["title"],
        "description": entry["description"],
        "problem": entry["problem"].replace("{fn}", function_name),
        "functionName": function_name,
        "starterCode": starter_code(language, function_name, entry["params"]),
        "solution": solution,
        "testCases": tests,
        "hints": list(entry["hints"]),
        "tags": [*entry["tags"], "catalog"],
        "difficulty": entry["difficulty"],
    }


def topics() -> list[str]:
    return [entry["title"] for entry in EXERCISES]


class CatalogProvider:
    name = "catalog"

    async def generate(self, request: GenerationRequest) -> Any:
        entry = match(request.prompt, request.difficulty)
        if entry is None or language_missing(entry, request.language):
            raise PermanentProviderError(
                "No model is configured and the offline catalog has no exercise matching "
                f"this prompt. Catalog topics: {', '.join(topics())}",
                code="catalog_no_match",
            )
        return build_capsule(entry, request.language)


def language_missing(entry: dict, language: str) -> bool:
    return language not in entry
