"""Cost of making success bodies: in-process µs per request on routes whose bodies are
large (a page of 20 capsules in the owner's view) or small (one capsule, /health), and
the serialiser alone against an anchor from the same run.

Bodies are serialised by the router from each route's declared response model
(`routing.Route.render`: pydantic-core's compiled serializer; the capsule routes hand it
the model's data, dumped by `routing.data_serializer` without a validation pass). The
anchor is what the handlers did before: `json.dumps` of the same body as a dict
(`http.json_response`). The serialiser rows need this tree (`routing.data_serializer`).
Run the script on two trees to compare whole requests before and after a change:

    .venv/bin/python bench/bench_bodies.py [--requests 2000]
    PYTHONPATH=<other tree>/src .venv/bin/python bench/bench_bodies.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from bench_capsules import UNLIMITED, capsule  # noqa: E402

from devcapsules.app import build_app  # noqa: E402
from devcapsules.http import Request  # noqa: E402
from devcapsules.logs import Logger  # noqa: E402
from devcapsules.settings import Settings  # noqa: E402

BASE = "/api/v1/capsules"


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def requests_part(requests: int) -> list[tuple[str, float]]:
    from tests.support.bindings import open_sqlite_env

    vars = {"JWT_SECRET": "bench-" + "x" * 40, "LOG_LEVEL": "error", **UNLIMITED}
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, open_sqlite_env(Path(tmp), vars) as env:
        settings = Settings.from_vars(env.vars)
        app = build_app(settings, logger=Logger(level="error", sink=lambda line: None))

        deferred: list[asyncio.Future] = []  # wait_until work, settled outside the timing

        async def call(method: str, path: str, headers: dict, body=None):
            data = json.dumps(body).encode() if body is not None else b""
            if body is not None:
                headers = {**headers, "content-type": "application/json"}
            request = Request(method, f"http://bench{path}", headers, data, "203.0.113.1")
            return await app.handle(request, env, lambda work: deferred.append(work))

        async def settle() -> None:
            while deferred:
                await deferred.pop()

        account = {"email": "b@example.com", "password": "correct horse battery", "name": "B"}
        registered = await call("POST", "/api/v1/auth/register", {}, account)
        session = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
        ids = [
            (await call("POST", BASE, session, capsule(i))).json()["capsule"]["id"]
            for i in range(20)
        ]
        cases = [
            ("GET /health", "/health", {}),
            ("GET capsule (owner view)", f"{BASE}/{ids[0]}", session),
            ("GET 20 capsules (owner view)", f"{BASE}?owner=me&limit=20", session),
        ]
        for name, path, headers in cases:
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await call("GET", path, headers)
                samples.append(time.perf_counter() - started)
                assert response.status == 200, response.body
                await settle()
            rows.append((name, median_us(samples)))
    return rows


def find_data_serializer():
    """The tree's `data_serializer` (in routing; in schemas on older trees), or None."""
    from devcapsules import routing, schemas

    return getattr(routing, "data_serializer", None) or getattr(schemas, "data_serializer", None)


def serialiser_part(requests: int) -> list[tuple[str, float, float]]:
    """The serialiser alone, on the 20-capsule page: model dump vs json.dumps of a dict."""
    data_serializer = find_data_serializer()
    from devcapsules.schemas.capsules import CapsuleListResponse

    item = {**capsule(1), "id": "cap_1", "ownerId": "usr_1", "hiddenTestCount": 2}
    item.update(status="draft", source="manual", generationJobId=None, qualityScore=None)
    item.update(
        version=1, createdAt="2026-01-01T00:00:00.000Z", updatedAt="2026-01-01T00:00:00.000Z"
    )
    body = {"success": True, "capsules": [item] * 20, "nextCursor": None}
    model = CapsuleListResponse.model_validate(body)
    dump = CapsuleListResponse.__pydantic_serializer__.to_json

    def timed(fn) -> float:
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        return median_us(samples)

    anchor = timed(lambda: json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    validate_and_dump = timed(
        lambda: dump(CapsuleListResponse.model_validate(body), by_alias=True, exclude_unset=True)
    )
    dump_only = timed(lambda: dump(model, by_alias=True, exclude_unset=True))
    data = data_serializer(CapsuleListResponse)
    from_data = timed(lambda: data.to_json(body, by_alias=True, warnings=True))
    return [
        ("data dumped by the model (router)", from_data, anchor),
        ("dump of a built model (router)", dump_only, anchor),
        ("validate + dump", validate_and_dump, anchor),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    import devcapsules

    print(f"tree: {Path(devcapsules.__file__).resolve().parents[1]}")
    print(f"{'in-process request':<34} {'µs (median)':>12}")
    for name, us in asyncio.run(requests_part(args.requests)):
        print(f"{name:<34} {us:>12.1f}")
    if find_data_serializer() is None:
        return  # an older tree: whole requests only
    print(f"\n{'serialiser, 20 capsules':<34} {'µs':>8} {'json.dumps':>11} {'ratio':>6}")
    for name, us, anchor in serialiser_part(args.requests):
        print(f"{name:<34} {us:>8.1f} {anchor:>11.1f} {us / anchor:>6.2f}")


if __name__ == "__main__":
    main()
