"""AI generation: intake (accepting a job with its quota charge: the package's one owner
of the quota), jobs (D1), providers (models and the offline catalog), verification (the
executor runs the reference solution against the generated tests and hands back its typed
`SuiteResult`) and the queue consumer. The route (`devcapsules.routes.generate`) only
translates HTTP to `intake.accept`; the queue registry is `devcapsules.consumers`."""
