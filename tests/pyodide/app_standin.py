"""Stands in for `devcapsules.app.prepare` inside the offline Pyodide rung.

The real App imports pydantic (its router and models), whose compiled core
(pydantic-core, wasm) Pyodide fetches from its package index: it cannot load offline.
This module has the same entry points (`prepare()` at import time, `builder(settings)` on
the first event, and the App methods the edge adapter calls) and records what it was
given, so the cases can check what every handler saw. Everything around it
(src/entry.py, devcapsules.edge, the SDK, Settings, the bindings) is the real code.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from devcapsules.http import Headers, Response

PREPARED: list[str] = []  # one entry per prepare() call (entry.py calls it at import)


class RecordingApp:
    def __init__(self, settings):
        self.settings = settings
        self.batches = []
        self.events = []  # (handler, settings, vars) per event

    def _seen(self, handler, env):
        self.events.append((handler, self.settings, dict(env.vars)))

    async def handle_batch(self, batch, env, wait_until):
        self._seen("queue", env)
        self.batches.append([(m.body, m.attempts, m.timestamp) for m in batch.messages])
        for message in batch.messages:
            if message.body == {"retry": True} and message.attempts == 1:
                message.retry(delay_seconds=0)
            else:
                message.ack()

    async def handle_scheduled(self, cron, env, wait_until):
        self._seen("scheduled", env)
        return {"cron": cron}

    async def handle(self, request, env, wait_until):
        self._seen("fetch", env)

        async def later():
            env.vars["waited"] = "yes"

        wait_until(later())
        body = json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "ip": request.client_ip,
                "json": request.json() if request.body else None,
                "environment": self.settings.environment,
                "jwtSecretSet": self.settings.auth.jwt_secret is not None,
                "origins": list(self.settings.cors.allowed_origins),
                "vars": sorted(env.vars),
            }
        ).encode()
        headers = Headers([("content-type", "application/json"), ("x-echo", "1")])
        return Response(201, body, headers)


class Builder:
    """`prepare()`'s result: builds a RecordingApp, remembering each one."""

    def __init__(self):
        self.built: list[RecordingApp] = []

    def __call__(self, settings):
        app = RecordingApp(settings)
        self.built.append(app)
        return app


def prepare():
    PREPARED.append("prepare")
    return Builder()


# The adapter reads the body only up to the app's limit: cases that use the recording
# app directly give it these settings.
DEFAULT_SETTINGS = SimpleNamespace(max_body_bytes=1024 * 1024, environment="development")
