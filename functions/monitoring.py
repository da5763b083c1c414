"""Monitoring functions: terminal states the middleware cannot see, and hourly usage alerts.

A run that fails after its last retry, or is cancelled while sleeping, makes no further call to
the app, so the middleware never sees its end: Inngest's `inngest/function.failed` and
`inngest/function.cancelled` system events carry it instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from inngest_app.alerts import post_alert
from inngest_app.events import TerminalEvent, parse_event
from inngest_app.monitoring.derive import ids, trigger_type
from inngest_app.monitoring.reconcile import InngestRuns, RunState, StaleRow, final_observation
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.services import Services

FUNCTION_FAILED = "inngest/function.failed"
FUNCTION_CANCELLED = "inngest/function.cancelled"
ALERTS_CRON = "*/15 * * * *"
ALERT_LEASE_S = 15 * 60  # a claimed alert is another run's to post after this
ALERTS_PER_POST = 50
RECONCILE_CRON = "*/10 * * * *"
RECONCILE_LIMIT = 200  # rows settled per run (the rest in the next)
RECONCILE_RETRY_S = 3600  # a row Inngest calls running (or does not know) is asked again after


def terminal_observation(name: str, data: TerminalEvent, *, at: dt.datetime) -> dict[str, Any]:
    """The observation that ends the run named by a system event."""
    trigger = data.event if isinstance(data.event, dict) else {}
    trigger_data = trigger.get("data")
    error = data.error
    return {
        "run_id": data.run_id,
        "function_id": data.function_id,
        "event_id": trigger.get("id"),
        "event_name": trigger.get("name"),
        "trigger_type": trigger_type(trigger.get("name"), trigger_data),
        **ids(trigger_data),
        "status": "cancelled" if name == FUNCTION_CANCELLED else "failed",
        "error_message": (error and (error.message or error.name)) or "unknown error",
        "error_stack": error.stack if error else None,
        "observed_at": at.isoformat(),
        "steps": {},
    }


def build(services: Services) -> list[inngest.Function[Any]]:
    """The monitoring functions, bound to `services`."""

    @services.inngest.create_function(
        fn_id="record-terminal-state",
        name="Monitoring: record failed and cancelled runs",
        trigger=[
            inngest.TriggerEvent(event=FUNCTION_FAILED),
            inngest.TriggerEvent(event=FUNCTION_CANCELLED),
        ],
        retries=5,
    )
    async def record_terminal_state(ctx: inngest.Context) -> dict[str, Any]:
        name = ctx.event.name
        data = parse_event(TerminalEvent, ctx.event.data, event=name)

        async def write() -> int:
            observation = terminal_observation(name, data, at=dt.datetime.now(dt.UTC))
            return await ExecutionsRepo(services.transport).record([observation])

        await ctx.step.run("record", write)
        return {"run_id": data.run_id, "status": "cancelled" if "cancelled" in name else "failed"}

    @services.inngest.create_function(
        fn_id="monitoring-alerts",
        name="Monitoring: hourly usage alerts",
        trigger=inngest.TriggerCron(cron=ALERTS_CRON),
        retries=2,
    )
    async def monitoring_alerts(ctx: inngest.Context) -> dict[str, Any]:
        settings = services.settings
        repo = ExecutionsRepo(services.transport)

        async def check() -> dict[str, Any]:
            return await repo.claim_alerts(
                window_end=dt.datetime.now(dt.UTC),
                max_steps=settings.alert_max_steps_per_hour,
                max_failures=settings.alert_max_failures_per_hour,
                bill_all_steps=settings.inngest_bill_all_steps,
                claimant=ctx.run_id,
                lease_s=ALERT_LEASE_S,
                limit=ALERTS_PER_POST,
            )

        async def refresh() -> int:
            # keeps the stats API's first request after a quiet spell fast
            return await repo.refresh_rollups()

        await ctx.step.run("refresh-rollups", refresh)
        usage = await ctx.step.run("check-usage", check)
        alerts = usage["alerts"]
        url = settings.alert_webhook_url
        if alerts and url:
            ids = [a["id"] for a in alerts]

            async def notify() -> int:
                text = "; ".join(
                    f"{a['kind']} in the last hour to {a['window_end']}: {a['observed']}"
                    f" (threshold {a['threshold']})"
                    for a in alerts
                )
                await post_alert(
                    services.http, url, {"text": f"inngest-app alert: {text}", "alerts": alerts}
                )
                await repo.mark_notified(ids)
                return len(alerts)

            try:
                await ctx.step.run("notify-webhook", notify)
            except inngest.StepError as exc:

                async def release() -> int:
                    return await repo.release_alerts(claimant=ctx.run_id, alert_ids=ids)

                await ctx.step.run("release-alerts", release)
                raise inngest.NonRetriableError(
                    f"alert delivery failed ({exc.message}); released for the next run"
                ) from None
        return {"steps": usage["steps"], "failures": usage["failures"], "alerts": len(alerts)}

    key = services.settings.inngest_signing_key
    signing_key = key.get_secret_value() if key else None

    @services.inngest.create_function(
        fn_id="reconcile-executions",
        name="Monitoring: settle runs left started",
        trigger=inngest.TriggerCron(cron=RECONCILE_CRON),
        retries=3,
    )
    async def reconcile_executions(ctx: inngest.Context) -> dict[str, Any]:
        return await reconcile_handler(
            ctx,
            repo=ExecutionsRepo(services.transport),
            runs=InngestRuns(
                services.http, api_url=services.settings.api_base_url, signing_key=signing_key
            ),
            older_than_s=services.settings.monitoring_reconcile_after_s,
        )

    return [record_terminal_state, monitoring_alerts, reconcile_executions]


async def reconcile_handler(
    ctx: inngest.Context, *, repo: ExecutionsRepo, runs: InngestRuns, older_than_s: int
) -> dict[str, Any]:
    """Rows still "started" `older_than_s` after they began: ask Inngest how each run ended and
    record it (a run still running, or unknown to Inngest, stays as it is)."""

    async def find() -> list[dict[str, Any]]:
        return await repo.stale(older_than_s=older_than_s, limit=RECONCILE_LIMIT)

    stale = [StaleRow.model_validate(r) for r in await ctx.step.run("find-stale", find)]
    if not stale:
        return {"stale": 0, "settled": 0, "open": 0, "unknown": 0}

    async def ask() -> dict[str, Any]:
        states = await runs.runs([r.run_id for r in stale])
        return {k: None if v is None else v.model_dump(mode="json") for k, v in states.items()}

    states = await ctx.step.run("ask-inngest", ask)
    now = dt.datetime.now(dt.UTC)
    observations = [
        o
        for row in stale
        if (
            o := final_observation(
                row,
                None
                if states.get(row.run_id) is None
                else RunState.model_validate(states[row.run_id]),
                now=now,
            )
        )
        is not None
    ]

    async def record() -> int:
        return await repo.record(observations) if observations else 0

    await ctx.step.run("record-final-states", record)
    settled = {o["run_id"] for o in observations}
    still_open = [row.run_id for row in stale if row.run_id not in settled]
    if still_open:

        async def defer() -> int:
            return await repo.reconcile_later(still_open, delay_s=RECONCILE_RETRY_S)

        await ctx.step.run("ask-again-later", defer)
    unknown = sum(1 for row in stale if states.get(row.run_id) is None)
    return {
        "stale": len(stale),
        "settled": len(observations),
        "open": len(stale) - len(observations) - unknown,
        "unknown": unknown,
    }
