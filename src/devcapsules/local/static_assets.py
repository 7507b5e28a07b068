"""The local stand-in for Workers Static Assets (wrangler.toml's `[assets]`).

On the edge, a GET or HEAD whose path matches a file of the assets directory is served
without running the Worker (`run_worker_first = false`), with the headers of the
directory's `_headers` file; anything else reaches the Worker. `devcapsules dev` does
the same in front of the app, so /docs and the widget example are served at the same
paths with the same headers in both places. The path rules are the edge's
`html_handling = "auto-trailing-slash"`: `/docs` serves `docs.html`, `/docs.html`
redirects (307) to `/docs`; `/dir/` serves `dir/index.html`, `/dir` redirects to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from devcapsules.http import Headers, Response
from devcapsules.local.headers_file import HeaderRule, apply_rules, read_headers_file

SUPPORTED = {"html_handling": {"auto-trailing-slash"}, "not_found_handling": {"none"}}
# Files the edge parses or ignores instead of serving.
METAFILES = {"_headers", "_redirects", ".assetsignore"}
# Wrangler's rule: the type from the extension; text types carry `charset=utf-8`.
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The edge's default for assets fetched without Authorization or Range.
DEFAULT_CACHE_CONTROL = "public, max-age=0, must-revalidate"


@dataclass(frozen=True)
class AssetsConfig:
    directory: Path
    html_handling: str = "auto-trailing-slash"
    not_found_handling: str = "none"

    @classmethod
    def from_wrangler(cls, root: Path, section: dict[str, Any]) -> AssetsConfig:
        config = cls(
            directory=root / section["directory"],
            html_handling=section.get("html_handling", "auto-trailing-slash"),
            not_found_handling=section.get("not_found_handling", "none"),
        )
        for option, allowed in SUPPORTED.items():
            if getattr(config, option) not in allowed:
                raise ValueError(
                    f"[assets] {option} = {getattr(config, option)!r}: the local "
                    f"host implements only {sorted(allowed)}"
                )
        return config


class StaticAssets:
    def __init__(self, config: AssetsConfig):
        self.root = config.directory.resolve()
        self.rules: list[HeaderRule] = read_headers_file(self.root / "_headers")
        # The top level of the directory, re-read when it changes (see `_may_serve`).
        self._top: tuple[int, frozenset[str]] = (-1, frozenset())

    def answer(
        self, method: str, path: str, request_headers: Headers, query: str = ""
    ) -> Response | None:
        """The asset response for this request, or None: the app answers it."""
        if method not in ("GET", "HEAD") or not self._may_serve(path):
            return None
        target = self._resolve(path)
        if target is None:
            return None
        if isinstance(target, str):
            response = Response(307)
            response.headers.set("Location", target + (f"?{query}" if query else ""))
        else:
            response = Response(200, target.read_bytes())
            if kind := _content_type(target):
                response.headers.set("Content-Type", kind)
            if not {"authorization", "range"} & {k.lower() for k in request_headers}:
                response.headers.set("Cache-Control", DEFAULT_CACHE_CONTROL)
        apply_rules(self.rules, path, response.headers)
        if method == "HEAD":
            response.headers.set("Content-Length", str(len(response.body)))
            response.body = b""
        return response

    def _may_serve(self, path: str) -> bool:
        """False when no file can answer `path`: its first segment names nothing at the
        top of the directory (neither `x` nor `x.html`). Every API request (`/health`,
        `/api/...`) asks first, and resolving its three candidate files costs a dozen
        filesystem calls (~130 µs); this costs one `stat` of the directory, whose mtime
        changes when an entry is added or removed there, so a file added while the host
        runs is still served. Deeper paths under a top-level entry take the full check."""
        first = path.lstrip("/").split("/", 1)[0]
        if not first:
            return True  # `/` or `//...`: the index page
        try:
            mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            return True  # let the full check answer (and fail) as it always has
        if mtime != self._top[0]:
            names = os.listdir(self.root)
            self._top = (mtime, frozenset(names + [n[:-5] for n in names if n.endswith(".html")]))
        return first in self._top[1]

    def _resolve(self, path: str) -> Path | str | None:
        """A file to serve, a path to redirect to (str), or None (not an asset)."""
        if ".." in PurePosixPath(path).parts or "\\" in path or "\0" in path:
            return None
        if not path.endswith((".html", "/index")) and (exact := self._file(path)):
            return exact
        found = self._canonical(_html_base(path))
        if found is None:
            return None
        canonical, file = found
        return file if canonical == path else canonical

    def _canonical(self, base: str) -> tuple[str, Path] | None:
        """The canonical URL of an HTML page and its file: `/x` for x.html, `/x/` for
        x/index.html."""
        if base and (file := self._file(base + ".html")):
            return base, file
        if file := self._file(base + "/index.html"):
            return base + "/", file
        return None

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative or PurePosixPath(relative).name in METAFILES:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate


def _html_base(path: str) -> str:
    """`/x`, `/x/`, `/x.html`, `/x/index`, `/x/index.html` all name the page `/x`."""
    for suffix in ("/index.html", "/index", ".html", "/"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _content_type(path: Path) -> str | None:
    kind = CONTENT_TYPES.get(path.suffix.lower())
    if kind is None:  # wrangler uploads such files without a type
        return None
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind
