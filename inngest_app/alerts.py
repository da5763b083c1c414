"""Posting an alert to the configured webhook (Slack-style `{"text": ...}` JSON), and the
claim-post-release round both alerting functions (monitoring, skills) run it in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
import inngest


async def post_alert(http: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> int:
    """POST `payload`; a 5xx or network fault raises (the step retries), a 4xx ends the run."""
    response = await http.post(url, json=payload)
    if response.status_code >= 500:
        raise RuntimeError(f"alert webhook answered {response.status_code}")
    if response.status_code >= 400:
        raise inngest.NonRetriableError(f"alert webhook refused the alert: {response.status_code}")
    return response.status_code


class ReleasesAlerts(Protocol):
    """A repository whose alert claims can be freed after a failed delivery."""

    async def release_alerts(self, *, claimant: str, alert_ids: list[int]) -> int: ...


async def post_or_release(
    ctx: inngest.Context,
    step: str,
    post: Callable[[], Awaitable[int]],
    *,
    repo: ReleasesAlerts,
    alert_ids: list[int],
    next_run: str,
) -> int:
    """Run `post` (it posts the alerts this run claimed and marks them notified) as step `step`.
    When its retries are spent, the claims are released in a step of their own, so that
    `next_run` posts them, and this run fails without retrying."""
    try:
        return int(await ctx.step.run(step, post))
    except inngest.StepError as exc:

        async def release() -> int:
            return await repo.release_alerts(claimant=ctx.run_id, alert_ids=alert_ids)

        await ctx.step.run("release-alerts", release)
        raise inngest.NonRetriableError(
            f"alert delivery failed ({exc.message}); released for {next_run}"
        ) from None
