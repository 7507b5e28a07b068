"""The route table: each module exports `routes`; order does not matter."""

from __future__ import annotations

from devcapsules.routing import Route


def all_routes() -> list[Route]:
    from devcapsules.routes import analytics, auth, capsules, docs, execute, generate, health

    return [
        *health.routes,
        *auth.routes,
        *capsules.routes,
        *execute.routes,
        *analytics.routes,
        *generate.routes,
        *docs.routes,
    ]
