"""Monitoring functions: terminal states the middleware cannot see, usage alerts, and runs
left started settled from Inngest's own record.

One module per job: `terminal`, `alerts`, `reconcile`; each body a module-level handler taking
its dependencies, bound here.
"""

from __future__ import annotations

from typing import Any

import inngest

from functions.monitoring.alerts import ALERTS_CRON, alerts_handler
from functions.monitoring.reconcile import RECONCILE_CRON, reconcile_handler
from functions.monitoring.terminal import FUNCTION_CANCELLED, FUNCTION_FAILED, terminal_handler
from inngest_app.monitoring.reconcile import InngestRuns
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.services import Services


def build(services: Services) -> list[inngest.Function[Any]]:
    """The monitoring functions, bound to `services`."""
    client, settings = services.inngest, services.settings
    key = settings.inngest_signing_key
    signing_key = key.get_secret_value() if key else None

    @client.create_function(
        fn_id="record-terminal-state",
        name="Monitoring: record failed and cancelled runs",
        trigger=[
            inngest.TriggerEvent(event=FUNCTION_FAILED),
            inngest.TriggerEvent(event=FUNCTION_CANCELLED),
        ],
        retries=5,
    )
    async def record_terminal_state(ctx: inngest.Context) -> dict[str, Any]:
        return await terminal_handler(ctx, repo=ExecutionsRepo(services.transport))

    @client.create_function(
        fn_id="monitoring-alerts",
        name="Monitoring: hourly usage alerts",
        trigger=inngest.TriggerCron(cron=ALERTS_CRON),
        retries=2,
    )
    async def monitoring_alerts(ctx: inngest.Context) -> dict[str, Any]:
        repo = ExecutionsRepo(services.transport)
        return await alerts_handler(ctx, repo=repo, settings=settings, http=services.http)

    @client.create_function(
        fn_id="reconcile-executions",
        name="Monitoring: settle runs left started",
        trigger=inngest.TriggerCron(cron=RECONCILE_CRON),
        retries=3,
    )
    async def reconcile_executions(ctx: inngest.Context) -> dict[str, Any]:
        return await reconcile_handler(
            ctx,
            repo=ExecutionsRepo(services.transport),
            runs=InngestRuns(services.http, api_url=settings.api_base_url, signing_key=signing_key),
            older_than_s=settings.monitoring_reconcile_after_s,
        )

    return [record_terminal_state, monitoring_alerts, reconcile_executions]
