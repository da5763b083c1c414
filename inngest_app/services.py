"""What functions and routes share at run time: settings, the store transport, HTTP clients.

Functions are built once, at app creation, and close over a `Services`; the resources inside it
are opened by the app's lifespan (nothing connects at import or build time) and read through the
properties, which fail loudly if used before start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import asyncpg
import httpx
import inngest

from inngest_app.settings import Settings
from inngest_app.store import Transport

if TYPE_CHECKING:
    from inngest_app.monitoring.recorder import Recorder
    from inngest_app.outbound import GuardedClient

Part = TypeVar("Part")


class NotStartedError(RuntimeError):
    """A resource was used before the app's lifespan opened it."""


class Lifecycle(Protocol):
    """A background component: started after the store opens, stopped before it closes."""

    async def start(self) -> None:
        """Begin work (timers, buffers)."""
        ...

    async def stop(self) -> None:
        """Finish work and release resources; must not raise."""
        ...


@dataclass
class Services:
    """Shared resources, filled in by the lifespan."""

    settings: Settings
    inngest: inngest.Inngest
    _transport: Transport | None = None
    _pool: asyncpg.Pool | None = None
    _http: httpx.AsyncClient | None = None
    _outbound: GuardedClient | None = None
    lifecycles: list[Lifecycle] = field(default_factory=list)
    recorder: Recorder | None = None
    # Migration files the database lacks (start-up check; readiness fails while any are);
    # None until checked (Supabase REST, or the database unreachable so far).
    pending_migrations: list[str] | None = None
    # run-time parts a family builds for itself (the skills library...), one per type: the
    # container holds them without knowing what they are (see `part`)
    _parts: dict[type[Any], Any] = field(default_factory=dict)

    def part(self, kind: type[Part], build: Callable[[Services], Part]) -> Part:
        """The app's one `kind`, built by `build(self)` on first use; a part with `start` and
        `stop` is registered as a lifecycle (functions are built before the lifespan starts)."""
        if kind not in self._parts:
            built = build(self)
            self._parts[kind] = built
            if callable(getattr(built, "start", None)) and callable(getattr(built, "stop", None)):
                self.lifecycles.append(cast(Lifecycle, built))
        return cast(Part, self._parts[kind])

    @property
    def transport(self) -> Transport:
        """The store transport (Postgres or Supabase)."""
        if self._transport is None:
            raise NotStartedError("the store is not open (app lifespan not started)")
        return self._transport

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The asyncpg pool, when the store is Postgres (None on the Supabase transport)."""
        return self._pool

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared outbound HTTP client (explicit timeouts)."""
        if self._http is None:
            raise NotStartedError("the HTTP client is not open (app lifespan not started)")
        return self._http

    @property
    def outbound(self) -> GuardedClient:
        """The guarded client for every request whose URL, host or headers come from users."""
        if self._outbound is None:
            raise NotStartedError("the outbound client is not open (app lifespan not started)")
        return self._outbound
