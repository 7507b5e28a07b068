"""Workers entrypoint: adapt the event, call the app. Nothing else lives here.

The adapting is in `devcapsules.edge` (the only other module that may import
`workers`, `js` or `pyodide`).

Start-up: the runtime takes its deploy snapshot after this module's top level has run,
so the route table, the schemas and their pydantic models are imported and built here
(`prepare`: no I/O, no env, no randomness); only the settings-dependent part of the app
is built on the isolate's first event, whichever handler receives it.

Dispatch: the runtime converts every argument of a handler call (a plain JS object such
as `env` becomes the SDK's `JsDict`, whose vars cannot be read as the env's), so every
handler reads bindings, vars and secrets from `self.env`, the context from `self.ctx`.
"""

from workers import Response, WorkerEntrypoint

from devcapsules import edge
from devcapsules.app import prepare

ISOLATE = edge.Isolate(prepare())


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(await edge.handle_fetch(request, self.env, self.ctx, ISOLATE))

    async def queue(self, batch, env=None, ctx=None):
        # `batch` is wrapped by the SDK; `env`/`ctx` are converted copies: use self's.
        await edge.handle_queue(batch, self.env, self.ctx, ISOLATE)

    async def scheduled(self, controller, env=None, ctx=None):
        await edge.handle_scheduled(controller, self.env, self.ctx, ISOLATE)
