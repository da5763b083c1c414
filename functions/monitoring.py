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
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.services import Services

FUNCTION_FAILED = "inngest/function.failed"
FUNCTION_CANCELLED = "inngest/function.cancelled"
ALERTS_CRON = "*/15 * * * *"


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

        async def check() -> dict[str, Any]:
            return await ExecutionsRepo(services.transport).check_alerts(
                window_end=dt.datetime.now(dt.UTC),
                max_steps=settings.alert_max_steps_per_hour,
                max_failures=settings.alert_max_failures_per_hour,
                bill_all_steps=settings.inngest_bill_all_steps,
            )

        async def refresh() -> int:
            # keeps the stats API's first request after a quiet spell fast
            return await ExecutionsRepo(services.transport).refresh_rollups()

        await ctx.step.run("refresh-rollups", refresh)
        usage = await ctx.step.run("check-usage", check)
        alerts = usage["alerts"]
        if alerts and settings.alert_webhook_url:

            async def notify() -> int:
                text = "; ".join(
                    f"{a['kind']} in the last hour: {a['observed']} (threshold {a['threshold']})"
                    for a in alerts
                )
                assert settings.alert_webhook_url is not None  # noqa: S101 (checked above)
                await post_alert(
                    services.http,
                    settings.alert_webhook_url,
                    {"text": f"inngest-app alert: {text}", "alerts": alerts},
                )
                await ExecutionsRepo(services.transport).mark_notified([a["id"] for a in alerts])
                return len(alerts)

            await ctx.step.run("notify-webhook", notify)
        return {"steps": usage["steps"], "failures": usage["failures"], "alerts": len(alerts)}

    return [record_terminal_state, monitoring_alerts]
