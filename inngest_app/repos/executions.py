"""Function executions: the monitoring rows, written in batches, aggregated in SQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from inngest_app.store import Transport


class ExecutionsRepo:
    """Writes observations and reads aggregated stats."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def record(self, observations: list[dict[str, Any]]) -> int:
        """Fold observations into one row per run (one statement); the number of runs touched."""
        result = await self._t.call("executions_record", {"p_observations": observations})
        return int(result["runs"])

    async def stats(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        function_ids: list[str] | None,
        user_id: str | None,
        cost_per_step: Decimal,
        cost_per_run: Decimal,
        bill_all_steps: bool,
        include_users: bool,
        quota: int | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """The stats API's body for a window `[start, end)` and filters (`function_ids`: the
        ids one function filter matches; None for every function)."""
        result = await self._t.call(
            "executions_stats",
            {
                "p_start": start,
                "p_end": end,
                "p_function_ids": function_ids,
                "p_user_id": user_id,
                "p_cost_per_step": cost_per_step,
                "p_cost_per_run": cost_per_run,
                "p_bill_all_steps": bill_all_steps,
                "p_include_users": include_users,
                "p_quota": quota,
                "p_now": now,
            },
        )
        return dict(result)

    async def dashboard_extras(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        user_id: str | None,
        include_alerts: bool,
    ) -> dict[str, Any]:
        """Failed runs per function id, and (when asked) the alerts recorded in the window."""
        result = await self._t.call(
            "monitoring_dashboard_extras",
            {
                "p_start": start,
                "p_end": end,
                "p_user_id": user_id,
                "p_include_alerts": include_alerts,
            },
        )
        return dict(result)

    async def check_alerts(
        self,
        *,
        window_end: dt.datetime,
        max_steps: int | None,
        max_failures: int | None,
        bill_all_steps: bool,
    ) -> dict[str, Any]:
        """Usage in the hour before `window_end`; new alert rows for crossed thresholds."""
        result = await self._t.call(
            "monitoring_check_alerts",
            {
                "p_window_end": window_end,
                "p_max_steps": max_steps,
                "p_max_failures": max_failures,
                "p_bill_all_steps": bill_all_steps,
            },
        )
        return dict(result)

    async def refresh_rollups(self) -> int:
        """Redo the daily rollups of past days whose rows changed; the number of days redone."""
        return int((await self._t.call("monitoring_refresh_rollups", {}))["days"])

    async def mark_notified(self, alert_ids: list[int]) -> None:
        """Record that the webhook accepted these alerts."""
        await self._t.call("monitoring_mark_notified", {"p_ids": alert_ids})

    async def claim_alerts(
        self,
        *,
        window_end: dt.datetime,
        max_steps: int | None,
        max_failures: int | None,
        bill_all_steps: bool,
        claimant: str,
        lease_s: int,
        limit: int,
    ) -> dict[str, Any]:
        """Usage in the hour before `window_end`, a new alert row per crossed threshold, and every
        un-notified alert claimed for `claimant` (its retries get the same ones back; another
        run gets them once the claim expires or is released)."""
        result = await self._t.call(
            "monitoring_alerts_claim",
            {
                "p_window_end": window_end,
                "p_max_steps": max_steps,
                "p_max_failures": max_failures,
                "p_bill_all_steps": bill_all_steps,
                "p_claimant": claimant,
                "p_lease_s": lease_s,
                "p_limit": limit,
            },
        )
        return dict(result)

    async def release_alerts(self, *, claimant: str, alert_ids: list[int]) -> int:
        """After a failed delivery: `claimant`'s claims are free for the next run."""
        args = {"p_claimant": claimant, "p_ids": alert_ids}
        return int((await self._t.call("monitoring_alerts_release", args))["released"])

    async def stale(self, *, older_than_s: int, limit: int) -> list[dict[str, Any]]:
        """Rows still "started" `older_than_s` after their run started, oldest first."""
        args = {"p_older_than_s": older_than_s, "p_limit": limit}
        return list(await self._t.call("executions_stale", args))

    async def reconcile_later(self, run_ids: list[str], *, delay_s: int) -> int:
        """Ask again about these still-open rows only after `delay_s`."""
        args = {"p_run_ids": run_ids, "p_delay_s": delay_s}
        return int((await self._t.call("executions_reconcile_later", args))["deferred"])
