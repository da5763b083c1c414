"""Rows of the skills tables as the skills family reads them (see `repos.skills`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["queued", "running", "completed", "failed"]


class SkillRun(BaseModel):
    """One run of a skill for a user."""

    id: uuid.UUID
    user_id: str
    skill_name: str
    client_id: uuid.UUID | None
    status: RunStatus
    user_message: str
    options: dict[str, Any]
    tokens_in: int | None
    tokens_out: int | None
    error: str | None
    inngest_run_id: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    output_id: uuid.UUID | None
    resends: int = 0


class Output(BaseModel):
    """A stored output's record (its body is in output storage under `storage_key`)."""

    id: uuid.UUID
    run_id: uuid.UUID
    storage_key: str
    format: str
    title: str
    preview: str
    size_bytes: int
    created_at: dt.datetime
    user_id: str
    skill_name: str


class Client(BaseModel):
    """A user's client, named in a run."""

    id: uuid.UUID
    slug: str
    name: str
    owner_id: str
    created_at: dt.datetime | None = None


class Channel(BaseModel):
    """Where a user is notified: a Telegram chat id or a webhook URL."""

    id: uuid.UUID
    channel: Literal["telegram", "webhook"]
    target: str
    created_at: dt.datetime | None = None


class RunCreated(BaseModel):
    """The answer of `create_run`: the run, or why there is none."""

    ok: bool
    code: Literal["unknown_skill", "unknown_client", "rate_limited"] | None = None
    retry_after_s: int | None = None
    run: SkillRun | None = None


class RunStart(BaseModel):
    """`started` is true when this Inngest run holds the run (now or since an earlier attempt)."""

    started: bool
    run: SkillRun


class RunCancelled(BaseModel):
    """`changed`: this cancellation failed the run (else it was finished or someone else's)."""

    changed: bool
    run: SkillRun


class NotifyContext(BaseModel):
    """A finished run, its output and its user's channels."""

    run: SkillRun
    output: Output | None
    channels: list[Channel]


class Feedback(BaseModel):
    """One piece of feedback on an output."""

    id: uuid.UUID
    output_id: uuid.UUID
    skill_name: str
    overall: int
    accuracy: int | None
    quality: int | None
    issues: list[str]
    comment: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class SkillAlert(BaseModel):
    """A recorded alert: a degraded skill, or a stuck run."""

    id: int
    kind: Literal["skill_degraded", "run_stuck"]
    skill_name: str
    run_id: uuid.UUID | None
    message: str
    claimed_by: str | None = None
    claim_expires: dt.datetime | None = None
    notified_at: dt.datetime | None
    created_at: dt.datetime


class Metrics(BaseModel):
    """A skill's health from its feedback."""

    skill_name: str
    feedback_count: int
    users: int = 0
    avg_last_10: float | None
    health: Literal["unknown", "healthy", "degraded"]


class FeedbackApplied(BaseModel):
    """Metrics after a feedback, and the skill's un-notified alert if it is degraded."""

    error: Literal["skill_mismatch"] | None = None
    skill_name: str | None = None
    metrics: Metrics | None = None
    alert: SkillAlert | None = None


class Sweep(BaseModel):
    """What one stuck-run sweep did."""

    timed_out: list[SkillRun] = Field(default_factory=list)
    never_started: list[SkillRun] = Field(default_factory=list)
    resend: list[SkillRun] = Field(default_factory=list)
