"""What follows the runs: `feedback-process` (a skill's health from its users' scores) and
`monitor-executions` (stuck runs failed or sent again; every un-notified alert posted).

Alerts are posted by the run that claimed them (for `ALERT_LEASE_S`; its retries get the same
claim back), so each is posted once while deliveries succeed; after a failed post the claim is
released and the run fails, and the next `monitor-executions` posts it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
import inngest

from inngest_app.alerts import post_alert, post_or_release
from inngest_app.events import parse_event
from inngest_app.repos.skills import SkillsRepo, Sweep
from inngest_app.services import Services
from inngest_app.skills.events import FEEDBACK_PROCESS, FeedbackProcess, execute_event
from inngest_app.skills.flow import FINISH_TIMEOUT, start_timeout

HEALTH_THRESHOLD = 3.0  # average score of the last 10 distinct users below this: degraded
HEALTH_WINDOW_USERS = 10
HEALTH_MIN_USERS = 3  # fewer users than this: health "unknown" (one user never decides it)
MONITOR_CRON = "*/5 * * * *"
SWEEP_LIMIT = 100
ALERT_LEASE_S = 15 * 60  # a claimed alert is another run's to post after this
ALERTS_PER_POST = 50


@dataclasses.dataclass(frozen=True)
class AlertPoster:
    """Where alerts go: `url` on `http` (no URL: nothing is posted, nothing claimed by cron)."""

    http: httpx.AsyncClient
    url: str | None


def build(services: Services) -> list[inngest.Function[Any]]:
    """`feedback-process` and `monitor-executions`, bound to `services`."""
    start_after = start_timeout(services.settings.skill_runs_per_hour)

    def repo() -> SkillsRepo:
        return SkillsRepo(services.transport)

    def poster() -> AlertPoster:
        return AlertPoster(services.http, services.settings.alert_webhook_url)

    @services.inngest.create_function(
        fn_id="feedback-process",
        name="Skills: update skill health from feedback",
        trigger=inngest.TriggerEvent(event=FEEDBACK_PROCESS),
        retries=2,
    )
    async def feedback_process(ctx: inngest.Context) -> dict[str, Any]:
        return await feedback_handler(ctx, repo=repo(), poster=poster())

    @services.inngest.create_function(
        fn_id="monitor-executions",
        name="Skills: fail and re-send stuck runs",
        trigger=inngest.TriggerCron(cron=MONITOR_CRON),
        retries=1,
    )
    async def monitor_executions(ctx: inngest.Context) -> dict[str, Any]:
        return await monitor_handler(ctx, repo=repo(), poster=poster(), start_after=start_after)

    return [feedback_process, monitor_executions]


async def feedback_handler(
    ctx: inngest.Context, *, repo: SkillsRepo, poster: AlertPoster
) -> dict[str, Any]:
    """Recompute the skill's health; post its degraded alert if this run claimed it."""
    data = parse_event(FeedbackProcess, ctx.event.data, event=FEEDBACK_PROCESS)

    async def update_metrics() -> dict[str, Any] | None:
        applied = await repo.apply_feedback(
            data.feedback_id,
            data.skill_name,
            threshold=HEALTH_THRESHOLD,
            claimant=ctx.run_id,
            window=HEALTH_WINDOW_USERS,
            min_users=HEALTH_MIN_USERS,
            lease_s=ALERT_LEASE_S,
        )
        return None if applied is None else applied.model_dump(mode="json")

    applied = await ctx.step.run("update-metrics", update_metrics)
    if applied is None:
        return {"skipped": "no such feedback"}
    if applied["error"] == "skill_mismatch":
        raise inngest.NonRetriableError(
            f"skillName: the feedback is on skill {applied['skill_name']!r}"
        )
    alert = applied["alert"]
    if alert is not None:
        await post_claimed(ctx, [alert], repo=repo, poster=poster, text=alert["message"])
    return {"metrics": applied["metrics"], "alert": alert}


async def monitor_handler(
    ctx: inngest.Context, *, repo: SkillsRepo, poster: AlertPoster, start_after: dt.timedelta
) -> dict[str, Any]:
    """Fail or re-send stuck runs (one sweep, kept for this run's retries); then post every
    un-notified alert this run can claim."""

    async def sweep() -> dict[str, Any]:
        swept = await repo.sweep(
            start_timeout_s=int(start_after.total_seconds()),
            finish_timeout_s=int(FINISH_TIMEOUT.total_seconds()),
            limit=SWEEP_LIMIT,
            claimant=ctx.run_id,
        )
        return swept.model_dump(mode="json")

    swept = Sweep.model_validate(await ctx.step.run("sweep", sweep))
    if swept.resend:
        await ctx.step.send_event(
            "resend-queued",
            [execute_event(r, r.resends) for r in swept.resend],
        )
    alerted = 0
    if poster.url:

        async def claim() -> list[dict[str, Any]]:
            claimed = await repo.claim_alerts(
                claimant=ctx.run_id, lease_s=ALERT_LEASE_S, limit=ALERTS_PER_POST
            )
            return [a.model_dump(mode="json") for a in claimed]

        alerts = await ctx.step.run("claim-alerts", claim)
        text = "skill alerts: " + "; ".join(a["message"] for a in alerts)
        alerted = await post_claimed(
            ctx, alerts, repo=repo, poster=poster, text=text, step="post-alerts"
        )
    return {
        "timedOut": len(swept.timed_out),
        "resent": len(swept.resend),
        "failedQueued": len(swept.never_started),
        "alerted": alerted,
    }


async def post_claimed(
    ctx: inngest.Context,
    alerts: list[dict[str, Any]],
    *,
    repo: SkillsRepo,
    poster: AlertPoster,
    text: str,
    step: str = "post-alert",
) -> int:
    """Post alerts this run claimed and mark them notified; after a failed delivery the
    claims are released (the next monitor run posts them) and this run fails."""
    url = poster.url
    if not alerts or not url:
        return 0
    ids = [a["id"] for a in alerts]

    async def post() -> int:
        payload: dict[str, Any] = {"text": text, "alerts": alerts}
        if len(alerts) == 1:
            payload["alert"] = alerts[0]
        await post_alert(poster.http, url, payload)
        return await repo.mark_alerts_notified(ids)

    return await post_or_release(
        ctx, step, post, repo=repo, alert_ids=ids, next_run="the next monitor run"
    )
