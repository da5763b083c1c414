"""The workspace API's inputs (one model per body, path and query) and its public views."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from inngest_app.inputs import Line, QueryInt, UserId, refuse_null
from inngest_app.repos.workspaces import Workspace

MAX_METRICS_DAYS = 366
UNCAPPED = 1_000_000  # admins are not capped
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class NewWorkspace(BaseModel):
    """Body of `POST /api/workspaces`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Line = Field(..., min_length=1, max_length=200)
    slug: str | None = Field(None, pattern=r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")
    owner_id: UserId | None = Field(None, alias="ownerId")
    data_retention_days: int | None = Field(None, alias="dataRetentionDays", ge=1, le=3650)

    _not_null = field_validator("owner_id", mode="before")(refuse_null)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class MemberOptions(BaseModel):
    """Body of `POST /api/workspaces/{id}/repositories/{owner}/{name}` (optional)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    is_priority: StrictBool = Field(False, alias="isPriority")


class WorkspacePath(BaseModel):
    """`{workspace_id}` of `/api/workspaces/{workspace_id}/...`."""

    workspace_id: uuid.UUID


class MemberPath(WorkspacePath):
    """`/api/workspaces/{workspace_id}/repositories/{owner}/{name}` (GitHub's rules: 400)."""

    owner: Line = Field(max_length=100)
    name: Line = Field(max_length=100)


class MetricsQuery(BaseModel):
    """The query of `GET /api/workspaces/{id}/metrics`."""

    model_config = ConfigDict(extra="forbid")

    days: QueryInt = Field(30, ge=1, le=MAX_METRICS_DAYS)


def slugify(name: str) -> str:
    """A slug from a name: lower-case letters and digits joined by single hyphens."""
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:64].strip("-")
    return slug or "workspace"


def present(workspace: Workspace) -> dict[str, Any]:
    """The public view of a workspace."""
    return {
        "id": str(workspace.id),
        "name": workspace.name,
        "slug": workspace.slug,
        "ownerId": workspace.owner_id,
        "dataRetentionDays": workspace.data_retention_days,
        "createdAt": workspace.created_at.isoformat(),
        "repositories": [
            {
                "owner": m.owner,
                "name": m.name,
                "isPriority": m.is_priority,
                "addedAt": m.added_at.isoformat(),
                "repositoryId": m.repository_id,
                "captured": m.captured,
                "status": m.status,
                "lastSyncedAt": m.last_synced_at.isoformat() if m.last_synced_at else None,
            }
            for m in workspace.repositories
        ],
    }
