"""The skills API's contract: the models of its paths, bodies and answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from inngest_app.inputs import FiniteFloat, Int64, Line, Text, UserId, refuse_null

OptionKey = Annotated[Line, StringConstraints(min_length=1, max_length=64)]
Option = Annotated[Text, StringConstraints(max_length=4000)] | Int64 | FiniteFloat | bool


class RunRequest(BaseModel):
    """Body of `POST /api/runs` (a message over 32 kB is a 413)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    skill_name: Line = Field(alias="skillName", min_length=1, max_length=64)
    message: Text = Field(min_length=1)
    client_id: uuid.UUID | None = Field(None, alias="clientId")
    options: dict[OptionKey, Option] = Field(default_factory=dict, max_length=20)
    user_id: UserId | None = Field(None, alias="userId")

    _not_null = field_validator("user_id", mode="before")(refuse_null)


Score = Annotated[StrictInt, Field(ge=1, le=5)]


class FeedbackRequest(BaseModel):
    """Body of `POST /api/outputs/{id}/feedback`: scores 1 to 5."""

    model_config = ConfigDict(extra="forbid")

    overall: Score
    accuracy: Score | None = None
    quality: Score | None = None
    issues: list[Annotated[Text, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=20
    )
    comment: Text | None = Field(None, max_length=4000)


class RunPath(BaseModel):
    """`{run_id}` of `/api/runs/{run_id}`."""

    run_id: uuid.UUID


class OutputPath(BaseModel):
    """`{output_id}` of `/api/outputs/{output_id}`."""

    output_id: uuid.UUID


class RunAccepted(BaseModel):
    """202 of `POST /api/runs`."""

    runId: uuid.UUID  # noqa: N815 (the API's camelCase)
    status: str


class RunView(BaseModel):
    """A run, as `GET /api/runs/{id}` shows it."""

    runId: uuid.UUID  # noqa: N815
    userId: str  # noqa: N815
    skillName: str  # noqa: N815
    clientId: uuid.UUID | None  # noqa: N815
    status: str
    tokensIn: int | None  # noqa: N815
    tokensOut: int | None  # noqa: N815
    error: str | None
    outputId: uuid.UUID | None  # noqa: N815
    createdAt: dt.datetime  # noqa: N815
    startedAt: dt.datetime | None  # noqa: N815
    completedAt: dt.datetime | None  # noqa: N815


class OutputView(BaseModel):
    """An output, as `GET /api/outputs/{id}` shows it."""

    id: uuid.UUID
    runId: uuid.UUID  # noqa: N815
    skillName: str  # noqa: N815
    title: str
    format: str
    preview: str
    sizeBytes: int  # noqa: N815
    storageKey: str  # noqa: N815
    createdAt: dt.datetime  # noqa: N815
    content: str | None


class FeedbackCreated(BaseModel):
    """201 of `POST /api/outputs/{id}/feedback`."""

    feedbackId: uuid.UUID  # noqa: N815
