"""How the Workers runtime calls a Python `WorkerEntrypoint` (run inside Pyodide).

Our own model, written from the Workers docs and the SDK's documented behaviour, not
from runtime code:
- the class is instantiated with the JS `ctx` and `env` (the SDK wraps `env` in its
  env proxy; that is `self.env`);
- `fetch` is called with the request alone;
- `queue(batch, env, ctx)` and `scheduled(controller, env, ctx)` are called with every
  argument converted as RPC arguments are (`workers.rpc.python_from_rpc`): a plain JS
  object such as `env` becomes a `JsDict`, class instances (ctx, batch, controller)
  pass through unchanged;
- the handler's result goes back through `python_to_rpc`.
"""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import to_js
from workers.rpc import python_from_rpc, python_to_rpc


def production_vars(**overrides: str) -> dict[str, str]:
    vars = {
        "ENVIRONMENT": "production",
        "ALLOWED_ORIGINS": "https://app.example.com",
        "JWT_SECRET": "s" * 40,  # a secret: a string in the env, as `wrangler secret put`
        "EXECUTOR_URL": "https://executor.example.com",
        "LOG_LEVEL": "warning",
    }
    vars.update(overrides)
    return vars


def js_env(vars: dict[str, str]) -> Any:
    """The runtime's env object: Miniflare's bindings plus exactly these vars/secrets."""
    return js.boundary.envWith(to_js(vars))


class Runtime:
    """Delivers events to an entrypoint class the way workerd does, one instance each."""

    def __init__(self, entrypoint: type, env: Any):
        self.entrypoint = entrypoint
        self.env = env
        self.contexts: list[Any] = []

    def _instance(self) -> tuple[Any, Any]:
        ctx = js.boundary.newContext()
        self.contexts.append(ctx)
        return self.entrypoint(ctx, self.env), ctx

    async def fetch(self, request: Any) -> Any:
        instance, _ = self._instance()
        return python_to_rpc(await instance.fetch(python_from_rpc(request)))

    async def queue(self, batch: Any) -> Any:
        instance, ctx = self._instance()
        args = [python_from_rpc(value) for value in (batch, self.env, ctx)]
        return python_to_rpc(await instance.queue(*args))

    async def scheduled(self, controller: Any) -> Any:
        instance, ctx = self._instance()
        args = [python_from_rpc(value) for value in (controller, self.env, ctx)]
        return python_to_rpc(await instance.scheduled(*args))

    async def settle(self) -> None:
        """What the runtime does before an isolate may go: wait for every waitUntil."""
        for ctx in self.contexts:
            await ctx.settled()
