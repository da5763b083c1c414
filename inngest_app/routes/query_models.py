"""The query API's contract: the models of its paths, query, bodies and answers."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inngest_app.inputs import QueryInt, UserId, refuse_null
from inngest_app.queries.config import QueryConfig

RESULTS_MAX_LIMIT = 1000


class RunQuery(QueryConfig):
    """Body of `POST /api/queries/run`: a query config, and (admins only) whose query it is."""

    user_id: UserId | None = Field(None, alias="userId")

    _not_null = field_validator("user_id", mode="before")(refuse_null)


class QueryPath(BaseModel):
    """`{query_id}` of `/api/queries/{query_id}/...`."""

    query_id: uuid.UUID


class ResultsQuery(BaseModel):
    """The query of `GET /api/queries/{id}/results`: keyset pages of rows."""

    model_config = ConfigDict(extra="forbid")

    limit: QueryInt = Field(100, ge=1, le=RESULTS_MAX_LIMIT)
    after: QueryInt | None = None


class QueryView(BaseModel):
    """A query, as the API shows it (`present`)."""

    id: uuid.UUID
    userId: str  # noqa: N815 (the API's camelCase)
    status: str
    pagesCompleted: int  # noqa: N815
    rowsInserted: int  # noqa: N815
    maxPages: int  # noqa: N815
    maxRows: int  # noqa: N815
    lastError: str | None  # noqa: N815
    errorCode: str | None  # noqa: N815
    resumable: bool
    resumeAfter: dt.datetime | None  # noqa: N815
    createdAt: dt.datetime  # noqa: N815
    updatedAt: dt.datetime  # noqa: N815
    completedAt: dt.datetime | None  # noqa: N815


class ResultsPage(BaseModel):
    """A page of `GET /api/queries/{id}/results`."""

    model_config = ConfigDict(extra="allow")
