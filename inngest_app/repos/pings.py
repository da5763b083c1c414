"""Pings: the first function's records."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from inngest_app.store import Transport


class PingRecord(BaseModel):
    """One recorded step of a ping run."""

    run_id: str
    step: str
    message: str
    recorded_at: dt.datetime


class PingsRepo:
    """Writes ping records."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def record(self, *, run_id: str, step: str, message: str) -> PingRecord:
        """Record one step (idempotent on run id and step)."""
        row = await self._transport.call(
            "record_ping", {"p_run_id": run_id, "p_step": step, "p_message": message}
        )
        return PingRecord.model_validate(row)
