"""The hybrid: which backend runs which language, from configuration.

Vars (wrangler.toml [vars] / secrets on the edge, `.dev.vars` or the environment locally):
- `EXECUTOR_BACKEND_DEFAULT`  local | remote | piston. Default: `remote` in staging and
  production and wherever no sandbox can run (the Worker), else `local`.
- `EXECUTOR_ROUTES`           per-language overrides, e.g. "java=piston,rust=piston".
- `EXECUTOR_URL`              our executor service (`devcapsules executor serve`).
- `AWS_EXECUTOR_API_KEY`      its bearer key (a secret; the seed's name).
- `EXECUTOR_TIMEOUT_S`        optional total deadline of one call to the executor service
  or Piston (connect, send and the whole answer; default: from the run's limits).
- `PISTON_URL`, `PISTON_API_KEY`  a Piston v2 server (key optional).
- `EXECUTOR_WARM_POOL`        the local sandbox's warm pool, e.g. "python=4" (local host).
Parsed into `Settings.execution` when the app is built: a configuration that cannot work
(unknown backend, `remote` without `EXECUTOR_URL`) fails the build, naming the variable.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devcapsules.errors import DomainError, Misconfigured
from devcapsules.logs import Logger
from devcapsules.services.execution.base import Executor
from devcapsules.services.plans import RunLimits

if TYPE_CHECKING:  # settings import this module (the context holds them); the edge adapter
    # imports it before (and without) pydantic
    from devcapsules.context import Context
    from devcapsules.schemas.execution import BatchRun, SuiteResult

BACKENDS = ("local", "remote", "piston")
_VARS = (
    "ENVIRONMENT",
    "EXECUTOR_BACKEND_DEFAULT",
    "EXECUTOR_ROUTES",
    "EXECUTOR_URL",
    "AWS_EXECUTOR_API_KEY",
    "EXECUTOR_TIMEOUT_S",
    "PISTON_URL",
    "PISTON_API_KEY",
    "EXECUTOR_WARM_POOL",
)


# The router's language names: enough aliases to route requests by language before any
# backend is asked (and to check a capsule's language); each backend still resolves
# names itself (the local sandbox and Piston know more).
LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "c++": "cpp",
    "g++": "cpp",
    "cxx": "cpp",
    "gcc": "c",
    "rs": "rust",
    "golang": "go",
    "ts": "typescript",
    "rb": "ruby",
    "cs": "csharp",
    "c#": "csharp",
    "kt": "kotlin",
}


def canonical_language(name: str) -> str:
    wanted = name.strip().lower()
    return LANGUAGE_ALIASES.get(wanted, wanted)


class ExecutorConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ExecutorConfig:
    default: str = "local"
    routes: Mapping[str, str] = field(default_factory=dict)
    executor_url: str | None = None
    executor_key: str | None = None
    executor_timeout_s: float | None = None
    piston_url: str | None = None
    piston_key: str | None = None
    # The local sandbox's warm pool (e.g. "python=4"), checked by the host that fills it.
    warm_pool: str | None = None

    def backend_for(self, language: str) -> str:
        return self.routes.get(canonical_language(language), self.default)

    def backends(self) -> set[str]:
        """Every backend some language is routed to."""
        return {self.default, *self.routes.values()}

    @classmethod
    def from_vars(
        cls, values: Mapping[str, str], can_sandbox: bool | None = None
    ) -> ExecutorConfig:
        """`Settings.execution`, parsed once when the app is built; ExecutorConfigError
        (a ValueError naming the var) if the configuration cannot work. `can_sandbox`:
        whether this platform could sandbox code (default: `sandbox_possible()`)."""
        if can_sandbox is None:
            can_sandbox = sandbox_possible()
        return _parse({name: values.get(name) or "" for name in _VARS}, can_sandbox)


def _parse(values: Mapping[str, str], can_sandbox: bool) -> ExecutorConfig:
    chosen = values["EXECUTOR_BACKEND_DEFAULT"].strip().lower()
    default = chosen or default_backend(values["ENVIRONMENT"], can_sandbox)
    config = ExecutorConfig(
        default=_backend(default, "EXECUTOR_BACKEND_DEFAULT"),
        routes=parse_routes(values["EXECUTOR_ROUTES"]),
        executor_url=values["EXECUTOR_URL"].strip() or None,
        executor_key=values["AWS_EXECUTOR_API_KEY"] or None,
        executor_timeout_s=_timeout(values["EXECUTOR_TIMEOUT_S"]),
        piston_url=values["PISTON_URL"].strip() or None,
        piston_key=values["PISTON_API_KEY"] or None,
        warm_pool=values["EXECUTOR_WARM_POOL"].strip() or None,
    )
    used = set(config.routes.values())
    if chosen or _deployed(values["ENVIRONMENT"]):
        used.add(config.default)
    # Else a development host that cannot sandbox fell back to `remote` by itself: without
    # EXECUTOR_URL it still serves everything else, and a run answers what is missing.
    if "remote" in used and not config.executor_url:
        raise ExecutorConfigError("EXECUTOR_URL is required for the remote executor backend")
    if "piston" in used and not config.piston_url:
        raise ExecutorConfigError("PISTON_URL is required for the piston executor backend")
    return config


def default_backend(environment: str, can_sandbox: bool) -> str:
    """`remote` on the deployed Worker or wherever untrusted code cannot be sandboxed."""
    return "remote" if _deployed(environment) or not can_sandbox else "local"


def _deployed(environment: str) -> bool:
    return environment.strip().lower() in ("staging", "production")


def sandbox_possible() -> bool:
    """Could this platform sandbox code at all (bubblewrap is Linux-only; the Worker has no
    processes). Whether it actually can is the local backend's answer: a 503
    `sandbox_unavailable` saying what is missing, never a weaker isolation."""
    return sys.platform.startswith("linux")


def parse_routes(raw: str) -> dict[str, str]:
    routes: dict[str, str] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        language, sep, backend = entry.partition("=")
        if not sep or not language.strip():
            raise ExecutorConfigError(
                f"EXECUTOR_ROUTES entry {entry.strip()!r} is not lang=backend"
            )
        routes[canonical_language(language)] = _backend(backend, "EXECUTOR_ROUTES")
    return routes


def _backend(name: str, variable: str) -> str:
    name = name.strip().lower()
    if name not in BACKENDS:
        raise ExecutorConfigError(f"{variable}: unknown backend {name!r}; use one of {BACKENDS}")
    return name


def _timeout(raw: str) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ExecutorConfigError(f"EXECUTOR_TIMEOUT_S must be a number, got {raw!r}") from None
    if value <= 0:
        raise ExecutorConfigError("EXECUTOR_TIMEOUT_S must be positive")
    return value


class HybridExecutor:
    """Dispatches each call to the backend the routing table names for its language."""

    name = "hybrid"

    def __init__(self, config: ExecutorConfig, logger: Logger | None = None):
        self.config = config
        self.logger = logger or Logger()
        self._backends: dict[str, Executor] = {}

    def backend(self, name: str) -> Executor:
        if name not in self._backends:
            self._backends[name] = make_backend(name, self.config, self.logger)
        return self._backends[name]

    def for_language(self, language: str) -> Executor:
        return self.backend(self.config.backend_for(language))

    async def execute(
        self, source_code: str, language: str, *, stdin: str, limits: RunLimits
    ) -> dict[str, Any]:
        backend = self.for_language(language)
        return await backend.execute(source_code, language, stdin=stdin, limits=limits)

    async def run_tests(
        self,
        user_code: str,
        test_cases: list[dict[str, Any]],
        language: str,
        function_name: str | None,
        *,
        limits: RunLimits,
    ) -> SuiteResult:
        backend = self.for_language(language)
        return await backend.run_tests(
            user_code, test_cases, language, function_name, limits=limits
        )

    async def run_tests_batch(
        self, runs: list[BatchRun], language: str, *, limits: RunLimits
    ) -> list[SuiteResult]:
        backend = self.for_language(language)
        return await backend.run_tests_batch(runs, language, limits=limits)

    async def languages(self) -> list[dict[str, Any]]:
        """Each language once, from the backend that would run it; a backend that cannot
        answer is logged and left out rather than failing the whole list."""
        listed: dict[str, dict[str, Any]] = {}
        for name in dict.fromkeys([self.config.default, *self.config.routes.values()]):
            try:
                found = await self.backend(name).languages()
            except DomainError as exc:
                self.logger.warn("executor_languages_unavailable", backend=name, code=exc.code)
                continue
            for item in found:
                language = canonical_language(str(item.get("language", "")))
                if language and self.config.backend_for(language) == name:
                    listed.setdefault(language, {**item, "backend": name})
        return sorted(listed.values(), key=lambda item: item["language"])

    async def unavailable_languages(self) -> list[dict[str, Any]]:
        """Languages routed to the local sandbox whose toolchain it cannot run, and why
        (the other backends list only what they run)."""
        if "local" not in self.config.backends():
            return []
        local = self.backend("local")
        return [
            item
            for item in await local.unavailable_languages()  # type: ignore[attr-defined]
            if self.config.backend_for(item["language"]) == "local"
        ]


def make_backend(name: str, config: ExecutorConfig, logger: Logger) -> Executor:
    if name == "local":
        from devcapsules.services.execution.local import LocalExecutor

        return LocalExecutor()
    if name == "remote":
        from devcapsules.services.execution.remote import RemoteExecutor

        if config.executor_url is None:  # only the development fallback (see `_parse`)
            raise Misconfigured(
                "configuration_error",
                "Code execution misconfigured: EXECUTOR_URL is required for the remote"
                " executor backend",
            )
        return RemoteExecutor(
            config.executor_url, config.executor_key, config.executor_timeout_s, logger
        )
    from devcapsules.services.execution.piston import PistonExecutor

    assert config.piston_url is not None
    only = None
    if config.default != "piston":
        only = frozenset(lang for lang, backend in config.routes.items() if backend == "piston")
    return PistonExecutor(
        config.piston_url, config.piston_key, only, logger, config.executor_timeout_s
    )


def executor_for(ctx: Context) -> HybridExecutor:
    """The app's executor (built once with the app: `ctx.deps.executor`)."""
    assert ctx.deps is not None, "a context outside an app has no executor"
    return ctx.deps.executor
