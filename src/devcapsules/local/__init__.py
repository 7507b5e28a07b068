"""The CPython host: local bindings, the HTTP server and the CLI. Never loaded on the edge."""
