"""Accounts: users, their sessions, their API keys, and who is calling.

One concept, one SQL module:
- `store`: the only SQL for the accounts tables (users, api_keys, refresh_tokens), and
  the `User` row; it takes the time and new ids as values, like every SQL module.
- `sessions`: registration, password login, refresh-token rotation (a session is an
  access token plus a family of rotating refresh tokens), logout.
- `api_keys`: the owner's side of API keys: create (shown once), list, revoke.
- `principals`: a bearer credential (API key or access token) becomes the `Principal`,
  with the plan as D1 has it now, through the KV copies of the accounts rows; revoking a
  key or changing a plan drops them.
- `tokens`: access tokens (HS256 JWTs), issued and checked at the app clock's `now`.
- `passwords`: PBKDF2 hashing in one format on every host.

The operations (sessions, api_keys, principals) take the request's `Context` and read
time and ids from `ctx.deps` (`clock.now()`, `ids.new(prefix)`).
"""
