"""`monitoring-alerts`: usage over the last hour against the thresholds, posted once.

The run claims the alerts it posts (for `ALERT_LEASE_S`); a failed post releases them for the
next run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import inngest

from inngest_app.alerts import post_alert, post_or_release
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.settings import Settings

ALERTS_CRON = "*/15 * * * *"
ALERT_LEASE_S = 15 * 60  # a claimed alert is another run's to post after this
ALERTS_PER_POST = 50


async def alerts_handler(
    ctx: inngest.Context, *, repo: ExecutionsRepo, settings: Settings, http: httpx.AsyncClient
) -> dict[str, Any]:
    """Refresh the roll-ups, claim the alerts due and post them to the alert webhook."""

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
            await post_alert(http, url, {"text": f"inngest-app alert: {text}", "alerts": alerts})
            await repo.mark_notified(ids)
            return len(alerts)

        await post_or_release(
            ctx, "notify-webhook", notify, repo=repo, alert_ids=ids, next_run="the next run"
        )
    return {"steps": usage["steps"], "failures": usage["failures"], "alerts": len(alerts)}
