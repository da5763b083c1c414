"""The monitoring handlers alone: a fake executions repository and a fake step context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import inngest
import pytest
import respx

from functions.monitoring.alerts import ALERT_LEASE_S, ALERTS_PER_POST, alerts_handler
from functions.monitoring.terminal import FUNCTION_CANCELLED, FUNCTION_FAILED, terminal_handler
from inngest_app.settings import Settings
from tests.fakes import fake_context, step_of

SYSTEM_EVENTS = next(
    parent / "shared" / "fixtures" / "inngest" / "system-events"
    for parent in Path(__file__).resolve().parents
    if (parent / "shared" / "fixtures" / "inngest").is_dir()
)
HOOK = "https://alerts.example.test/hook"
ALERT = {
    "id": 41,
    "kind": "failures",
    "window_end": "2026-03-01T10:00:00+00:00",
    "observed": 12,
    "threshold": 10,
}


class FakeExecutions:
    """Observations recorded; alerts claimed, notified and released."""

    def __init__(self, alerts: list[dict[str, Any]] | None = None) -> None:
        self.recorded: list[dict[str, Any]] = []
        self.alerts = list(alerts or [])
        self.claims: list[dict[str, Any]] = []
        self.notified: list[int] = []
        self.released: list[tuple[str, list[int]]] = []

    async def record(self, observations: list[dict[str, Any]]) -> int:
        self.recorded.extend(observations)
        return len(observations)

    async def refresh_rollups(self) -> int:
        return 0

    async def claim_alerts(self, **claim: Any) -> dict[str, Any]:
        self.claims.append(claim)
        return {"steps": 900, "failures": 12, "alerts": self.alerts}

    async def mark_notified(self, ids: list[int]) -> None:
        self.notified.extend(ids)

    async def release_alerts(self, *, claimant: str, alert_ids: list[int]) -> int:
        self.released.append((claimant, alert_ids))
        return len(alert_ids)


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("inngest-function-cancelled.docs-example.json", "cancelled"),
        ("inngest-function-failed.docs-example.json", "failed"),
    ],
)
async def test_a_system_event_records_how_the_run_ended(fixture: str, status: str) -> None:
    event = json.loads((SYSTEM_EVENTS / fixture).read_text())
    assert event["name"] in (FUNCTION_CANCELLED, FUNCTION_FAILED)
    repo = FakeExecutions()
    ctx = fake_context(event["name"], event["data"])
    result = await terminal_handler(ctx, repo=repo)  # type: ignore[arg-type]

    run_id = event["data"]["run_id"]
    assert result == {"run_id": run_id, "status": status}
    assert step_of(ctx).ids == ["record"]
    (observation,) = repo.recorded
    trigger = event["data"]["event"]
    assert observation["run_id"] == run_id
    assert observation["function_id"] == event["data"]["function_id"]
    assert (observation["event_id"], observation["event_name"]) == (trigger["id"], trigger["name"])
    assert observation["status"] == status
    assert observation["user_id"] == trigger["data"].get("userId")
    assert observation["error_message"] == event["data"]["error"]["message"]


async def test_alerts_are_claimed_posted_once_and_marked() -> None:
    repo = FakeExecutions([ALERT])
    settings = Settings(inngest_dev=True, alert_webhook_url=HOOK, alert_max_failures_per_hour=10)
    ctx = fake_context("inngest/scheduled.timer", run_id="run-7")
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=True) as mock:
            hook = mock.post(HOOK).respond(200)
            result = await alerts_handler(ctx, repo=repo, settings=settings, http=http)  # type: ignore[arg-type]

    assert result == {"steps": 900, "failures": 12, "alerts": 1}
    assert step_of(ctx).ids == ["refresh-rollups", "check-usage", "notify-webhook"]
    (claim,) = repo.claims
    assert (claim["claimant"], claim["lease_s"], claim["limit"]) == ("run-7", ALERT_LEASE_S, 50)
    assert ALERTS_PER_POST == 50 and claim["max_failures"] == 10
    body = json.loads(hook.calls.last.request.content)
    assert body["alerts"] == [ALERT]
    assert body["text"] == (
        "inngest-app alert: failures in the last hour to 2026-03-01T10:00:00+00:00: 12"
        " (threshold 10)"
    )
    assert repo.notified == [41] and repo.released == []


async def test_a_failed_delivery_releases_the_claim_for_the_next_run() -> None:
    repo = FakeExecutions([ALERT])
    settings = Settings(inngest_dev=True, alert_webhook_url=HOOK)
    step_ctx = fake_context("inngest/scheduled.timer", run_id="run-8")
    step_of(step_ctx).give_up["notify-webhook"] = "hook answered 503"
    async with httpx.AsyncClient() as http:
        with pytest.raises(inngest.NonRetriableError, match="hook answered 503"):
            await alerts_handler(step_ctx, repo=repo, settings=settings, http=http)  # type: ignore[arg-type]

    assert step_of(step_ctx).ids[-2:] == ["notify-webhook", "release-alerts"]
    assert repo.released == [("run-8", [41])] and repo.notified == []


async def test_without_a_webhook_nothing_is_posted() -> None:
    repo = FakeExecutions([ALERT])
    ctx = fake_context("inngest/scheduled.timer")
    async with httpx.AsyncClient() as http:
        result = await alerts_handler(
            ctx,
            repo=repo,  # type: ignore[arg-type]
            settings=Settings(inngest_dev=True),
            http=http,
        )
    assert result["alerts"] == 1
    assert step_of(ctx).ids == ["refresh-rollups", "check-usage"]
