"""Recorded runs, read one page or one run at a time, and hourly buckets for short ranges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inngest_app.store import Transport


class RunsRepo:
    """Reads of `inngest_function_executions` for the runs API (writes: `ExecutionsRepo`)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def page(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        function_ids: list[str] | None,
        user_id: str | None,
        status: str | None,
        after: tuple[dt.datetime, str] | None,
        limit: int,
        bill_all_steps: bool,
    ) -> list[dict[str, Any]]:
        """Runs started in `[start, end)`, newest first, after the keyset `after`; at most
        `limit`."""
        result = await self._t.call(
            "monitoring_runs_list",
            {
                "p_start": start,
                "p_end": end,
                "p_function_ids": function_ids,
                "p_user_id": user_id,
                "p_status": status,
                "p_after_started": after[0] if after else None,
                "p_after_run": after[1] if after else None,
                "p_limit": limit,
                "p_bill_all_steps": bill_all_steps,
            },
        )
        return list(result)

    async def detail(
        self, *, run_id: str, user_id: str | None, bill_all_steps: bool
    ) -> dict[str, Any] | None:
        """One run with all the recorder kept; None when unknown (or, for a user, not theirs)."""
        result = await self._t.call(
            "monitoring_run_detail",
            {"p_run_id": run_id, "p_user_id": user_id, "p_bill_all_steps": bill_all_steps},
        )
        return None if result is None else dict(result)

    async def hourly(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        function_ids: list[str] | None,
        user_id: str | None,
        bill_all_steps: bool,
    ) -> list[dict[str, Any]]:
        """Runs, failures and steps per UTC hour with runs (ranges of two days or less)."""
        result = await self._t.call(
            "monitoring_stats_hourly",
            {
                "p_start": start,
                "p_end": end,
                "p_function_ids": function_ids,
                "p_user_id": user_id,
                "p_bill_all_steps": bill_all_steps,
            },
        )
        return list(result)
