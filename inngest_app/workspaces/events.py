"""The workspace events: names and payloads as the seed's senders use them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from inngest_app.events import EventPayload
from inngest_app.github.events import RepositoryRef

AGGREGATE = "aggregate/workspace-metrics"
REPOSITORY_CHANGE = "workspace/repository-change"
RECOMPUTE = "workspace/metrics.recompute"
CLEANUP = "cleanup/workspace-metrics"
# The nightly fan-out's continuation: a fresh run goes on where a run's slice ended.
FAN_OUT = "aggregate/workspace-metrics.fan-out"

RECOMPUTE_DAYS = 30  # a membership change recomputes this many days


class AggregateRequested(EventPayload):
    """Data of `aggregate/workspace-metrics`: one workspace, one UTC day (default yesterday)."""

    workspace_id: uuid.UUID = Field(..., alias="workspaceId")
    date: dt.date | None = None
    # the days ending at `date` to compute: the nightly run recomputes a trailing window, so
    # activity captured late (after its day was aggregated) is counted
    days: int = Field(1, ge=1, le=31)


class FanOutRequested(EventPayload):
    """Data of `aggregate/workspace-metrics.fan-out`: the day, and where the list goes on."""

    date: dt.date
    after: uuid.UUID


class RepositoryChanged(EventPayload):
    """Data of `workspace/repository-change`. The seed sends `repositoryId`; ours also names
    the repository, because a member may not be captured yet (no id to send)."""

    workspace_id: uuid.UUID = Field(..., alias="workspaceId")
    repository_id: int | None = Field(None, alias="repositoryId")
    action: Literal["added", "removed"]
    repository: RepositoryRef | None = None


class RecomputeRequested(EventPayload):
    """Data of `workspace/metrics.recompute`: the last `days` days of one workspace."""

    workspace_id: uuid.UUID = Field(..., alias="workspaceId")
    days: int = Field(RECOMPUTE_DAYS, ge=1, le=366)


class CleanupRequested(EventPayload):
    """Data of `cleanup/workspace-metrics` (nothing is required; a continuation names its day
    and round)."""

    today: dt.date | None = None
    round: int = Field(0, ge=0, le=10_000)
