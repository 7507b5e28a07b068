"""Domain logic, independent of HTTP and of the host.

One calling convention: an operation is `op(ctx, ...)` and takes bindings from `ctx.env`,
settings from `ctx.settings`, time and ids from `ctx.deps` (`clock.now()`,
`ids.new(prefix)`); each concept's SQL module takes `db` and the values it writes (`now`
and new ids included) from the operation that calls it.
"""
