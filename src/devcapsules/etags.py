"""Versioned resources over HTTP: ETags, If-None-Match (304) and If-Match (412).

A resource with an integer `version` that increments on every write gets the weak ETag
`W/"<version>"` in its full view and `W/"<version>-p"` in a reduced (public) view: the
two views are different bodies, so they must not share a validator.

`If-Match` accepts the ETag as sent (`W/"3"` or `"3"`) or the bare version (`3`), a list
of them, or `*`. Weak comparison is deliberate: the version is what we compare.
"""

from __future__ import annotations

from devcapsules.http import HTTPError, Request


def etag(version: int, full: bool = True) -> str:
    return f'W/"{version}"' if full else f'W/"{version}-p"'


def _tokens(header: str) -> list[str]:
    tokens = []
    for part in header.split(","):
        token = part.strip()
        if token.startswith("W/"):
            token = token[2:]
        tokens.append(token.strip('"'))
    return [token for token in tokens if token]


def not_modified(request: Request, current_etag: str) -> bool:
    """True when `If-None-Match` names the current representation (answer 304)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tokens = _tokens(header)
    return "*" in tokens or _tokens(current_etag)[0] in tokens


def expected_versions(request: Request) -> set[int] | None:
    """Versions `If-Match` allows; None when absent or `*` (any current version)."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tokens = _tokens(header)
    if "*" in tokens:
        return None
    # A token that is not a version (e.g. a public view's `W/"3-p"`) matches nothing.
    return {int(token) for token in tokens if token.isdigit()}


def check_if_match(request: Request, version: int) -> None:
    allowed = expected_versions(request)
    if allowed is not None and version not in allowed:
        raise precondition_failed(version)


def precondition_failed(version: int | None = None) -> HTTPError:
    details = {"currentVersion": version} if version is not None else None
    headers = {"ETag": etag(version)} if version is not None else None
    return HTTPError(
        412,
        "precondition_failed",
        "The resource changed since you read it (If-Match); fetch it again and retry",
        details=details,
        headers=headers,
    )
