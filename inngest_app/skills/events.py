"""The skills family's events: names and payloads exactly as clients of the seed send them."""

from __future__ import annotations

import uuid
from typing import Any

import inngest
from pydantic import Field

from inngest_app.events import EventPayload
from inngest_app.repos.skills_rows import SkillRun
from inngest_app.skills.flow import execute_event_id

SKILL_EXECUTE = "skill.execute"
SKILL_EXECUTE_COMPLETED = "skill.execute.completed"
SKILL_EXECUTE_FAILED = "skill.execute.failed"
FEEDBACK_PROCESS = "feedback.process"
FUNCTION_CANCELLED = "inngest/function.cancelled"  # the platform's, for cancelled executions


class SkillExecute(EventPayload):
    """`skill.execute {runId, skillName, userMessage, userId, clientId?, options?}`.

    The stored run is the source of truth for the message, client and options; the event names
    the run and must agree with it on skill and user."""

    run_id: uuid.UUID = Field(alias="runId")
    skill_name: str = Field(alias="skillName", min_length=1, max_length=64)
    user_id: str = Field(alias="userId", min_length=1, max_length=200)
    user_message: str | None = Field(None, alias="userMessage")
    client_id: uuid.UUID | None = Field(None, alias="clientId")
    options: dict[str, Any] | None = None
    resend: int = Field(0, ge=0, le=1000)  # the stuck-run monitor's resend number (0: first send)


class SkillExecuteCompleted(EventPayload):
    """`skill.execute.completed {runId, outputId, s3Key}` (`s3Key`: the output's storage key)."""

    run_id: uuid.UUID = Field(alias="runId")
    output_id: uuid.UUID = Field(alias="outputId")
    s3_key: str = Field(alias="s3Key", min_length=1)


class SkillExecuteFailed(EventPayload):
    """`skill.execute.failed {runId, error, retryable}`."""

    run_id: uuid.UUID = Field(alias="runId")
    error: str
    retryable: bool


class FeedbackProcess(EventPayload):
    """`feedback.process {feedbackId, skillName}`."""

    feedback_id: uuid.UUID = Field(alias="feedbackId")
    skill_name: str = Field(alias="skillName", min_length=1, max_length=64)


def execute_data(
    *,
    run_id: uuid.UUID,
    skill_name: str,
    user_message: str,
    user_id: str,
    client_id: uuid.UUID | None,
    options: dict[str, Any] | None,
    resend: int = 0,
) -> dict[str, Any]:
    """The data of a `skill.execute` event for a stored run (API and stuck-run monitor);
    `resend` is part of the idempotency key (see `skills.flow`)."""
    data: dict[str, Any] = {
        "runId": str(run_id),
        "skillName": skill_name,
        "userMessage": user_message,
        "userId": user_id,
        "resend": resend,
    }
    if client_id is not None:
        data["clientId"] = str(client_id)
    if options:
        data["options"] = options
    return data


def execute_event(run: SkillRun, resend: int = 0) -> inngest.Event:
    """The `skill.execute` event of a stored run's `resend`-th send (0: the API's own send),
    with its deterministic id."""
    return inngest.Event(
        name=SKILL_EXECUTE,
        data=execute_data(
            run_id=run.id,
            skill_name=run.skill_name,
            user_message=run.user_message,
            user_id=run.user_id,
            client_id=run.client_id,
            options=run.options,
            resend=resend,
        ),
        id=execute_event_id(run.id, resend),
    )
