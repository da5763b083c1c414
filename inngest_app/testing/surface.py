"""What the executor's own pages and APIs (`rest`, `viewer`, `viewer_actions`) read of it.

They are given the executor, but know it only by this protocol: they import no engine module,
and the engine none of them, so the routes and the executor that serves them form no loop.
"""

from __future__ import annotations

from typing import Any, Protocol

from inngest_app.testing.clock import Clock
from inngest_app.testing.registry import Registry
from inngest_app.testing.runs import Run


class Executor(Protocol):
    """The executor as its pages and APIs see it (`TestExecutor` is one)."""

    signing_key: str | None
    event_key: str | None
    clock: Clock
    registry: Registry
    events: list[dict[str, Any]]

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Registered function configs by composite id."""
        ...

    def runs(self, function_id: str | None = None, event_name: str | None = None) -> list[Run]:
        """Runs in creation order, filtered."""
        ...

    def run(self, run_id: str) -> Run:
        """One run by id (`KeyError` if unknown)."""
        ...

    def rerun(self, run_id: str) -> Run:
        """A new run of the same function with the same event(s)."""
        ...

    def cancel_run(self, run_id: str) -> Run:
        """Cancel an unfinished run."""
        ...

    def invoke(self, function_id: str, data: dict[str, Any]) -> Run:
        """Start a function with `data`, as `step.invoke` would."""
        ...
