"""A skills handler alone (`skill-execute`'s failure handler): a fake skills repository, a fake
step context, Inngest's real `inngest/function.failed` capture around the run's event."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from functions.skills.endings import failed_handler
from inngest_app.repos.skills import SkillRun
from inngest_app.skills.events import SKILL_EXECUTE_FAILED
from tests.fakes import fake_context, step_of

FAILED = next(
    parent / "shared/fixtures/inngest/system-events/inngest-function-failed.docs-example.json"
    for parent in Path(__file__).resolve().parents
    if (parent / "shared/fixtures/inngest").is_dir()
)
RUN_ID = uuid.UUID("5b0f7c1e-2222-4d7e-8f00-1234567890ab")
AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


class FakeSkills:
    """One run; failing it keeps a finished run as it is (as `skill_run_fail` does)."""

    def __init__(self, status: str | None) -> None:
        self.run = None if status is None else _run(status)
        self.failed: list[tuple[uuid.UUID, str]] = []

    async def fail_run(self, run_id: uuid.UUID, error: str) -> SkillRun | None:
        self.failed.append((run_id, error))
        if self.run is None or run_id != self.run.id:
            return None
        if self.run.status in ("pending", "running"):
            self.run = self.run.model_copy(update={"status": "failed", "error": error})
        return self.run


def _run(status: str) -> SkillRun:
    return SkillRun.model_validate(
        {
            "id": RUN_ID,
            "user_id": "user-1",
            "skill_name": "summarize",
            "client_id": None,
            "status": status,
            "user_message": "hello",
            "options": {},
            "tokens_in": None,
            "tokens_out": None,
            "error": None,
            "inngest_run_id": "01HRUN",
            "created_at": AT,
            "started_at": AT,
            "completed_at": None,
            "output_id": None,
        }
    )


def _failure(run_id: Any) -> tuple[str, dict[str, Any]]:
    """The captured `inngest/function.failed`, its original event naming `run_id`."""
    event = json.loads(FAILED.read_text())
    data = copy.deepcopy(event["data"])
    data["event"]["data"] = {"runId": str(run_id)}
    return event["name"], data


async def test_a_run_failed_after_its_retries_is_marked_failed_and_announced_once() -> None:
    repo = FakeSkills("running")
    name, data = _failure(RUN_ID)
    ctx = fake_context(name, data)
    result = await failed_handler(ctx, repo=repo)  # type: ignore[arg-type]

    message = data["error"]["message"]
    assert result == {"runId": str(RUN_ID), "status": "failed"}
    assert repo.failed == [(RUN_ID, message)]
    step = step_of(ctx)
    assert step.ids == ["mark-failed", "send-failed"]
    (sent,) = step.events()
    assert (sent.name, sent.id, dict(sent.data)) == (
        SKILL_EXECUTE_FAILED,
        f"skill-failed-{RUN_ID}",  # a retried failure handler announces it once
        {"runId": str(RUN_ID), "error": message, "retryable": False},
    )


async def test_a_run_that_finished_meanwhile_is_left_as_it_is() -> None:
    repo = FakeSkills("completed")
    name, data = _failure(RUN_ID)
    ctx = fake_context(name, data)
    assert await failed_handler(ctx, repo=repo) == {"skipped": "run is completed"}  # type: ignore[arg-type]
    assert step_of(ctx).ids == ["mark-failed"] and repo.run and repo.run.status == "completed"


async def test_a_failure_naming_no_valid_run_touches_nothing() -> None:
    repo = FakeSkills("running")
    name, data = _failure("not-a-uuid")
    ctx = fake_context(name, data)
    result = await failed_handler(ctx, repo=repo)  # type: ignore[arg-type]
    assert result == {"skipped": "the failed run named no valid runId"}
    assert step_of(ctx).ids == [] and repo.failed == []
