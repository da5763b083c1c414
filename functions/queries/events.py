"""The query executor's events: a query asked for (or handed over), a query cancelled."""

from __future__ import annotations

import uuid

from pydantic import AliasChoices, Field

from inngest_app.events import EventPayload

QUERY_REQUESTED = "query/execute.requested"
QUERY_CANCELLED = "query/execute.cancelled"
# The query id of the triggering event, whichever key its sender used (the seed apps send queryId)
QUERY_ID_OF_EVENT = "(has(event.data.query_id) ? event.data.query_id : event.data.queryId)"


class QueryRequested(EventPayload):
    """Data of `query/execute.requested` (`queryId`, as the seed apps send it, works too)."""

    query_id: uuid.UUID = Field(validation_alias=AliasChoices("query_id", "queryId"))
    user_id: str | None = Field(None, alias="userId")
    # set on a continuation event: the token the previous run handed the query over with
    handover: str | None = Field(None, max_length=200)


class QueryCancelled(EventPayload):
    """Data of `query/execute.cancelled`."""

    query_id: uuid.UUID
