"""AI generation: jobs (D1), providers (models and the offline catalog), verification
(the executor runs the reference solution against the generated tests) and the queue
consumer. Routes live in `devcapsules.routes.generate`, the queue registry in
`devcapsules.consumers`."""
