"""Workers entrypoint: adapt the event, call the app. Nothing else lives here.

The adapting is in `devcapsules.edge` (the only other module that may import
`workers`, `js` or `pyodide`); the app is built there, once per isolate, on the
first event, never at import time (the runtime snapshots module state).
"""

from workers import Response, WorkerEntrypoint

from devcapsules import edge


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(await edge.handle_fetch(request, self.env, self.ctx))

    async def queue(self, batch, env=None, ctx=None):
        # The SDK has already wrapped `batch`; env/ctx arrive on self for class entrypoints.
        await edge.handle_queue(batch, env or self.env, ctx or self.ctx)

    async def scheduled(self, controller, env=None, ctx=None):
        await edge.handle_scheduled(controller, env or self.env, ctx or self.ctx)
