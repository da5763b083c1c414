"""Reconciliation: a monitoring row still "started" long after its run began (its worker died
before the recorder flushed the end) is settled from what Inngest says about the run.

`InngestRuns` asks Inngest's REST API (`GET /v1/runs/{id}`, the signing key as bearer token;
the test executor serves the same route); `final_observation` turns a finished run into the
observation that ends the row. A run Inngest still calls running, or does not know, is left as
is. Recording is idempotent (steps merge by id, status only moves forward), so a row settled
twice, or settled and then flushed late by its worker, is still billed once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.inngest.com"
STATUS = {"Completed": "completed", "Failed": "failed", "Cancelled": "cancelled"}
MAX_CONCURRENT = 8


class StaleRow(BaseModel):
    """A monitoring row still "started"."""

    run_id: str
    function_id: str
    started_at: dt.datetime


class RunState(BaseModel):
    """What Inngest's REST API says of a run (`data`): `status` and when it ended."""

    model_config = ConfigDict(extra="ignore")

    status: str
    output: Any = None
    ended_at: float | str | None = None


class InngestRuns:
    """`GET /v1/runs/{id}` on an injected client; None when the run is unknown (404)."""

    def __init__(
        self, http: httpx.AsyncClient, *, api_url: str | None, signing_key: str | None
    ) -> None:
        self._http = http
        self._base = (api_url or DEFAULT_API_URL).rstrip("/")
        self._headers = {"Authorization": f"Bearer {signing_key}"} if signing_key else {}

    async def run(self, run_id: str) -> RunState | None:
        """The run's state; raises on a transport error or an unexpected answer (retried)."""
        response = await self._http.get(
            f"{self._base}/v1/runs/{run_id}", headers=self._headers, timeout=10.0
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RuntimeError(f"Inngest REST API answered {response.status_code} for a run")
        return RunState.model_validate(response.json()["data"])

    async def runs(self, run_ids: list[str]) -> dict[str, RunState | None]:
        """Several runs, a few at a time."""
        gate = asyncio.Semaphore(MAX_CONCURRENT)

        async def one(run_id: str) -> tuple[str, RunState | None]:
            async with gate:
                return run_id, await self.run(run_id)

        return dict(await asyncio.gather(*(one(r) for r in run_ids)))


def _ended(state: RunState, row: StaleRow, now: dt.datetime) -> dt.datetime:
    """When the run ended as Inngest says (unix seconds or ISO 8601), if plausible; else now."""
    at: dt.datetime | None = None
    try:
        if isinstance(state.ended_at, int | float):
            at = dt.datetime.fromtimestamp(state.ended_at, dt.UTC)
        elif isinstance(state.ended_at, str):
            at = dt.datetime.fromisoformat(state.ended_at.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        at = None
    if at is None or at.tzinfo is None or not row.started_at <= at <= now:
        return now
    return at


def _error(output: Any) -> str:
    if isinstance(output, dict):
        message = output.get("message") or output.get("error") or output.get("name")
        if isinstance(message, str) and message:
            return message[:2000]
    return "ended while its worker was gone (reconciled from Inngest)"


def final_observation(
    row: StaleRow, state: RunState | None, *, now: dt.datetime
) -> dict[str, Any] | None:
    """The observation that ends `row`, or None while Inngest does not say it ended."""
    status = None if state is None else STATUS.get(state.status)
    if state is None or status is None:
        return None
    return {
        "run_id": row.run_id,
        "function_id": row.function_id,
        "status": status,
        "error_message": None if status == "completed" else _error(state.output),
        "observed_at": _ended(state, row, now).isoformat(),
        "steps": {},
        "metadata": {"reconciled": state.status},
    }
