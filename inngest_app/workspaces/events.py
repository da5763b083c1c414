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

RECOMPUTE_DAYS = 30  # a membership change recomputes this many days


class AggregateRequested(EventPayload):
    """Data of `aggregate/workspace-metrics`: one workspace, one UTC day (default yesterday)."""

    workspace_id: uuid.UUID = Field(..., alias="workspaceId")
    date: dt.date | None = None


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
    """Data of `cleanup/workspace-metrics` (nothing is required)."""
