"""The engine's state, shared by its parts (`scheduling`, `machine`, `opcodes`, `caller`).

`EngineCore` holds what the parts read and change: the clock, the registered functions, the
events, the runs and the queue of calls to make, the flow-control state and the HTTP client. A
part calls another part's methods through `self`. The parts stack up, each on the one below:
core, machine, scheduling, opcodes, caller, engine; the three methods a part calls in a part
above its own (`_track`, `_launch`, `_emit`) are declared here and defined by that part.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from inngest_app.testing.clock import Backoff, Clock
from inngest_app.testing.flow import Bucket, Gcra, Windows
from inngest_app.testing.limits import Guard, Limits
from inngest_app.testing.registry import Registry
from inngest_app.testing.runs import Pending, Run

DEFAULT_MAX_IN_FLIGHT = 16


@dataclass
class Held:
    """Events a debounce or a batch holds for a function (and key) until it fires."""

    fn_id: str
    events: list[dict[str, Any]]
    first_at: float
    due: float
    superseded: list[str] = field(default_factory=list)  # debounce: replaced event ids


class EngineCore:
    """Functions, events and runs: the state every part of the engine works on."""

    def __init__(
        self,
        *,
        signing_key: str | None,
        clock: Clock,
        backoff: Backoff,
        http: httpx.AsyncClient | None,
        call_timeout_s: float,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        limits: Limits | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.guard = Guard(limits or Limits())  # Inngest's platform limits (`limits.py`)
        self.signing_key = signing_key
        self.clock = clock
        self.backoff = backoff
        self.call_timeout_s = call_timeout_s
        self.max_in_flight = max_in_flight
        self.registry = Registry()
        self.events: list[dict[str, Any]] = []
        self._http = http
        self._owns_http = http is None
        self._runs: dict[str, Run] = {}
        self._active: dict[str, Run] = {}  # unfinished runs, in creation order
        # Calls to make, as a lazy heap of (due - priority, creation order, version, run id):
        # an entry whose version is not the run's current one is stale and skipped.
        self._queue: list[tuple[float, int, int, str]] = []
        self._versions: dict[str, int] = {}
        self._timed: dict[str, Run] = {}  # unfinished runs with a timer or a deadline
        self._seen: dict[str, float] = {}
        self._sequence = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors: list[BaseException] = []
        self._wake = asyncio.Event()  # set when a call lands or new work arrives
        self._slots: dict[Bucket, int] = {}  # concurrency slots in use
        self._throttle = Gcra()
        self._rate = Windows()
        self._idempotency: dict[tuple[str, str], float] = {}
        self._debounces: dict[tuple[str, str], Held] = {}
        self._batches: dict[tuple[str, str], Held] = {}

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Registered function configs by composite id, exactly as the SDK sent them."""
        return self.registry.functions

    @property
    def registrations(self) -> list[dict[str, Any]]:
        """Every registration body received, in order."""
        return self.registry.registrations

    @property
    def in_flight(self) -> int:
        """Calls to apps under way right now."""
        return len(self._tasks)

    # --- defined by the parts above (`engine`, `scheduling`, `caller`) -----------------------

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        """Accept a system event (`engine.Engine._emit`)."""
        raise NotImplementedError

    def _track(self, run: Run) -> None:
        """Queue the run's next call (`scheduling.Scheduling._track`)."""
        raise NotImplementedError

    def _launch(self, run: Run, item: Pending | None, now: float) -> None:
        """Start a call of the run's unit (`caller.Caller._launch`)."""
        raise NotImplementedError
